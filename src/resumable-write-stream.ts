/**
 * The only file that knows node:stream: it adapts the Writable hooks to the uploader.
 * - `_write` hands the buffer over by reference and calls back once there is room (backpressure:
 *   while a full chunk waits behind the one in flight, the callback waits too).
 * - `_final` is the only place an upload is finalized; `_destroy` aborts and never finalizes,
 *   so a failed pipeline can't leave a truncated object that looks complete.
 */
import { Writable } from 'node:stream';
import type { Checkpoint } from './checkpoint.js';
import { AbortedError, CheckpointError } from './errors.js';
import { OffsetDriver } from './offset/driver.js';
import type { ResolvedOptions } from './options/index.js';
import { PartsDriver } from './parts/driver.js';
import { isPartsProtocolName, PARTS_PROTOCOLS, PROTOCOLS } from './protocols/index.js';
import { countSentBytes, type SentBytesCounter } from './sent-bytes.js';
import type { Transport } from './transport.js';
import type { UploadResult } from './upload-answers.js';
import type { DriverProgress, RetryEvent, UploadProgress, Uploader, UploaderHooks } from './uploader.js';

/** Bytes sent between two 'progress' events that report only sending. */
const SENT_PROGRESS_STEP = 256 * 1024;
/**
 * Bytes accepted between two turns of the event loop. A source that needs no I/O (bytes in memory,
 * a generator) feeds writes from microtasks only: without a turn, no request could go out and no
 * answer come in until the buffer is full — the first part waited for (queueSize + 1) parts to be
 * written (~0.4 s at 16 MiB, bench/RESULTS.md). One `setImmediate` per MiB costs next to nothing.
 */
const TURN_EVERY = 1024 * 1024;

export interface ResumableWriteStreamEvents {
  /** After every acknowledgement from the server, and as body bytes go out (`bytesSent`, every 256 KiB or so). */
  progress: [progress: UploadProgress];
  /** Before each backoff wait. */
  retry: [event: RetryEvent];
  /** After every acknowledgement: what a new process needs to resume. Holds the session URI. */
  checkpoint: [checkpoint: Checkpoint];
}

export interface CancelResult {
  /** The status the cancellation answered (GCS: 499, tus and S3: 204); undefined when no session was ever created. */
  readonly status: number | undefined;
}

export class ResumableWriteStream extends Writable {
  private readonly uploader: Uploader;
  private readonly running: Promise<UploadResult | undefined>;
  private readonly onSignalAbort: (() => void) | undefined;
  /** The checkpoint store's saves, one after another; the upload's end waits for the last. */
  private saving: Promise<void> = Promise.resolve();
  /** The first failed save: the stream fails with it, and nothing is finalized after it. */
  private saveFailure: CheckpointError | undefined;
  private readonly sent: SentBytesCounter;
  private lastSentReported = 0;
  private bytesSinceTurn = 0;

  /** @internal Use {@link createResumableWriteStream}. */
  constructor(private readonly options: ResolvedOptions, transport: Transport) {
    super({ ...(options.highWaterMark === undefined ? {} : { highWaterMark: options.highWaterMark }), decodeStrings: true });
    const hooks: UploaderHooks = {
      onProgress: (progress) => this.emitProgress(progress),
      onRetry: (event) => this.emit('retry', event),
      onCheckpoint: (checkpoint) => this.onCheckpoint(checkpoint),
      checkpointsSaved: () => this.checkpointsSaved(),
    };
    this.sent = countSentBytes(transport, () => this.onBytesSent(), () => this.listenerCount('progress') > 0);
    const { protocol } = options;
    this.uploader = isPartsProtocolName(protocol)
      ? new PartsDriver(options, PARTS_PROTOCOLS[protocol](options), this.sent.transport, hooks)
      : new OffsetDriver(options, PROTOCOLS[protocol](), this.sent.transport, hooks);
    // The loop runs from the start, waiting for data; a failure while no write or end is
    // pending still reaches the user, by destroying the stream.
    this.running = this.uploader.run().catch((error: Error) => {
      this.destroy(error);
      return undefined;
    });
    const { signal } = options;
    if (signal) {
      this.onSignalAbort = () => this.destroyDeliberately(this.abortedBySignal(signal));
      if (signal.aborted) queueMicrotask(this.onSignalAbort);
      else signal.addEventListener('abort', this.onSignalAbort, { once: true });
    }
  }

  private emitProgress(progress: DriverProgress): void {
    const bytesSent = Math.min(progress.bytesWritten, progress.bytesCommitted + this.sent.inFlight);
    this.lastSentReported = bytesSent;
    this.emit('progress', { ...progress, bytesSent } satisfies UploadProgress);
  }

  /** Between acknowledgements, a 'progress' per step of bytes sent, so a bar moves on a slow link. */
  private onBytesSent(): void {
    const { bytesWritten, bytesCommitted } = this.uploader.state;
    if (Math.min(bytesWritten, bytesCommitted + this.sent.inFlight) - this.lastSentReported < SENT_PROGRESS_STEP) return;
    this.emitProgress({ bytesWritten, bytesCommitted });
  }

  /** Bytes handed to the stream so far. */
  get bytesWritten(): number {
    return this.uploader.state.bytesWritten;
  }

  /** Bytes the server has confirmed as persisted. */
  get bytesCommitted(): number {
    return this.uploader.state.bytesCommitted;
  }

  /** Bytes held for a possible replay right now: [bytesCommitted, bytesWritten). */
  get bytesRetained(): number {
    return this.uploader.buffer.bytesRetained;
  }

  /** The most bytes held at once so far (see README, "Memory"). */
  get peakBytesRetained(): number {
    return this.uploader.peakBytesRetained;
  }

  /** The server's answer to the final request; set before `'finish'`. */
  get result(): UploadResult | undefined {
    return this.uploader.result;
  }

  /** The session URI with its query values redacted, safe to log. */
  get redactedUrl(): string {
    return this.uploader.redactedUrl;
  }

  /**
   * Where the input must start. Resuming with `resumeInput: 'from-committed'`: the checkpoint's
   * offset, to reopen your source at. Otherwise the server's committed offset once known (0 for a
   * fresh upload). Resolves after the status query a resumed upload starts with.
   */
  committedOffset(): Promise<number> {
    return this.uploader.ready.catch((error: unknown) => {
      // The caller hears of the failure here (a bad checkpoint, a gone session): the stream's
      // 'error' event for it must not also kill a program that has no listener yet.
      this.absorbError();
      throw error;
    });
  }

  /**
   * Aborts the upload (the stream errors with an AbortedError, nothing is finalized) and sends
   * DELETE to the session. Resolves with the status the server answered.
   */
  async cancel(): Promise<CancelResult> {
    // A completed upload has nothing to cancel; DELETE would only waste a request.
    if (this.uploader.state.complete) return { status: undefined };
    this.destroyDeliberately(
      new AbortedError(`the upload was cancelled after ${this.bytesCommitted} committed bytes; it was not finalized`, this.uploader.context()),
    );
    await this.running;
    return { status: await this.uploader.deleteSession() };
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.handOver([chunk], callback);
  }

  /** Several writes that queued while one waited for room: handed over in one call. */
  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.handOver(chunks.map(({ chunk }) => chunk), callback);
  }

  private handOver(chunks: Buffer[], callback: (error?: Error | null) => void): void {
    if (!this.uploader.isReady) {
      // A resumed upload first learns where the server stands; bytes wait until then.
      this.uploader.ready.then(() => this.handOver(chunks, callback), callback);
      return;
    }
    for (const chunk of chunks) this.bytesSinceTurn += chunk.byteLength;
    if (this.options.memoryBudget) {
      const appendAll = async () => {
        for (const chunk of chunks) await this.uploader.appendWithinBudget(chunk);
      };
      appendAll().then(() => this.callBackSoon(callback), callback);
      return;
    }
    try {
      for (const chunk of chunks) this.uploader.append(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    if (this.uploader.failed || !this.uploader.hasRoom()) {
      this.bytesSinceTurn = 0;
      this.uploader.waitForRoom().then(() => callback(), callback);
    } else this.callBackSoon(callback);
  }

  /** Calls the write back at once (the common case: no promise per write), or on the next turn of the event loop once a MiB was accepted since the last one. */
  private callBackSoon(callback: (error?: Error | null) => void): void {
    if (this.bytesSinceTurn < TURN_EVERY) return callback();
    this.bytesSinceTurn = 0;
    setImmediate(callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.uploader.ready
      .then(() => {
        this.uploader.end();
        return this.running;
      })
      .then(async (result) => {
        // Without a result the loop failed and destroyed the stream already.
        if (!result) return;
        // A finished upload can't be resumed: its checkpoint goes, after any save still running.
        await this.saving;
        await this.clearCheckpoint();
        callback();
      })
      .catch(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.onSignalAbort) this.options.signal?.removeEventListener('abort', this.onSignalAbort);
    if (!this.uploader.state.complete) {
      this.uploader.abort(error ?? new AbortedError('the stream was destroyed before the upload completed', this.uploader.context()));
    }
    // Wait for the loop to settle, so no request, socket or timer outlives 'close'.
    this.running.then(() => callback(error), () => callback(error));
  }

  /**
   * An abort the caller asked for (cancel(), its signal) is no accident: the stream is destroyed
   * with RWS_ABORTED, which `errored`, pipeline() and finished() report, but its 'error' event
   * does not crash a program that has no listener, as destroy() without an error doesn't.
   */
  private destroyDeliberately(error: AbortedError): void {
    this.absorbError();
    this.destroy(error);
  }

  private absorbError(): void {
    if (this.listenerCount('error') === 0) this.once('error', () => {});
  }

  private abortedBySignal(signal: AbortSignal): AbortedError {
    return new AbortedError(`the upload was aborted by its signal after ${this.bytesCommitted} committed bytes; it was not finalized`, {
      ...this.uploader.context(),
      cause: signal.reason,
    });
  }

  private onCheckpoint(checkpoint: Checkpoint): void {
    this.emit('checkpoint', checkpoint);
    const store = this.options.checkpointStore;
    if (!store) return;
    this.saving = this.saving.then(() => {
      if (this.saveFailure) return;
      return store.save(checkpoint).catch((error: unknown) => {
        this.saveFailure = new CheckpointError(`could not save the checkpoint: ${(error as Error).message}`, { ...this.uploader.context(), cause: error });
        this.destroy(this.saveFailure);
      });
    });
  }

  private async clearCheckpoint(): Promise<void> {
    try {
      await this.options.checkpointStore?.clear();
    } catch (error) {
      throw new CheckpointError(
        `the upload completed and was checked, but its checkpoint could not be removed: ${(error as Error).message}`,
        { ...this.uploader.context(), cause: error },
      );
    }
  }

  private async checkpointsSaved(): Promise<void> {
    await this.saving;
    if (this.saveFailure) throw this.saveFailure;
  }
}

// Typed `on`/`once`/`emit` for the stream's own events, on top of Writable's.
export interface ResumableWriteStream {
  on<K extends keyof ResumableWriteStreamEvents>(event: K, listener: (...args: ResumableWriteStreamEvents[K]) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once<K extends keyof ResumableWriteStreamEvents>(event: K, listener: (...args: ResumableWriteStreamEvents[K]) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
  off<K extends keyof ResumableWriteStreamEvents>(event: K, listener: (...args: ResumableWriteStreamEvents[K]) => void): this;
  off(event: string | symbol, listener: (...args: any[]) => void): this;
  emit<K extends keyof ResumableWriteStreamEvents>(event: K, ...args: ResumableWriteStreamEvents[K]): boolean;
  emit(event: string | symbol, ...args: any[]): boolean;
}
