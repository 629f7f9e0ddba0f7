/**
 * The life of one upload that both drivers share: the `ready` promise a resumed upload settles
 * once it knows where the server stands, the abort controller (combined with the user's
 * `signal`), the first failure and the two parked parties — the driver's loop waiting for an
 * event, the writer waiting for room. Once failed, every wait rejects at once, so nothing hangs.
 */
import { AbortedError, ResumeMismatchError, type ErrorContext, type ResumableUploadError } from '../errors.js';
import { Wakeup } from '../wakeup.js';

/** Answer bodies are read up to this many bytes (JSON object metadata, an XML error; more is never read): bounded memory. */
export const MAX_ANSWER_BYTES = 1024 * 1024;

export interface LifecycleOptions {
  /** The user's `signal`, if any: aborting it aborts everything in flight. */
  readonly signal: AbortSignal | undefined;
  /** What the driver would have done at the end ('finalized', 'completed'), for messages. */
  readonly finalVerb: string;
  readonly context: () => ErrorContext;
}

export class Lifecycle {
  readonly ready: Promise<number>;
  isReady = false;
  /** Aborted by `abort()`, by the user's signal, and by `cancelInFlight()`. */
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly loopWaiter = new Wakeup();
  private readonly roomWaiter = new Wakeup();
  private failure: Error | undefined;
  private settleReady!: { resolve(offset: number): void; reject(error: Error): void };

  constructor(private readonly options: LifecycleOptions) {
    this.signal = options.signal ? AbortSignal.any([this.controller.signal, options.signal]) : this.controller.signal;
    this.ready = new Promise((resolve, reject) => {
      this.settleReady = { resolve, reject };
    });
    this.ready.catch(() => {});
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  /** The upload knows where it starts: the input's start offset. */
  markReady(offset: number): void {
    this.settleReady.resolve(offset);
    this.isReady = true;
  }

  /** The first failure wins; every waiter is rejected with it. */
  fail(error: Error): void {
    this.failure ??= error;
    this.settleReady.reject(this.failure);
    this.loopWaiter.fail(this.failure);
    this.roomWaiter.fail(this.failure);
  }

  /** Stops every request in flight (a part that failed for good stops the others). */
  cancelInFlight(reason: Error): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  /** The user (or the stream) aborted: every request and waiter stops, with an AbortedError. */
  abort(reason: Error): void {
    this.cancelInFlight(reason);
    this.fail(this.abortError());
  }

  /** A failed loop's error: the first failure, or the abort if the signal fired, or `error`. */
  failWith(error: unknown): Error {
    if (!this.failure) this.fail(this.signal.aborted ? this.abortError() : (error as Error));
    return this.failure as Error;
  }

  abortError(): ResumableUploadError {
    const reason: unknown = this.signal.reason;
    if (reason instanceof AbortedError || reason instanceof ResumeMismatchError) return reason;
    const context = this.options.context();
    return new AbortedError(`the upload was aborted after ${context.bytesCommitted} committed bytes; it was not ${this.options.finalVerb}`, { ...context, cause: reason });
  }

  /** The loop parks until `wakeLoop()` (data, end, a request back) or a failure. */
  waitForEvent(): Promise<void> {
    return this.loopWaiter.wait(this.failure);
  }

  wakeLoop(): void {
    this.loopWaiter.wake();
  }

  waitForRoom(hasRoom: boolean): Promise<void> {
    if (!this.failure && hasRoom) return Promise.resolve();
    return this.roomWaiter.wait(this.failure);
  }

  /** Wakes a waiting writer once there is room again. */
  notifyRoom(hasRoom: boolean): void {
    if (this.roomWaiter.isWaiting && hasRoom) this.roomWaiter.wake();
  }
}
