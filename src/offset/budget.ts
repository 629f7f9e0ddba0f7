/**
 * This stream's share of a `memoryBudget`, in whole chunks: reserved before bytes are taken,
 * returned as soon as the bytes held no longer need it, all of it when the stream fails.
 */
import type { MemoryBudget } from '../memory-budget.js';

export class BudgetShare {
  private reserved = 0;

  constructor(
    private readonly budget: MemoryBudget,
    private readonly chunkSize: number,
  ) {}

  /**
   * Hands `chunk` to `append` in parts that fit the reservation, reserving whole chunks as
   * needed (and waiting while the budget is exhausted), and waiting for room after each.
   */
  async append(chunk: Uint8Array, held: () => number, append: (part: Uint8Array) => void, waitForRoom: () => Promise<void>, signal: AbortSignal): Promise<void> {
    let offset = 0;
    while (offset < chunk.byteLength) {
      const room = this.reserved - held();
      if (room <= 0) {
        await this.budget.acquire(this.chunkSize, signal);
        this.reserved += this.chunkSize;
        continue;
      }
      const part = chunk.subarray(offset, offset + room);
      append(part);
      offset += part.byteLength;
      await waitForRoom();
    }
  }

  /** Gives back the whole chunks that `held` bytes no longer need (all of them with `all`). */
  giveBack(held: number, all = false): void {
    const keep = all ? 0 : Math.ceil(held / this.chunkSize) * this.chunkSize;
    if (this.reserved <= keep) return;
    this.budget.release(this.reserved - keep);
    this.reserved = keep;
  }
}
