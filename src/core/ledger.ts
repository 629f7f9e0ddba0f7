/**
 * The committed-prefix ledger both drivers share: bytes [released, written) are held by
 * reference; once the server has committed a prefix, its bytes are hashed (whole-stream digests,
 * fed in order), dropped, and a checkpoint is cut when the committed offset moved. The peak of
 * bytes held is kept for the README's memory figures.
 *
 * A held range whose own CRC32C was computed already (a part's digest, the final request's) is
 * combined on release instead of hashed again — only when it is released whole: the bytes held are
 * the very bytes that were hashed (nothing overwrites them), and a range released in pieces is
 * hashed as before, so the CRC32C state stays that of exactly the bytes [0, released).
 *
 * A confirmed range above the committed prefix (a part stored before an earlier one) can be
 * forgotten: its memory goes at once, and its CRC32C is combined when the prefix reaches it — only
 * when the digests need nothing else of its bytes (no MD5) and that CRC32C is known.
 */
import { StreamDigests, crc32cOf, type ChecksumOption, type Digests } from '../checksum.js';
import { ReplayBuffer } from '../replay-buffer.js';

/** What a checkpoint needs from the ledger: the hashed (= committed) offset and the CRC32C state. */
export interface LedgerMark {
  readonly bytesCommitted: number;
  readonly crc32cState?: number;
}

export class CommittedLedger {
  buffer: ReplayBuffer;
  digests: StreamDigests;
  peakBytesRetained = 0;
  private lastCheckpoint: number;
  /** Own CRC32C of held ranges, by start offset, and whether their bytes were forgotten. */
  private knownCrc32c = new Map<number, { readonly length: number; readonly crc32c: number | undefined; forgotten?: true }>();

  constructor(
    private readonly checksum: ChecksumOption,
    private readonly onCheckpoint: (mark: LedgerMark) => void,
    start: { offset: number; crc32cState: number } = { offset: 0, crc32cState: 0 },
  ) {
    this.buffer = new ReplayBuffer(start.offset);
    this.digests = new StreamDigests(checksum, start);
    this.lastCheckpoint = start.offset;
  }

  /** Starts over at `offset` (a resume from the committed offset): nothing below it is held or hashed again. */
  resumeAt(offset: number, crc32cState: number): void {
    this.buffer = new ReplayBuffer(offset);
    this.digests = new StreamDigests(this.checksum, { offset, crc32cState });
    this.lastCheckpoint = offset;
    this.knownCrc32c.clear();
  }

  /** Records the CRC32C of held bytes [start, start + length), so that releasing them need not hash them. */
  knowCrc32c(start: number, length: number, crc32c: number | undefined): void {
    if (crc32c === undefined || length === 0 || !this.digests.usesCrc32c || start < this.buffer.releasedOffset) return;
    this.knownCrc32c.set(start, { length, crc32c });
  }

  /**
   * Drops held bytes [start, start + length) ahead of the committed offset, when the whole-stream
   * digests can do without them (see the class comment); whether it did.
   */
  forget(start: number, length: number): boolean {
    if (this.digests.needsBytes || start < this.buffer.releasedOffset || length === 0) return false;
    const known = this.knownCrc32c.get(start);
    if (this.digests.usesCrc32c && known?.length !== length) return false;
    this.knownCrc32c.set(start, { length, crc32c: known?.crc32c, forgotten: true });
    this.buffer.forget(start, start + length);
    return true;
  }

  append(chunk: Uint8Array): void {
    this.buffer.append(chunk);
    this.peakBytesRetained = Math.max(this.peakBytesRetained, this.buffer.bytesRetained);
  }

  /** Hashes and drops held bytes below `committed`, at most `maxBytes` of them; how many were released. */
  release(committed: number, maxBytes = Number.POSITIVE_INFINITY): number {
    const from = this.buffer.releasedOffset;
    const upTo = Math.min(committed, this.buffer.bytesAppended, from + maxBytes);
    if (upTo <= from) return 0;
    // Without digests only the offset moves: no views of the bytes are built.
    if (this.checksum === false) this.digests.skipKnown(upTo - from, undefined);
    else for (let at = from; at < upTo; ) at = this.hashFrom(at, upTo);
    for (const start of this.knownCrc32c.keys()) if (start < upTo) this.knownCrc32c.delete(start);
    this.buffer.release(upTo);
    return upTo - from;
  }

  /** Hashes (or combines) held bytes from `at` up to the end of a known range or the next one's start; where it stopped. */
  private hashFrom(at: number, upTo: number): number {
    const known = this.knownCrc32c.get(at);
    if (known !== undefined && at + known.length <= upTo) {
      if (known.forgotten) this.digests.skipKnown(known.length, known.crc32c);
      else this.digests.update(this.buffer.view(at, known.length), known.crc32c);
      return at + known.length;
    }
    const end = this.nextKnownStart(at, upTo);
    this.digests.update(this.buffer.view(at, end - at));
    return end;
  }

  /** Where the next known range after `at` starts, or `upTo`: bytes before it are hashed. */
  private nextKnownStart(at: number, upTo: number): number {
    let next = upTo;
    for (const start of this.knownCrc32c.keys()) if (start > at && start < next) next = start;
    return next;
  }

  /** Emits a checkpoint when the hashed offset moved past the last one (`force`: the first one, at any offset). */
  checkpoint(force = false): void {
    if (!force && this.digests.offset <= this.lastCheckpoint) return;
    this.lastCheckpoint = this.digests.offset;
    this.onCheckpoint(this.mark());
  }

  mark(): LedgerMark {
    return { bytesCommitted: this.digests.offset, ...(this.digests.usesCrc32c ? { crc32cState: this.digests.crc32cState } : {}) };
  }

  /**
   * The whole stream's digests once every byte is hashed, `rest` being the held bytes from the
   * hashed offset on; their CRC32C is kept, so that releasing them does not hash them again.
   */
  wholeDigests(rest: readonly Uint8Array[] = []): Digests {
    if (!this.digests.usesCrc32c || rest.length === 0) return this.digests.digestWith(rest);
    const crc32c = crc32cOf(rest);
    const { offset } = this.digests;
    if (sameMemory(rest, this.buffer.view(offset, this.buffer.bytesAppended - offset))) this.knowCrc32c(offset, this.buffer.bytesAppended - offset, crc32c);
    return this.digests.digestWith(rest, crc32c);
  }

  /** Bytes held from `start`, by reference. */
  view(start: number, length: number): Uint8Array[] {
    return this.buffer.view(start, length);
  }

  clear(): void {
    this.buffer.clear();
  }
}

/** Whether two lists of views cover the very same memory, piece by piece (so the same bytes). */
function sameMemory(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return a.length === b.length && a.every((piece, index) => {
    const other = b[index] as Uint8Array;
    return piece.buffer === other.buffer && piece.byteOffset === other.byteOffset && piece.byteLength === other.byteLength;
  });
}
