/** Writes at least this large are kept by reference; smaller ones that own their memory are copied into blocks. */
const BY_REFERENCE = 1024 * 1024;
/** Writes smaller than this are always copied: a stream written a byte at a time must not become millions of pieces. */
const TINY_WRITE = 8 * 1024;
const BLOCK_SIZE = 256 * 1024;

/**
 * Released blocks, shared by every ReplayBuffer of the process, so that a memory budget shared by
 * many streams still bounds what they hold: a stream's released block goes to whichever writes
 * next. Free blocks never exceed the bytes all buffers hold (`bytesHeld`): drained, they are dropped.
 */
const freeBlocks: Uint8Array[] = [];
let bytesHeld = 0;

/** Free blocks in the shared pool, for tests. */
export function freeBlockCount(): number {
  return freeBlocks.length;
}

/** One run of held bytes, `bytes[start, start + length)`: in a block of ours (`pooled`) or a buffer the writer handed over. */
interface Entry {
  readonly bytes: Uint8Array;
  readonly start: number;
  length: number;
  readonly pooled: boolean;
  /** Dropped ahead of the release point ({@link ReplayBuffer.forget}): only its length is left. */
  readonly forgotten?: true;
}

/**
 * Holds the bytes [released, written) of the stream. `view()` returns subarrays over them, so
 * every attempt (first send or replay) gets a fresh body at no copying cost; `release()` drops
 * whole runs once the server has confirmed them. Appending and releasing are amortised O(1); a
 * view costs O(runs it spans).
 *
 * A write under 1 MiB that is a buffer of its own (fs and socket streams allocate one per read) is
 * copied, once, into 256 KiB blocks that are reused once released. The writer's buffers then die
 * young: held by reference until their chunk was confirmed, they lived long enough to reach V8's
 * old generation, whose collections paused the stream for up to tens of milliseconds
 * (bench/RESULTS.md, "Shaped link"). Views into a larger buffer and writes of 1 MiB or more are
 * kept by reference: copying them costs CPU (~0.15–0.2 s per GiB here) and saves no collection.
 * Writes under 8 KiB are always copied. Free blocks are shared by the process's buffers and kept only up to the
 * bytes they all hold, so blocks never add more than the bytes held, and drained streams keep none.
 *
 * A view is valid until its bytes are released: released blocks are written again.
 */
export class ReplayBuffer {
  private readonly entries: Entry[] = [];
  /** Index of the first live entry (compacted lazily). */
  private head = 0;
  /** Stream offset of `entries[head]`'s first byte. */
  private headOffset: number;
  /** Stream offset up to which bytes are released (may fall inside `entries[head]`). */
  private released: number;
  private end: number;
  /** The block being filled: the last entry, while it has room. */
  private block: Entry | undefined;
  /** A block released while being filled: the next writes go on where it stopped. */
  private tail: { bytes: Uint8Array; start: number } | undefined;
  /** Bytes of forgotten entries above `released`: counted as appended, no longer held. */
  private forgottenBytes = 0;

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

  /** Bytes still held: [released, appended), less what was forgotten. */
  get bytesRetained(): number {
    return this.end - this.released - this.forgottenBytes;
  }

  append(chunk: Uint8Array): void {
    const size = chunk.byteLength;
    if (size === 0) return;
    this.end += size;
    bytesHeld += size;
    if (size >= BY_REFERENCE || (size >= TINY_WRITE && !ownsItsMemory(chunk))) {
      this.block = undefined;
      this.entries.push({ bytes: chunk, start: 0, length: size, pooled: false });
      return;
    }
    for (let copied = 0; copied < size; ) {
      const block = this.block ?? this.startBlock();
      const filled = block.start + block.length;
      const count = Math.min(size - copied, BLOCK_SIZE - filled);
      block.bytes.set(count === size ? chunk : chunk.subarray(copied, copied + count), filled);
      block.length += count;
      copied += count;
      if (filled + count === BLOCK_SIZE) this.block = undefined;
    }
  }

  /**
   * Subarrays covering stream bytes [start, start + length). Runs that lie side by side in one
   * buffer (views of a pool, slices of a file read whole) come out as one subarray, so a body goes
   * out in as few socket writes, and is hashed in as few calls, as its memory allows: no copy.
   * Throws RangeError when any of those bytes were released or not yet appended: that is a bug in
   * the caller, never data loss to paper over.
   */
  view(start: number, length: number): Uint8Array[] {
    if (start < this.released || start + length > this.end || length < 0) {
      throw new RangeError(
        `replay buffer holds [${this.released}, ${this.end}); asked for [${start}, ${start + length})`,
      );
    }
    const parts: Uint8Array[] = [];
    // The piece being gathered: `first` when it is one run's, else [runOffset, + runLength) of `first.buffer`.
    let first: Uint8Array | undefined;
    let runOffset = 0;
    let runLength = 0;
    const flush = () => {
      if (first === undefined) return;
      parts.push(runLength === first.byteLength ? first : Buffer.from(first.buffer, runOffset, runLength));
    };
    let offset = this.headOffset;
    let remaining = length;
    for (let index = this.head; index < this.entries.length && remaining > 0; index++) {
      const { bytes, start: at, length: size, forgotten } = this.entries[index] as Entry;
      if (offset + size > start) {
        if (forgotten) throw new RangeError(`replay buffer forgot [${offset}, ${offset + size}); asked for [${start}, ${start + length})`);
        const from = Math.max(0, start - offset);
        const to = Math.min(size, from + remaining);
        const address = bytes.byteOffset + at + from;
        if (first !== undefined && bytes.buffer === first.buffer && runOffset + runLength === address) runLength += to - from;
        else {
          flush();
          first = at === 0 && from === 0 && to === bytes.byteLength ? bytes : bytes.subarray(at + from, at + to);
          runOffset = address;
          runLength = to - from;
        }
        remaining -= to - from;
      }
      offset += size;
    }
    flush();
    return parts;
  }

  /**
   * Drops every byte below `offset`. Releasing less than before is a no-op. `offset` may not fall
   * inside a forgotten run (a RangeError: forgotten runs are whole confirmed ranges).
   */
  release(offset: number): void {
    if (offset > this.end) throw new RangeError(`cannot release up to ${offset}: only ${this.end} appended`);
    if (offset <= this.released) return;
    let forgotten = 0;
    while (this.head < this.entries.length) {
      const entry = this.entries[this.head] as Entry;
      if (this.headOffset + entry.length > offset) {
        if (entry.forgotten && this.headOffset < offset) throw new RangeError(`cannot release up to ${offset}: inside the forgotten [${this.headOffset}, ${this.headOffset + entry.length})`);
        break;
      }
      this.entries[this.head] = EMPTY;
      this.headOffset += entry.length;
      this.head++;
      if (entry.forgotten) forgotten += entry.length;
      else if (entry === this.block) {
        // Its room is still unwritten (and unviewed): a stream of tiny writes confirmed as they
        // come must not cost a new block per confirmation.
        this.block = undefined;
        this.tail = { bytes: entry.bytes, start: entry.start + entry.length };
      } else if (entry.pooled) this.recycle(entry.bytes);
    }
    bytesHeld -= offset - this.released - forgotten;
    this.forgottenBytes -= forgotten;
    this.released = offset;
    trimPool();
    // Compact once the dead prefix dominates, so a long stream keeps a short array.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
  }

  /**
   * Drops the held runs lying wholly inside [start, end) while bytes below them are still held (a
   * part the server confirmed before an earlier one): their offsets stay, their memory goes (a
   * pooled block back to the pool). Runs that reach outside the range, and the block being filled,
   * stay until released. Viewing forgotten bytes is a RangeError. How many bytes it dropped.
   */
  forget(start: number, end: number): number {
    let offset = this.headOffset;
    let dropped = 0;
    for (let index = this.head; index < this.entries.length && offset < end; index++) {
      const entry = this.entries[index] as Entry;
      const entryEnd = offset + entry.length;
      if (offset >= start && offset >= this.released && entryEnd <= end && !entry.forgotten && entry !== this.block) {
        this.entries[index] = { bytes: EMPTY.bytes, start: 0, length: entry.length, pooled: false, forgotten: true };
        dropped += entry.length;
        bytesHeld -= entry.length;
        if (entry.pooled) this.recycle(entry.bytes);
      }
      offset = entryEnd;
    }
    this.forgottenBytes += dropped;
    trimPool();
    return dropped;
  }

  /** Drops everything (destroy). */
  clear(): void {
    bytesHeld -= this.end - this.released - this.forgottenBytes;
    this.forgottenBytes = 0;
    this.entries.length = 0;
    this.block = undefined;
    this.tail = undefined;
    this.head = 0;
    this.headOffset = this.end;
    this.released = this.end;
    trimPool();
  }

  private startBlock(): Entry {
    // Unzeroed: only bytes written into a block are ever viewed.
    const { bytes, start } = this.tail ?? { bytes: freeBlocks.pop() ?? Buffer.allocUnsafeSlow(BLOCK_SIZE), start: 0 };
    this.tail = undefined;
    const block: Entry = { bytes, start, length: 0, pooled: true };
    this.entries.push(block);
    this.block = block;
    return block;
  }

  /** Keeps a released block for the next writes, as long as free blocks stay within the bytes held. */
  private recycle(bytes: Uint8Array): void {
    if ((freeBlocks.length + 1) * BLOCK_SIZE <= bytesHeld) freeBlocks.push(bytes);
  }
}

/**
 * A buffer allocated for this one write (what fs and socket streams hand over), as opposed to a
 * view into a larger buffer the writer keeps anyway (a pool, a file read whole): only the former
 * costs the garbage collector when held, so only it is worth a copy.
 */
function ownsItsMemory(chunk: Uint8Array): boolean {
  return chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength;
}

function trimPool(): void {
  while (freeBlocks.length * BLOCK_SIZE > bytesHeld) freeBlocks.pop();
}

const EMPTY: Entry = { bytes: new Uint8Array(0), start: 0, length: 0, pooled: false };
