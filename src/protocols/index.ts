/** The offset protocols the stream speaks, by name: a new one is one file and one line here (S3: part-uploader.ts). */
import type { OffsetProtocolName, ProtocolName, UploadProtocol } from '../protocol.js';
import { createGcsProtocol } from './gcs/adapter.js';
import { createTusProtocol } from './tus/adapter.js';

export const PROTOCOLS: Readonly<Record<OffsetProtocolName, () => UploadProtocol>> = {
  gcs: createGcsProtocol,
  tus: createTusProtocol,
};

/** Whether `value` names an offset protocol of the registry above. */
export function isOffsetProtocolName(value: unknown): value is OffsetProtocolName {
  return typeof value === 'string' && Object.hasOwn(PROTOCOLS, value);
}

/** Whether `value` names any protocol the stream speaks (checkpoints, the CLI). */
export function isProtocolName(value: unknown): value is ProtocolName {
  return value === 's3' || isOffsetProtocolName(value);
}
