/**
 * What the stream adapter (resumable-write-stream.ts) drives: one interface, two drivers.
 * offset/driver.ts sends chunks in order to an offset the server reports (GCS, tus: a protocol
 * adapter per wire format, offset/protocol.ts); parts/driver.ts sends independent parts several at a
 * time (S3 multipart: a parts adapter per protocol, parts/protocol.ts). Both share the replay buffer, the retry policy, the typed errors, the
 * checksums and the checkpoints.
 */
import type { Checkpoint } from './checkpoint.js';
import type { ErrorContext, ResumableUploadError } from './errors.js';
import type { UploadResult } from './upload-answers.js';

/** What a driver knows of its progress. */
export interface DriverProgress {
  readonly bytesWritten: number;
  /** Bytes the server confirmed as persisted. */
  readonly bytesCommitted: number;
}

export interface UploadProgress extends DriverProgress {
  /**
   * `bytesCommitted` plus the body bytes of the requests in flight already handed to the network
   * (at most `bytesWritten`): it moves as bytes go out, between acknowledgements. It steps back
   * to `bytesCommitted` when a request fails (those bytes go again).
   */
  readonly bytesSent: number;
}

export interface RetryEvent {
  /** The attempt that failed, from 1; restarts at 1 whenever the committed offset advances. */
  readonly attempt: number;
  readonly error: ResumableUploadError;
  /** Bytes committed when the attempt failed: where the upload will resume at the earliest. */
  readonly offset: number;
  readonly delayMs: number;
}

/** How a driver tells the stream (and so the user) what happened. */
export interface UploaderHooks {
  onProgress(progress: DriverProgress): void;
  onRetry(event: RetryEvent): void;
  onCheckpoint(checkpoint: Checkpoint): void;
  /**
   * Resolves once every checkpoint emitted so far is stored (at once without a store); rejects with
   * the RWS_CHECKPOINT error when a save failed. A driver awaits it before the first byte of a new
   * session (so a crash can always resume) and before the finalizing request (so a stream that
   * fails for a checkpoint never has finalized anything).
   */
  checkpointsSaved(): Promise<void>;
}

export interface Uploader {
  readonly state: { readonly bytesWritten: number; readonly bytesCommitted: number; readonly complete: boolean };
  readonly buffer: { readonly bytesRetained: number };
  /** Highest number of bytes retained at once (see README, "Memory"). */
  readonly peakBytesRetained: number;
  readonly result: UploadResult | undefined;
  readonly redactedUrl: string;
  /** Settles once a resumed upload knows where the server stands (at once otherwise): the input's start offset. */
  readonly ready: Promise<number>;
  readonly isReady: boolean;
  /** The loop's failure, if it failed. */
  readonly failed: Error | undefined;
  /** Takes a written buffer by reference. */
  append(chunk: Uint8Array): void;
  /** With a shared memory budget: hands a write over in parts that fit this stream's reservation. */
  appendWithinBudget(chunk: Uint8Array): Promise<void>;
  hasRoom(): boolean;
  waitForRoom(): Promise<void>;
  /** The writer's end: what is left goes out, then the upload is finalized. */
  end(): void;
  /** The upload loop; resolves with the final answer, rejects with a typed error. Run once. */
  run(): Promise<UploadResult>;
  /** Aborts whatever is in flight and every waiter; never finalizes. */
  abort(reason: Error): void;
  /** Cancels the upload on the server; the status it answered, undefined when nothing was created. */
  deleteSession(): Promise<number | undefined>;
  context(): ErrorContext;
}
