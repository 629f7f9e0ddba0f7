// CRC32C: @node-rs/crc32 (SIMD) against the library's JavaScript fallback (crc-32's slice-by-16) and
// plain table-driven JavaScript (byte at a time, slice-by-8),
// 64 MiB in 64 KiB and 8 MiB pieces, median of 5. Prints one JSON line.
import { randomBytes } from 'node:crypto';
import { crc32c as simd } from '@node-rs/crc32';
import crc32cJsModule from 'crc-32/crc32c.js';

const fallback = (data, state) => crc32cJsModule.buf(data, state) >>> 0;

const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  tables[0][n] = c >>> 0;
}
for (let n = 0; n < 256; n++) for (let t = 1; t < 8; t++) tables[t][n] = tables[0][tables[t - 1][n] & 255] ^ (tables[t - 1][n] >>> 8);
const [t0, t1, t2, t3, t4, t5, t6, t7] = tables;

function byteAtATime(data, state = 0) {
  let crc = ~state >>> 0;
  for (let i = 0; i < data.length; i++) crc = t0[(crc ^ data[i]) & 255] ^ (crc >>> 8);
  return ~crc >>> 0;
}

function sliceBy8(data, state = 0) {
  let crc = ~state >>> 0;
  let i = 0;
  for (const end = data.length - (data.length % 8); i < end; i += 8) {
    const a = (crc ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24))) >>> 0;
    crc = t7[a & 255] ^ t6[(a >>> 8) & 255] ^ t5[(a >>> 16) & 255] ^ t4[a >>> 24] ^ t3[data[i + 4]] ^ t2[data[i + 5]] ^ t1[data[i + 6]] ^ t0[data[i + 7]];
  }
  for (; i < data.length; i++) crc = t0[(crc ^ data[i]) & 255] ^ (crc >>> 8);
  return ~crc >>> 0;
}

const data = randomBytes(64 * 1024 * 1024);
const results = {};
for (const [name, fn] of [['@node-rs/crc32', simd], ['crc-32 slice-by-16 (the fallback)', fallback], ['table, byte at a time', byteAtATime], ['table, slice-by-8', sliceBy8]]) {
  if (fn(Buffer.from('123456789')) !== 0xe3069283) throw new Error(`${name} computes a wrong CRC32C`);
  for (const piece of [64 * 1024, 8 * 1024 * 1024]) {
    const runs = [];
    for (let run = 0; run < 5; run++) {
      const started = performance.now();
      let state = 0;
      for (let offset = 0; offset < data.length; offset += piece) state = fn(data.subarray(offset, offset + piece), state);
      runs.push(performance.now() - started);
    }
    runs.sort((a, b) => a - b);
    results[`${name}, ${piece / 1024} KiB pieces`] = Math.round(64 / (runs[2] / 1000));
  }
}
process.stdout.write(`${JSON.stringify(results)}\n`);
