import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32cUpdate } from '../../src/crc32c.js';
import { crc32cCombine } from '../../src/crc32c-combine.js';

const crc = (bytes: Uint8Array) => crc32cUpdate(bytes, 0);
const joined = (a: Uint8Array, b: Uint8Array) => Buffer.concat([a, b]);

describe('crc32cCombine', () => {
  it('matches the CRC32C of the concatenation for empty, odd and part-sized lengths', () => {
    for (const [lengthA, lengthB] of [[0, 0], [0, 7], [7, 0], [1, 1], [3, 5], [13, 1021], [4096, 1], [1, 5 * 1024 * 1024 + 3]] as const) {
      const a = randomBytes(lengthA);
      const b = randomBytes(lengthB);
      expect(crc32cCombine(crc(a), crc(b), lengthB), `${lengthA} + ${lengthB}`).toBe(crc(joined(a, b)));
    }
  });

  it('knows the standard check value split anywhere ("123456789" → 0xE3069283)', () => {
    const check = Buffer.from('123456789');
    for (let cut = 0; cut <= check.length; cut++) {
      expect(crc32cCombine(crc(check.subarray(0, cut)), crc(check.subarray(cut)), check.length - cut)).toBe(0xe3069283);
    }
  });

  it('combines any pieces in order into the CRC32C of the whole (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), (pieces) => {
        const combined = pieces.reduce((state, piece) => crc32cCombine(state, crc(piece), piece.byteLength), 0);
        expect(combined).toBe(crc(Buffer.concat(pieces)));
      }),
      { numRuns: 300 },
    );
  });

  it('continues from a state exactly as hashing on would (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 500 }), fc.uint8Array({ maxLength: 500 }), (a, b) => {
        expect(crc32cCombine(crc(a), crc(b), b.byteLength)).toBe(crc32cUpdate(b, crc(a)));
      }),
      { numRuns: 300 },
    );
  });
});
