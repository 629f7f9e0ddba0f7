import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32cOf, crcToBase64 } from '../../src/checksum.js';
import { CommittedLedger } from '../../src/core/ledger.js';

const MiB = 1024 * 1024;
const noCheckpoint = () => undefined;

/** A ledger holding `bytes` as views into one larger buffer: kept by reference, never copied. */
function holding(bytes: Buffer, checksum: 'crc32c' | 'both' = 'crc32c'): CommittedLedger {
  const ledger = new CommittedLedger(checksum, noCheckpoint);
  for (let at = 0; at < bytes.length; at += MiB) ledger.append(bytes.subarray(at, Math.min(at + MiB, bytes.length)));
  return ledger;
}

describe('CommittedLedger: CRC32C combined from known ranges', () => {
  it('keeps crc32cState the raw CRC32C of [0, released) for any parts and release points (property)', () => {
    const bytes = randomBytes(64 * 1024);
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 0, max: 64 * 1024 }), { maxLength: 8 }),
        fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
        (sizes, releases, knownFlags) => {
          const ledger = new CommittedLedger('crc32c', noCheckpoint);
          ledger.append(bytes);
          let start = 0;
          sizes.forEach((size, index) => {
            const length = Math.min(size, bytes.length - start);
            if (knownFlags[index]) ledger.knowCrc32c(start, length, crc32cOf([bytes.subarray(start, start + length)]));
            start += length;
          });
          for (const committed of [...releases].sort((a, b) => a - b)) {
            ledger.release(committed);
            const { bytesCommitted, crc32cState } = ledger.mark();
            expect(crc32cState).toBe(crc32cOf([bytes.subarray(0, bytesCommitted)]));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("does not hash a part's bytes again on release: its own CRC32C is combined", () => {
    const bytes = randomBytes(3 * MiB);
    const ledger = holding(bytes);
    const part = bytes.subarray(0, 2 * MiB);
    ledger.knowCrc32c(0, part.length, crc32cOf([part]));
    const expected = crc32cOf([part]);
    // Bytes changed behind the ledger's back are not read again: the part's CRC32C is what counts.
    bytes.fill(0, 0, 16);
    ledger.release(2 * MiB);
    expect(ledger.mark()).toEqual({ bytesCommitted: 2 * MiB, crc32cState: expected });
  });

  it('hashes a known range released in pieces, and forgets known ranges on resume', () => {
    const bytes = randomBytes(2 * MiB);
    const ledger = holding(bytes);
    ledger.knowCrc32c(0, 2 * MiB, 0xdeadbeef);
    ledger.release(MiB);
    ledger.release(2 * MiB);
    expect(ledger.mark().crc32cState).toBe(crc32cOf([bytes]));

    const resumed = holding(bytes);
    resumed.knowCrc32c(0, MiB, 0xdeadbeef);
    resumed.resumeAt(0, 0);
    for (let at = 0; at < bytes.length; at += MiB) resumed.append(bytes.subarray(at, at + MiB));
    resumed.release(2 * MiB);
    expect(resumed.mark().crc32cState).toBe(crc32cOf([bytes]));
  });

  it("adopts the final request's CRC32C on release instead of hashing the tail twice, MD5 still hashed", () => {
    const bytes = randomBytes(3 * MiB);
    const ledger = holding(bytes, 'both');
    ledger.release(MiB);
    const original = crc32cOf([bytes]);
    const whole = ledger.wholeDigests(ledger.view(MiB, 2 * MiB));
    expect(whole.crc32c).toBe(crcToBase64(original));
    expect(whole.md5).toBe(createHash('md5').update(bytes).digest('base64'));
    // Changed behind the ledger's back after the final digest: not read again for the CRC32C.
    bytes.fill(0, MiB, MiB + 16);
    ledger.release(3 * MiB);
    expect(ledger.mark().crc32cState).toBe(original);
  });

  it('hashes on release when the final digest was taken over other memory than the held bytes', () => {
    const bytes = randomBytes(2 * MiB);
    const ledger = holding(bytes);
    ledger.wholeDigests([Buffer.from(bytes)]);
    bytes.fill(0, 0, 16);
    ledger.release(2 * MiB);
    expect(ledger.mark().crc32cState).toBe(crc32cOf([bytes]));
  });

  it('forgets known ranges ahead of the committed offset: the CRC32C state is as if every byte were hashed (property)', () => {
    const bytes = randomBytes(48 * 1024);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 6000 }), { minLength: 1, maxLength: 10 }), fc.array(fc.nat(), { minLength: 10, maxLength: 10 }), (sizes, order) => {
        const ledger = new CommittedLedger('crc32c', noCheckpoint);
        for (let at = 0; at < bytes.length; at += 4096) ledger.append(Buffer.from(bytes.subarray(at, at + 4096)));
        const parts: Array<{ start: number; length: number }> = [];
        for (let start = 0, index = 0; start < bytes.length && index < sizes.length; index++) {
          const length = Math.min(sizes[index] as number, bytes.length - start);
          ledger.knowCrc32c(start, length, crc32cOf([bytes.subarray(start, start + length)]));
          parts.push({ start, length });
          start += length;
        }
        // Parts stored in a shuffled order: those ahead of the prefix are forgotten, the prefix released.
        const pending = [...parts];
        const done = new Set<number>();
        let committed = 0;
        for (let turn = 0; pending.length > 0; turn++) {
          const [part] = pending.splice((order[turn % order.length] as number) % pending.length, 1) as [{ start: number; length: number }];
          done.add(part.start);
          if (part.start > committed) expect(ledger.forget(part.start, part.length)).toBe(true);
          while (done.has(committed)) committed = (parts.find((candidate) => candidate.start === committed) as { length: number }).length + committed;
          ledger.release(committed);
          expect(ledger.mark()).toEqual({ bytesCommitted: committed, crc32cState: crc32cOf([bytes.subarray(0, committed)]) });
        }
      }),
      { numRuns: 200 },
    );
  });

  it("forgets nothing the digests still need: with MD5, or without the range's CRC32C", () => {
    const bytes = randomBytes(2 * MiB);
    const both = holding(bytes, 'both');
    both.knowCrc32c(MiB, MiB, crc32cOf([bytes.subarray(MiB)]));
    expect(both.forget(MiB, MiB)).toBe(false);
    const unknown = holding(bytes);
    expect(unknown.forget(MiB, MiB)).toBe(false);
    const withoutDigests = new CommittedLedger(false, noCheckpoint);
    withoutDigests.append(bytes);
    expect(withoutDigests.forget(MiB, MiB)).toBe(true);
    withoutDigests.release(2 * MiB);
    expect(withoutDigests.mark().bytesCommitted).toBe(2 * MiB);
  });
});
