/**
 * A memory budget shared by many streams: writers wait instead of allocating past it.
 *
 * Streams reserve whole chunks. A write that crosses a stream's reservation is split: the part
 * that fits completes the chunk being filled, which can then be sent, and only the rest waits.
 * Since a full chunk never needs more budget to be sent and confirmed (which returns budget),
 * streams sharing a budget cannot deadlock one another. Waiters are served first come, first
 * served, and leave the queue when their stream is aborted.
 */
export class MemoryBudget {
  private used = 0;
  private readonly waiters: Array<{ bytes: number; resolve: () => void; reject: (error: unknown) => void; signal: AbortSignal; onAbort: () => void }> = [];

  /** @param limit bytes that all streams using this budget may hold at once. */
  constructor(readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit <= 0) throw new RangeError(`Expected \`limit\` to be a positive integer, received ${String(limit)}`);
  }

  /** Bytes reserved right now. */
  get bytesReserved(): number {
    return this.used;
  }

  /** Highest number of bytes reserved at once. */
  peakBytesReserved = 0;

  /** Reserves `bytes`, waiting while the budget is exhausted; rejects with the signal's reason on abort. */
  acquire(bytes: number, signal: AbortSignal): Promise<void> {
    if (bytes > this.limit) return Promise.reject(new RangeError(`a reservation of ${bytes} bytes exceeds the whole memory budget of ${this.limit}`));
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.waiters.length === 0 && this.used + bytes <= this.limit) {
      this.take(bytes);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        bytes,
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(signal.reason);
          this.serve();
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
    this.serve();
  }

  private take(bytes: number): void {
    this.used += bytes;
    this.peakBytesReserved = Math.max(this.peakBytesReserved, this.used);
  }

  private serve(): void {
    while (this.waiters.length > 0) {
      const next = this.waiters[0] as (typeof this.waiters)[number];
      if (this.used + next.bytes > this.limit) return;
      this.waiters.shift();
      next.signal.removeEventListener('abort', next.onAbort);
      this.take(next.bytes);
      next.resolve();
    }
  }
}

/** A budget of `limit` bytes to share between streams (option `memoryBudget`). */
export function createMemoryBudget(limit: number): MemoryBudget {
  return new MemoryBudget(limit);
}
