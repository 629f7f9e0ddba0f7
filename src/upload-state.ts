/**
 * The sans-I/O heart of every offset protocol: what to send next and what an answer means.
 * No timers, no sockets, no streams: every decision here is a pure function of the counters and
 * of an answer already translated by the protocol (protocol.ts), so it is tested by the thousand
 * in milliseconds (test/unit/upload-state.test.ts).
 *
 * Invariants (checked by the tests):
 * - bytesCommitted ≤ bytesSent ≤ bytesWritten, and bytesCommitted never decreases;
 * - every non-final request is exactly `chunkSize` long (a multiple of the protocol's alignment,
 *   256 KiB for GCS) and starts at bytesCommitted, so it is aligned "counted from K+1" after
 *   partial persistence too;
 * - only `end()` makes a request final; with a declared total, no non-final request reaches it
 *   (a request that reaches the total *is* the final one for the server).
 */
import { isRetryableStatus, type RetryExtras } from './retry.js';
import { formatContentRange } from './content-range.js';

export interface ChunkRequest {
  readonly kind: 'chunk';
  readonly start: number;
  readonly length: number;
  readonly final: boolean;
  /** `bytes a-b/*` (`/N` when final or declared): GCS's header, and every protocol's label in messages. */
  readonly contentRange: string;
}

export interface StatusQuery {
  readonly kind: 'query';
  readonly contentRange: string;
}

export type UploadRequest = ChunkRequest | StatusQuery;

/** An offset an answer reports: parsed, or why it could not be. */
export type PersistedOffset = { readonly ok: true; readonly persisted: number } | { readonly ok: false; readonly reason: string };

/**
 * Why a request failed, as far as the protocol can tell from the answer alone: `retryable`
 * (408, 429, 5xx…), `gone` (the session no longer exists), `ambiguous` (GCS: a 400 to a data
 * request is an expired session or a rejected request; a status query tells which),
 * `digest-refused` (the server refused to finalize: the digests sent differ from the bytes it
 * received), `rejected`.
 */
export type FailureKind = 'retryable' | 'gone' | 'ambiguous' | 'digest-refused' | 'rejected';

/**
 * An answer in the core's vocabulary; each protocol translates its wire answers into it
 * (protocol.ts). `complete`: the server finalized the object. `incomplete`: it holds `persisted`
 * bytes (undefined when the answer did not say).
 */
export type AnswerSummary =
  | { readonly status: number; readonly outcome: 'complete' }
  | { readonly status: number; readonly outcome: 'incomplete'; readonly persisted: PersistedOffset | undefined }
  | { readonly status: number; readonly outcome: 'failed'; readonly failure: FailureKind; readonly reason?: string };

/**
 * What an answer means. `accepted`: counters updated, plan the next request. `complete`: the
 * object is finalized. `requery`: a status query answered 308 without `Range` after bytes were
 * confirmed: wait a little and ask once more (docs/PROTOCOL.md §4). `check-session`: a 400 to a data
 * request is either an expired session or a rejected request; a status query tells which.
 */
export type Interpretation =
  | { readonly type: 'accepted' }
  | { readonly type: 'complete' }
  | { readonly type: 'requery' }
  | { readonly type: 'check-session' }
  | { readonly type: 'digest-refused' }
  | { readonly type: 'retryable'; readonly reason: string }
  | { readonly type: 'session-expired' }
  | { readonly type: 'rejected' }
  | { readonly type: 'protocol-error'; readonly reason: string };

/** Statuses after which the request is retried after a status query. */
const SESSION_GONE_STATUSES: ReadonlySet<number> = new Set([404, 410]);

export class UploadState {
  bytesWritten = 0;
  bytesCommitted = 0;
  /** Highest offset (exclusive) any request has carried; the server can't have more. */
  bytesSent = 0;
  ended = false;
  complete = false;
  finalAttempted = false;

  constructor(
    readonly chunkSize: number,
    readonly declaredTotal: number | undefined,
  ) {}

  /** A new session: the server holds nothing (the bytes written are all still held). */
  restart(): void {
    this.bytesCommitted = 0;
    this.bytesSent = 0;
    this.finalAttempted = false;
  }

  /** Counts written bytes. Returns a reason when the declared total is exceeded. */
  onWrite(length: number): string | undefined {
    this.bytesWritten += length;
    if (this.declaredTotal !== undefined && this.bytesWritten > this.declaredTotal) {
      return `${this.bytesWritten} bytes written, more than the declared totalSize ${this.declaredTotal}`;
    }
    return undefined;
  }

  /** Marks the end of the stream. Returns a reason when fewer bytes than declared were written. */
  onEnd(): string | undefined {
    this.ended = true;
    if (this.declaredTotal !== undefined && this.bytesWritten !== this.declaredTotal) {
      return `the stream ended after ${this.bytesWritten} bytes, but totalSize declared ${this.declaredTotal}`;
    }
    return undefined;
  }

  /**
   * Whether the writer must wait: more than a full chunk waits beyond the request in flight.
   * `unreleased` counts confirmed bytes still held (their hashing is deferred): they take room
   * too, so what is held stays within 2 × chunkSize + one write.
   *
   * A chunk that is exactly full still lets the writer go on: its next call may be `end()`, and
   * knowing that before the chunk is sent makes it the final request. Blocking there would send
   * it as an ordinary chunk and cost one more round trip, an empty request that only declares the
   * total, for every stream whose length is a multiple of the chunk size.
   */
  isFull(inFlightEnd: number, unreleased = 0): boolean {
    if (this.declaredTotal !== undefined && this.bytesWritten >= this.declaredTotal) return false;
    const waiting = this.bytesWritten - Math.max(this.bytesCommitted, inFlightEnd) + unreleased;
    return waiting > this.chunkSize;
  }

  /** The next request to send, or undefined when it must wait for more data (or `end()`). */
  nextRequest(): ChunkRequest | undefined {
    if (this.complete) return undefined;
    const start = this.bytesCommitted;
    const available = this.bytesWritten - start;
    if (this.ended) {
      if (available > this.chunkSize) return this.chunk(start, this.chunkSize, false);
      return this.chunk(start, available, true);
    }
    if (available < this.chunkSize) return undefined;
    if (this.declaredTotal !== undefined && start + this.chunkSize >= this.declaredTotal) return undefined;
    return this.chunk(start, this.chunkSize, false);
  }

  /** `bytes *\/*`, or `bytes *\/T` with a declared total (never the written count: see README). */
  statusQuery(): StatusQuery {
    return { kind: 'query', contentRange: formatContentRange(0, 0, this.declaredTotal) };
  }

  /** Records that a request is going out, before its answer is known. */
  onSend(request: UploadRequest): void {
    if (request.kind !== 'chunk') return;
    this.bytesSent = Math.max(this.bytesSent, request.start + request.length);
    if (request.final) this.finalAttempted = true;
  }

  interpretChunkAnswer(request: ChunkRequest, answer: AnswerSummary): Interpretation {
    switch (answer.outcome) {
      case 'complete':
        if (request.final) return this.onComplete();
        return { type: 'protocol-error', reason: `the server finalized the upload on a non-final request (status ${answer.status})` };
      case 'incomplete':
        if (answer.persisted !== undefined) return this.applyPersisted(answer.persisted);
        // No offset: nothing is persisted. From 0 that is a plain replay; after bytes were
        // confirmed it contradicts the server's earlier answers, so ask it before resending.
        if (this.bytesCommitted === 0) return { type: 'accepted' };
        return { type: 'retryable', reason: `${answer.status} without an offset after bytes were confirmed` };
      case 'failed':
        if (answer.failure === 'ambiguous') return { type: 'check-session' };
        if (answer.failure === 'digest-refused' && request.final) return { type: 'digest-refused' };
        return interpretFailure(answer);
    }
  }

  /**
   * @param isRequery whether this answers the second query after an answer without an offset.
   */
  interpretQueryAnswer(answer: AnswerSummary, isRequery: boolean): Interpretation {
    switch (answer.outcome) {
      case 'complete':
        if (this.finalAttempted) return this.onComplete();
        return { type: 'protocol-error', reason: `status query answered ${answer.status} (complete) before the final request was sent` };
      case 'incomplete':
        if (answer.persisted !== undefined) return this.applyPersisted(answer.persisted);
        if (this.bytesCommitted === 0) return { type: 'accepted' };
        if (!isRequery) return { type: 'requery' };
        return {
          type: 'protocol-error',
          reason: `status query answered ${answer.status} without an offset twice after ${this.bytesCommitted} bytes were confirmed and released`,
        };
      case 'failed':
        // A status query cannot be malformed by the data, so an ambiguous 400 to it is an expiry.
        if (answer.failure === 'ambiguous') return { type: 'session-expired' };
        return interpretFailure(answer);
    }
  }

  private chunk(start: number, length: number, final: boolean): ChunkRequest {
    const total = final ? this.bytesWritten : this.declaredTotal;
    return { kind: 'chunk', start, length, final, contentRange: formatContentRange(start, length, total) };
  }

  private onComplete(): Interpretation {
    this.complete = true;
    this.bytesCommitted = this.bytesWritten;
    return { type: 'complete' };
  }

  private applyPersisted(offset: PersistedOffset): Interpretation {
    if (!offset.ok) return { type: 'protocol-error', reason: offset.reason };
    return this.advanceTo(offset.persisted);
  }

  private advanceTo(persisted: number): Interpretation {
    if (persisted < this.bytesCommitted) {
      return {
        type: 'protocol-error',
        reason: `server reports ${persisted} bytes persisted after confirming ${this.bytesCommitted} (bytes already released)`,
      };
    }
    if (persisted > this.bytesSent) {
      return {
        type: 'protocol-error',
        reason: `server reports ${persisted} bytes persisted but only ${this.bytesSent} were sent`,
      };
    }
    this.bytesCommitted = persisted;
    return { type: 'accepted' };
  }
}

/** The shared reading of a status: retryable (retry.ts decides, with the protocol's extras), gone, or rejected. */
export function classifyStatus(status: number, extras?: RetryExtras): FailureKind {
  if (isRetryableStatus(status, extras)) return 'retryable';
  if (SESSION_GONE_STATUSES.has(status)) return 'gone';
  // Every other status, 3xx redirects included (never followed: the URI is a credential).
  return 'rejected';
}

function interpretFailure(answer: { status: number; failure: FailureKind; reason?: string }): Interpretation {
  switch (answer.failure) {
    case 'retryable':
      return { type: 'retryable', reason: answer.reason ?? `status ${answer.status}` };
    case 'gone':
      return { type: 'session-expired' };
    default:
      return { type: 'rejected' };
  }
}
