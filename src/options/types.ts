/**
 * Options of {@link createResumableWriteStream}, documented where they are declared (defaults and
 * what they cost), and the resolved form the drivers read. A protocol's own option (`s3`) is
 * declared in that protocol's folder (protocols/s3/options.ts).
 */
import type { Dispatcher } from 'undici';
import type { Checkpoint, CheckpointStore } from '../checkpoint.js';
import type { ChecksumOption } from '../checksum.js';
import type { MemoryBudget } from '../memory-budget.js';
import type { ProtocolName } from '../protocol.js';
import type { AzureOptions } from '../protocols/azure/options.js';
import type { GcsMultipartOptions } from '../protocols/gcs-multipart/options.js';
import type { S3Options } from '../protocols/s3/options.js';
import type { ResolvedProtocolOptions } from './protocols.js';

/** Creates a session lazily (on the first request), and again if it is gone while every byte is held. */
export type SessionFactory = () => Promise<string | URL>;

export interface RetryOptions {
  /**
   * Failed attempts retried in a row before giving up. The budget is restored whenever the
   * server's committed offset advances, so a long stream never dies of old, recovered faults.
   * @default 10
   */
  retries?: number;
  /** Delay before the first retry, in ms. @default 1000 */
  minTimeout?: number;
  /** Cap of the exponential delay, in ms (a `Retry-After` may ask for more, up to 60 s). @default 32000 */
  maxTimeout?: number;
  /** Growth of the delay per attempt. @default 2 */
  factor?: number;
  /** Multiply each delay by a random factor in [1, 2) (jitter), so many clients don't retry in step. @default true */
  randomize?: boolean;
  /** Longest time, in ms, spent retrying without the committed offset advancing. @default 600000 */
  maxRetryTime?: number;
  /**
   * Wait, in ms, before asking a second time when a status query answers 308 without `Range`
   * after bytes were confirmed (GCS: "wait a few seconds … and query a second time").
   * @default 2000
   */
  requeryDelay?: number;
}

export interface TimeoutOptions {
  /**
   * Longest wait, in ms, for an answer's headers after the body was sent or last made progress.
   * A stalled request is aborted and recovered. @default 60000
   */
  headersTimeout?: number;
  /** Longest pause, in ms, between two pieces of an answer's body. @default 60000 */
  bodyTimeout?: number;
}

export interface ResumableWriteStreamOptions {
  /**
   * The session URI (a credential: the stream never prints it whole), or an async factory that
   * creates one on the first request — and creates a new one, starting over, if the session is
   * gone (404/410) while every byte from offset 0 is still held (uploads within one chunk).
   * May be omitted when `resume` supplies a checkpoint (its URI is used).
   */
  url?: string | URL | SessionFactory;
  /**
   * The wire protocol. `'gcs'`: `Content-Range` + `308 Resume Incomplete` (Google Cloud Storage
   * JSON and XML APIs, Redivis, any compatible endpoint). `'tus'`: tus 1.0 (`PATCH` with
   * `Upload-Offset`, `HEAD`, deferred length; `url` is the upload URL, see `createTusUpload`).
   * `'s3'`: S3 multipart upload, parts in parallel (see `s3`; no `url`). `'azure'`: Azure Block
   * Blobs, blocks in parallel (`url` is the blob URL; see `azure`). `'gcs-multipart'`: GCS XML
   * API multipart upload, parts in parallel (see `gcs`; no `url`).
   * @default 'gcs', or 's3' when `s3` is given, 'azure' when `azure` is, 'gcs-multipart' when `gcs` is
   */
  protocol?: ProtocolName;
  /** Where and how to upload with `protocol: 's3'`. */
  s3?: S3Options;
  /** The credential with `protocol: 'azure'` when `url` carries no SAS, and the blob's Content-Type. */
  azure?: AzureOptions;
  /** Where and how to upload with `protocol: 'gcs-multipart'` (GCS XML API multipart upload; no `url`). */
  gcs?: GcsMultipartOptions;
  /**
   * Bytes per request: with `'gcs'` a positive multiple of 262144 (256 KiB), with `'tus'` any
   * positive integer, with `'s3'` the first part size, 5 MiB to 5 GiB (it doubles every 900
   * parts so an unknown length can reach S3's 5 TiB limit). Larger is faster (fewer round
   * trips); the stream retains at most about 2 × chunkSize, with S3 (queueSize + 1) × the
   * part size (see README, "Memory").
   * @default 8388608 (8 MiB)
   */
  chunkSize?: number;
  /**
   * Parts in flight at once, with a parts protocol (`'s3'`, `'azure'`; `s3.queueSize` is the same setting).
   * Memory: at most (queueSize + 1) × the current part size is held. Not for `'gcs'`/`'tus'`,
   * which send one request at a time.
   * @default 4
   */
  queueSize?: number;
  /**
   * The object's size when known in advance: sent as the total on every request. Writing more,
   * or ending with fewer, is a SizeMismatchError and the upload is never finalized.
   */
  totalSize?: number;
  /**
   * Extra request headers on every request to the session (not `content-range`/`content-length`).
   * With `'s3'`, each goes on the requests S3 takes it on (README, "S3 headers"); one no S3
   * request takes is a TypeError.
   */
  headers?: Record<string, string>;
  /** An undici Dispatcher (Agent, Pool, ProxyAgent). @default a shared keep-alive Agent */
  dispatcher?: Dispatcher;
  retry?: RetryOptions;
  timeouts?: TimeoutOptions;
  /** Aborts the in-flight request and any backoff; the upload is never finalized. */
  signal?: AbortSignal;
  /** The Writable's highWaterMark, in bytes. @default Node's default */
  highWaterMark?: number;
  /**
   * A budget shared with other streams (`createMemoryBudget(bytes)`): this stream reserves whole
   * chunks from it and its writer waits while it is exhausted. Must hold at least one chunk.
   */
  memoryBudget?: MemoryBudget;
  /**
   * Allow a plain `http:` session URI to a host that is not loopback. The URI is a credential:
   * over plain http anyone on the path can read it and write the object. @default false
   */
  allowInsecureHttp?: boolean;
  /**
   * Digests of the whole stream, sent as `X-Goog-Hash` with the final request (GCS refuses a
   * corrupt object before committing it) and compared with the digests the server reports.
   * CRC32C costs ~0.3 ms per MiB; MD5 ~1.5 ms per MiB and can't resume from an offset.
   * @default 'crc32c'
   */
  checksum?: ChecksumOption;
  /** Saves a checkpoint after every acknowledgement and clears it after success. */
  checkpointStore?: CheckpointStore;
  /**
   * Resume an upload a crashed process started: a checkpoint, or `true` to load it from
   * `checkpointStore` (no checkpoint stored: a fresh upload to `url`). The server is asked where
   * the session stands before anything is sent.
   */
  resume?: Checkpoint | true;
  /**
   * Where the input written to a resumed stream starts. `'from-start'`: you write everything
   * again from byte 0 (e.g. re-run gzip); the committed prefix is hashed, checked against the
   * checkpoint's CRC32C and skipped. `'from-committed'`: you reopen your source at
   * `await stream.committedOffset()` and write from there (CRC32C continues from the checkpoint;
   * MD5 can't). @default 'from-start'
   */
  resumeInput?: 'from-start' | 'from-committed';
}

/** The options once validated, defaults filled in; each protocol's own option under its name (`s3`). */
export interface ResolvedOptions extends ResolvedProtocolOptions {
  readonly protocol: ProtocolName;
  /** The session URI when given (or from the checkpoint); undefined with a factory. */
  readonly url: string | undefined;
  readonly sessionFactory: SessionFactory | undefined;
  readonly checksum: ChecksumOption;
  readonly checkpointStore: CheckpointStore | undefined;
  /** A checkpoint, `'from-store'` for `resume: true`, or undefined. */
  readonly resume: Checkpoint | 'from-store' | undefined;
  readonly resumeInput: 'from-start' | 'from-committed';
  readonly allowInsecureHttp: boolean;
  readonly memoryBudget: MemoryBudget | undefined;
  readonly chunkSize: number;
  /** Parts in flight with a parts protocol (its default when none is used). */
  readonly queueSize: number;
  readonly totalSize: number | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly dispatcher: Dispatcher | undefined;
  readonly retry: Readonly<Required<RetryOptions>>;
  readonly timeouts: Readonly<Required<TimeoutOptions>>;
  readonly signal: AbortSignal | undefined;
  readonly highWaterMark: number | undefined;
}
