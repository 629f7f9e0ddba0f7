/**
 * The protocols the stream speaks, by name, in two registries: offset protocols (one file or
 * folder implementing `UploadProtocol`, driven by offset/driver.ts) and parts protocols (one
 * folder implementing `PartsProtocol`, driven by parts/driver.ts). A new protocol is its folder
 * plus one line here; the stream picks the driver by the registry that holds the name.
 */
import type { ResolvedOptions } from '../options/index.js';
import type { PartsProtocol } from '../parts/protocol.js';
import type { UploadProtocol } from '../offset/protocol.js';
import type { OffsetProtocolName, PartsProtocolName, ProtocolName } from '../protocol.js';
import { createAzureProtocol } from './azure/adapter.js';
import type { ResolvedAzure } from './azure/options.js';
import { createGcsProtocol } from './gcs/adapter.js';
import { createGcsMultipartParts } from './gcs-multipart/adapter.js';
import { createS3Parts } from './s3/adapter.js';
import { createTusProtocol } from './tus/adapter.js';

export const PROTOCOLS: Readonly<Record<OffsetProtocolName, () => UploadProtocol>> = {
  gcs: createGcsProtocol,
  tus: createTusProtocol,
};

/** Each parts protocol's adapter factory: it reads its own resolved options (S3: `options.s3`). */
export const PARTS_PROTOCOLS: Readonly<Record<PartsProtocolName, (options: ResolvedOptions) => PartsProtocol>> = {
  s3: createS3Parts,
  azure: (options) => createAzureProtocol(options.azure as ResolvedAzure),
  'gcs-multipart': createGcsMultipartParts,
};

/** Whether `value` names an offset protocol of the registry above. */
export function isOffsetProtocolName(value: unknown): value is OffsetProtocolName {
  return typeof value === 'string' && Object.hasOwn(PROTOCOLS, value);
}

/** Whether `value` names a parts protocol. */
export function isPartsProtocolName(value: unknown): value is PartsProtocolName {
  return typeof value === 'string' && Object.hasOwn(PARTS_PROTOCOLS, value);
}

/** Every protocol name, offset then parts, for messages that list them. */
export function protocolNames(): string[] {
  return [...Object.keys(PROTOCOLS), ...Object.keys(PARTS_PROTOCOLS)];
}

/** Whether `value` names any protocol the stream speaks (checkpoints, the CLI). */
export function isProtocolName(value: unknown): value is ProtocolName {
  return isOffsetProtocolName(value) || isPartsProtocolName(value);
}
