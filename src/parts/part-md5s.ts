/**
 * Hashing the parts a stream makes without keeping them: a resumed upload that was gone may have
 * been completed by the crashed process just before it died, so what is written again is only
 * hashed — as the parts the schedule cuts and as a whole — and checked against the object when
 * the input ends (`PartsProtocol.confirmCompleted`).
 */
import { createHash } from 'node:crypto';
import type { Digests } from '../checksum.js';
import type { CommittedLedger } from '../core/ledger.js';
import type { ResumableUploadError } from '../errors.js';
import type { WrittenObject } from './protocol.js';

/** Hex MD5 of `body`. */
export function md5Hex(body: readonly Uint8Array[]): string {
  const digest = createHash('md5');
  for (const piece of body) digest.update(piece);
  return digest.digest('hex');
}

/** The MD5 of each part a stream is cut into (per the part-size schedule), fed in order. */
export class PartMd5s {
  private readonly done: string[] = [];
  private hash = createHash('md5');
  private filled = 0;

  constructor(private readonly sizeOf: (partNumber: number) => number) {}

  update(pieces: readonly Uint8Array[]): void {
    for (let piece of pieces) {
      while (piece.byteLength > 0) {
        const size = this.sizeOf(this.done.length + 1);
        const taken = piece.subarray(0, size - this.filled);
        this.hash.update(taken);
        this.filled += taken.byteLength;
        piece = piece.subarray(taken.byteLength);
        if (this.filled === size) this.close();
      }
    }
  }

  /** Every part's MD5, the last one closed (a stream ending on a part boundary has no empty part). */
  finish(): string[] {
    if (this.filled > 0) this.close();
    return this.done;
  }

  private close(): void {
    this.done.push(this.hash.digest('hex'));
    this.filled = 0;
    this.hash = createHash('md5');
  }
}

/** The verify-only strategy's record of the input written again over an upload found gone. */
export class RewriteCheck {
  private readonly parts: PartMd5s;
  private readonly whole = createHash('md5');

  constructor(
    readonly gone: ResumableUploadError,
    sizeOf: (partNumber: number) => number,
  ) {
    this.parts = new PartMd5s(sizeOf);
  }

  /** Hashes what the ledger holds (as parts, as a whole, and into its stream digests), then drops it. */
  absorb(ledger: CommittedLedger): void {
    const from = ledger.buffer.releasedOffset;
    const pieces = ledger.view(from, ledger.buffer.bytesAppended - from);
    this.parts.update(pieces);
    for (const piece of pieces) this.whole.update(piece);
    ledger.release(ledger.buffer.bytesAppended);
  }

  written(size: number, digests: Digests): WrittenObject {
    return { size, digests, partMd5Hex: this.parts.finish(), md5Hex: this.whole.digest('hex') };
  }
}
