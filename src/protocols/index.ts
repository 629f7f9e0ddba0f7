/** The offset protocols the stream speaks, by name: a new one is one file and one line here (S3: part-uploader.ts). */
import type { OffsetProtocolName, UploadProtocol } from '../protocol.js';
import { createGcsProtocol } from './gcs.js';
import { createTusProtocol } from './tus.js';

export const PROTOCOLS: Readonly<Record<OffsetProtocolName, () => UploadProtocol>> = {
  gcs: createGcsProtocol,
  tus: createTusProtocol,
};
