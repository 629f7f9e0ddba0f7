/**
 * Digests of the whole stream (docs/PROTOCOL.md §7), independent of retries and replays: bytes are
 * hashed when the server confirms them (when the replay buffer releases them), so each byte is
 * hashed exactly once, in order, and the CRC32C state always describes the committed prefix —
 * which is what a checkpoint needs to resume the checksum after a crash. Bytes whose own CRC32C is
 * already known (a part's digest, a final request's) are combined into it, not hashed again.
 *
 * CRC32C comes from crc32c.ts (native when it loads, JavaScript otherwise); MD5 from node:crypto.
 */
import { createHash, type Hash } from 'node:crypto';
import { crc32cCombine } from './crc32c-combine.js';
import { crc32cUpdate } from './crc32c.js';

export type ChecksumOption = 'crc32c' | 'md5' | 'both' | false;

export interface Digests {
  /** Base64 of the big-endian CRC32C, as GCS reports `crc32c`. */
  readonly crc32c?: string;
  /** Base64 MD5, as GCS reports `md5Hash`. */
  readonly md5?: string;
}

export class StreamDigests {
  /** Stream offset up to which bytes were hashed. */
  offset: number;
  private crc: number;
  private readonly md5: Hash | undefined;

  constructor(
    readonly kind: ChecksumOption,
    start: { offset: number; crc32cState: number } = { offset: 0, crc32cState: 0 },
  ) {
    this.offset = start.offset;
    this.crc = start.crc32cState;
    this.md5 = kind === 'md5' || kind === 'both' ? createHash('md5') : undefined;
  }

  get usesCrc32c(): boolean {
    return this.kind === 'crc32c' || this.kind === 'both';
  }

  /** The raw CRC32C of bytes [0, offset): a checkpoint's `crc32cState`. */
  get crc32cState(): number {
    return this.crc;
  }

  /**
   * Hashes `parts`, the next bytes of the stream. `crc32c`, when given, is their own CRC32C,
   * already computed (a part's digest): it is combined instead of hashing them again.
   */
  update(parts: readonly Uint8Array[], crc32c?: number): void {
    let length = 0;
    for (const part of parts) {
      if (this.usesCrc32c && crc32c === undefined) this.crc = crc32cUpdate(part, this.crc);
      this.md5?.update(part);
      length += part.byteLength;
    }
    if (this.usesCrc32c && crc32c !== undefined) this.crc = crc32cCombine(this.crc, crc32c, length);
    this.offset += length;
  }

  /** Whether hashing needs the bytes themselves (MD5), not only their CRC32C and length. */
  get needsBytes(): boolean {
    return this.md5 !== undefined;
  }

  /**
   * Passes over the next `length` bytes without them: their own CRC32C (when the stream's digests
   * use one) is combined. Only without MD5, which needs every byte in order.
   */
  skipKnown(length: number, crc32c: number | undefined): void {
    if (this.md5 !== undefined) throw new Error('bytes hashed into an MD5 cannot be skipped');
    if (this.usesCrc32c) {
      if (crc32c === undefined) throw new Error('bytes skipped without their CRC32C');
      this.crc = crc32cCombine(this.crc, crc32c, length);
    }
    this.offset += length;
  }

  /** The digests of everything hashed plus `rest` (whose own CRC32C is `restCrc32c`), without consuming state. */
  digestWith(rest: readonly Uint8Array[], restCrc32c?: number): Digests {
    if (this.kind === false) return {};
    let crc = this.crc;
    const md5 = this.md5?.copy();
    let length = 0;
    for (const part of rest) {
      if (this.usesCrc32c && restCrc32c === undefined) crc = crc32cUpdate(part, crc);
      md5?.update(part);
      length += part.byteLength;
    }
    if (this.usesCrc32c && restCrc32c !== undefined) crc = crc32cCombine(crc, restCrc32c, length);
    return {
      ...(this.usesCrc32c ? { crc32c: crcToBase64(crc) } : {}),
      ...(md5 ? { md5: md5.digest('base64') } : {}),
    };
  }
}

export function crcToBase64(crc: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc >>> 0);
  return bytes.toString('base64');
}

/** The CRC32C in `digests` as a number (the inverse of {@link crcToBase64}); undefined when absent. */
export function crcFromDigests(digests: Digests): number | undefined {
  return digests.crc32c === undefined ? undefined : Buffer.from(digests.crc32c, 'base64').readUInt32BE(0);
}

/** The CRC32C of `parts` alone, from 0. */
export function crc32cOf(parts: readonly Uint8Array[]): number {
  let crc = 0;
  for (const part of parts) crc = crc32cUpdate(part, crc);
  return crc;
}

/** The first digest both sides have that differs, or undefined. */
export function findMismatch(ours: Digests, theirs: Digests): { name: 'crc32c' | 'md5'; ours: string; theirs: string } | undefined {
  for (const name of ['crc32c', 'md5'] as const) {
    const mine = ours[name];
    const reported = theirs[name];
    if (mine !== undefined && reported !== undefined && mine !== reported) return { name, ours: mine, theirs: reported };
  }
  return undefined;
}
