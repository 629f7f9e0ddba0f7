/** Writes smaller than this are copied into shared blocks instead of being kept one by one. */
const SMALL_WRITE = 8 * 1024;
const BLOCK_SIZE = 64 * 1024;

/**
 * Holds the bytes [released, written) of the stream by reference: the buffers the writer handed
 * over are never concatenated. `view()` returns subarrays over them, so every attempt (first send
 * or replay) gets a fresh body at no copying cost; `release()` drops whole buffers once the server
 * has confirmed them. Appending and releasing are amortised O(1); a view costs O(buffers it spans).
 *
 * Small writes (under 8 KiB) are the exception: they are copied, once, into 64 KiB blocks, so a
 * stream written a byte at a time does not become requests of a million one-byte buffers.
 */
export class ReplayBuffer {
  private readonly buffers: Uint8Array[] = [];
  /** Index of the first live buffer in `buffers` (compacted lazily). */
  private head = 0;
  /** Stream offset of `buffers[head]`'s first byte. */
  private headOffset: number;
  /** Stream offset up to which bytes are released (may fall inside `buffers[head]`). */
  private released: number;
  private end: number;
  /** The block small writes are copied into, and how much of it is used (it is the last buffer). */
  private block: Uint8Array | undefined;
  private blockUsed = 0;

  /** @param start stream offset of the first byte that will be appended (resuming from an offset). */
  constructor(start = 0) {
    this.headOffset = start;
    this.released = start;
    this.end = start;
  }

  /** Stream offset below which every byte was released. */
  get releasedOffset(): number {
    return this.released;
  }

  /** Stream offset one past the last byte appended. */
  get bytesAppended(): number {
    return this.end;
  }

  /** Bytes still held: [released, appended). */
  get bytesRetained(): number {
    return this.end - this.released;
  }

  append(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.end += chunk.byteLength;
    if (chunk.byteLength >= SMALL_WRITE) {
      this.block = undefined;
      this.buffers.push(chunk);
      return;
    }
    if (this.block === undefined || this.blockUsed + chunk.byteLength > this.block.byteLength) {
      this.block = new Uint8Array(BLOCK_SIZE);
      this.blockUsed = 0;
      this.buffers.push(this.block.subarray(0, 0));
    }
    this.block.set(chunk, this.blockUsed);
    this.blockUsed += chunk.byteLength;
    // The block's entry grows in place; views handed out earlier cover bytes that never change.
    this.buffers[this.buffers.length - 1] = this.block.subarray(0, this.blockUsed);
  }

  /**
   * Subarrays covering stream bytes [start, start + length). Throws RangeError when any of
   * those bytes were released or not yet appended: that is a bug in the caller, never data loss
   * to paper over.
   */
  view(start: number, length: number): Uint8Array[] {
    if (start < this.released || start + length > this.end || length < 0) {
      throw new RangeError(
        `replay buffer holds [${this.released}, ${this.end}); asked for [${start}, ${start + length})`,
      );
    }
    const parts: Uint8Array[] = [];
    let offset = this.headOffset;
    let remaining = length;
    for (let index = this.head; index < this.buffers.length && remaining > 0; index++) {
      const buffer = this.buffers[index] as Uint8Array;
      const bufferEnd = offset + buffer.byteLength;
      if (bufferEnd > start) {
        const from = Math.max(0, start - offset);
        const to = Math.min(buffer.byteLength, from + remaining);
        parts.push(from === 0 && to === buffer.byteLength ? buffer : buffer.subarray(from, to));
        remaining -= to - from;
      }
      offset = bufferEnd;
    }
    return parts;
  }

  /** Drops every byte below `offset`. Releasing less than before is a no-op. */
  release(offset: number): void {
    if (offset > this.end) throw new RangeError(`cannot release up to ${offset}: only ${this.end} appended`);
    if (offset <= this.released) return;
    this.released = offset;
    while (this.head < this.buffers.length) {
      const size = (this.buffers[this.head] as Uint8Array).byteLength;
      if (this.headOffset + size > offset) break;
      this.buffers[this.head] = EMPTY;
      this.headOffset += size;
      this.head++;
    }
    // The block is always the last buffer: once released, small writes start a new one.
    if (this.head >= this.buffers.length) this.block = undefined;
    // Compact once the dead prefix dominates, so a long stream keeps a short array.
    if (this.head > 1024 && this.head * 2 > this.buffers.length) {
      this.buffers.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Drops everything (destroy). */
  clear(): void {
    this.buffers.length = 0;
    this.block = undefined;
    this.head = 0;
    this.headOffset = this.end;
    this.released = this.end;
  }
}

const EMPTY = new Uint8Array(0);
