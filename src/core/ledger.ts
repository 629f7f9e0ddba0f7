/**
 * The committed-prefix ledger both drivers share: bytes [released, written) are held by
 * reference; once the server has committed a prefix, its bytes are hashed (whole-stream digests,
 * fed in order), dropped, and a checkpoint is cut when the committed offset moved. The peak of
 * bytes held is kept for the README's memory figures.
 */
import { StreamDigests, type ChecksumOption, type Digests } from '../checksum.js';
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
    this.digests.update(this.buffer.view(from, upTo - from));
    this.buffer.release(upTo);
    return upTo - from;
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

  /** The whole stream's digests once every byte is hashed. */
  wholeDigests(rest: readonly Uint8Array[] = []): Digests {
    return this.digests.digestWith(rest);
  }

  /** Bytes held from `start`, by reference. */
  view(start: number, length: number): Uint8Array[] {
    return this.buffer.view(start, length);
  }

  clear(): void {
    this.buffer.clear();
  }
}
