/**
 * The seam between the offset driver and one offset protocol's wire format.
 *
 * The core — replay buffer, retry policy, stream adapter, typed errors, checksums, checkpoints,
 * memory budget — decides *what* happens: which bytes go next, when to ask the server where it
 * stands, when to retry, what to release. A protocol decides only *how it looks on the wire*:
 * which method and headers carry a chunk, a status query and a cancellation, and what an answer
 * means, translated into the core's vocabulary ({@link AnswerSummary}).
 *
 * A protocol that moves bytes in order to an offset the server reports is one folder implementing
 * this interface (see protocols/gcs/adapter.ts, protocols/tus/adapter.ts), plus one line in the registry, `PROTOCOLS` in protocols/index.ts.
 * A factory creates one instance per upload, so an adapter may remember what the server told it
 * (tus: whether the server already knows the upload's length).
 */
import type { Digests } from '../checksum.js';
import type { TransportAnswer, TransportRequest } from '../transport.js';
import type { AnswerSummary, ChunkRequest, StatusQuery, UploadRequest } from './vocabulary.js';

/** Method and protocol headers of one request; the core adds the URL, body, user headers and signal. */
export interface WireRequest {
  readonly method: TransportRequest['method'];
  readonly headers: Readonly<Record<string, string>>;
}

export interface UploadProtocol {
  /** Every non-final chunk is a multiple of this many bytes (GCS: 256 KiB; tus: 1). */
  readonly chunkAlignment: number;
  /**
   * Whether to ask where the upload stands before the first chunk of a fresh upload (tus: the
   * answer tells whether the server already knows the length, which must then not be sent again).
   */
  readonly queriesBeforeFirstChunk: boolean;
  /**
   * Whether a finalized upload's answer can carry the object's size and digests (GCS: JSON
   * metadata or `X-Goog-Hash`; tus: never). When it can but a final answer did not, the driver
   * asks once more and checks that answer instead.
   */
  readonly reportsDigests: boolean;
  /**
   * The request carrying `chunk`'s bytes. `digests()` gives the whole stream's digests when
   * `chunk` is final (computed only if called); a protocol that can send them does (GCS:
   * `X-Goog-Hash`), so the server refuses a corrupt object before committing it.
   */
  chunkRequest(chunk: ChunkRequest, digests: () => Digests): WireRequest;
  /** The request asking how many bytes the server holds. */
  statusQuery(query: StatusQuery): WireRequest;
  /** The request that cancels the upload on the server (DELETE). */
  cancelRequest(): WireRequest;
  /** What `answer` (to `request`) means, in the core's vocabulary. Pure but for the adapter's own memory. */
  summarize(answer: TransportAnswer, request: UploadRequest): AnswerSummary;
  /**
   * Which digest the server refused, after `summarize` said `digest-refused` to a final chunk
   * sent as `wire`: undefined when that request carried no digest, which makes the refusal an
   * ordinary rejection.
   */
  refusedDigest(answer: TransportAnswer, wire: WireRequest): 'crc32c' | 'md5' | undefined;
  /** What a finalizing answer (or a status query's after it) says of the stored object. */
  storedObject(answer: TransportAnswer): StoredObject;
}

/** The stored object as a finalizing answer reports it; the driver checks it against what was written. */
export interface StoredObject {
  /** The answer's body, parsed when it is JSON (GCS object metadata), else the text. */
  readonly body: unknown;
  /** The stored size as the answer reports it, or undefined when it does not. */
  readonly size: unknown;
  /** The digests the answer reports (none for a protocol that reports none). */
  readonly digests: Digests;
  /** The answer should carry readable metadata but does not (cut short): the driver asks once more. */
  readonly unreadable: boolean;
}
