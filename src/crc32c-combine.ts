/**
 * CRC32C of a concatenation from the CRC32Cs of its pieces, without their bytes (zlib's
 * `crc32_combine`, with CRC32C's reflected polynomial): appending `length` zero bits to a CRC is
 * linear over GF(2), so it is a 32×32 bit matrix, squared once per bit of `length`. The parts
 * driver hashes each part for its own digest; the stream's CRC32C is then combined from those, so
 * no byte is hashed twice.
 */
const POLYNOMIAL = 0x82f63b78;

function times(matrix: Uint32Array, vector: number): number {
  let sum = 0;
  for (let row = 0; vector !== 0; row++, vector >>>= 1) if (vector & 1) sum ^= matrix[row] as number;
  return sum >>> 0;
}

function square(into: Uint32Array, matrix: Uint32Array): void {
  for (let row = 0; row < 32; row++) into[row] = times(matrix, matrix[row] as number);
}

/** The CRC32C of A followed by B, given `crcA`, `crcB` and B's length in bytes (a safe integer). */
export function crc32cCombine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB <= 0) return crcA >>> 0;
  // `odd` starts as the operator for one zero bit; two squarings make it one zero byte's.
  const odd = new Uint32Array(32);
  const even = new Uint32Array(32);
  odd[0] = POLYNOMIAL;
  for (let row = 1; row < 32; row++) odd[row] = 1 << (row - 1);
  square(even, odd);
  square(odd, even);
  let crc = crcA >>> 0;
  let remaining = lengthB;
  for (;;) {
    square(even, odd);
    if (remaining % 2 === 1) crc = times(even, crc);
    remaining = Math.floor(remaining / 2);
    if (remaining === 0) break;
    square(odd, even);
    if (remaining % 2 === 1) crc = times(odd, crc);
    remaining = Math.floor(remaining / 2);
    if (remaining === 0) break;
  }
  return (crc ^ crcB) >>> 0;
}
