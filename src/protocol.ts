/**
 * The names of the protocols the stream speaks, in two families: offset protocols (the seam:
 * offset/protocol.ts) and parts protocols (parts/protocol.ts). The registries are in
 * protocols/index.ts.
 */

/** Protocols that send chunks in order to an offset the server reports: one `UploadProtocol` each (offset/protocol.ts). */
export type OffsetProtocolName = 'gcs' | 'tus';
/** Protocols that send independent parts in parallel: one `PartsProtocol` each (parts/protocol.ts). */
export type PartsProtocolName = 's3' | 'azure' | 'gcs-multipart';
/** Every protocol. */
export type ProtocolName = OffsetProtocolName | PartsProtocolName;
