/** The protocols the stream speaks, by name: a new protocol is one file and one line here. */
import type { ProtocolName, UploadProtocol } from '../protocol.js';
import { createGcsProtocol } from './gcs.js';
import { createTusProtocol } from './tus.js';

export const PROTOCOLS: Readonly<Record<ProtocolName, () => UploadProtocol>> = {
  gcs: createGcsProtocol,
  tus: createTusProtocol,
};
