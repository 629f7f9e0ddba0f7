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
import { formatContentRange } from '../content-range.js';
import type { AnswerSummary, ChunkRequest, FailureKind, Interpretation, PersistedOffset, StatusQuery, UploadRequest } from './vocabulary.js';

/** The only writer of its counters: the driver reads them and reports events through the methods. */
export class UploadState {
  private written = 0;
  private committed = 0;
  /** Highest offset (exclusive) any request has carried; the server can't have more. */
  private sent = 0;
  private isEnded = false;
  private isComplete = false;
  private finalAttempted = false;

  constructor(
    readonly chunkSize: number,
    readonly declaredTotal: number | undefined,
  ) {}

  get bytesWritten(): number {
    return this.written;
  }

  get bytesCommitted(): number {
    return this.committed;
  }

  get bytesSent(): number {
    return this.sent;
  }

  get ended(): boolean {
    return this.isEnded;
  }

  get complete(): boolean {
    return this.isComplete;
  }

  /** A new session: the server holds nothing (the bytes written are all still held). */
  restart(): void {
    this.committed = 0;
    this.sent = 0;
    this.finalAttempted = false;
  }

  /** A resume whose input starts at the committed offset: the bytes before it count as written. */
  startInputAt(offset: number): void {
    this.written = offset;
  }

  /**
   * Before the status query of a resume: the crashed process may have sent anything, so any
   * offset the server reports is taken; after it (`onResumeQueried`), nothing beyond it was sent.
   */
  onResumeQuery(): void {
    this.sent = Number.MAX_SAFE_INTEGER;
  }

  onResumeQueried(): void {
    this.sent = this.committed;
  }

  /** The resume found the upload finalized by the previous process: nothing is sent any more. */
  onFinishedBefore(): void {
    this.isComplete = true;
    this.finalAttempted = true;
  }

  /** The input written again over an upload finished before has ended: all of it is what the server holds. */
  onRewriteEnded(): void {
    this.committed = this.written;
  }

  /** Counts written bytes. Returns a reason when the declared total is exceeded. */
  onWrite(length: number): string | undefined {
    this.written += length;
    if (this.declaredTotal !== undefined && this.bytesWritten > this.declaredTotal) {
      return `${this.bytesWritten} bytes written, more than the declared totalSize ${this.declaredTotal}`;
    }
    return undefined;
  }

  /** Marks the end of the stream. Returns a reason when fewer bytes than declared were written. */
  onEnd(): string | undefined {
    this.isEnded = true;
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
    this.sent = Math.max(this.sent, request.start + request.length);
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
    this.isComplete = true;
    this.committed = this.written;
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
    this.committed = persisted;
    return { type: 'accepted' };
  }
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
