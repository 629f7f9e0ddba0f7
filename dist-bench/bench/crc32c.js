/**
 * CRC32C: the registry's SIMD implementation (@node-rs/crc32) against plain table-driven ones
 * (byte-at-a-time, and slice-by-8), on the same 64 MiB, in 16 KiB and 8 MiB pieces.
 * Run: npm run build && node dist-bench/crc32c.js (npm run bench:crc32c)
 */
import { randomBytes } from 'node:crypto';
import { crc32c as simd } from '@node-rs/crc32';
const TABLES = [];
for (let t = 0; t < 8; t++)
    TABLES.push(new Uint32Array(256));
for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++)
        c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    TABLES[0][n] = c >>> 0;
}
for (let n = 0; n < 256; n++) {
    for (let t = 1; t < 8; t++) {
        const previous = TABLES[t - 1][n];
        TABLES[t][n] = TABLES[0][previous & 255] ^ (previous >>> 8);
    }
}
const T0 = TABLES[0];
function tableDriven(data, state = 0) {
    let crc = ~state >>> 0;
    for (let i = 0; i < data.length; i++)
        crc = T0[(crc ^ data[i]) & 255] ^ (crc >>> 8);
    return ~crc >>> 0;
}
function sliceBy8(data, state = 0) {
    const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES;
    let crc = ~state >>> 0;
    let i = 0;
    const end8 = data.length - (data.length % 8);
    for (; i < end8; i += 8) {
        const a = (crc ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24))) >>> 0;
        crc = t7[a & 255] ^ t6[(a >>> 8) & 255] ^ t5[(a >>> 16) & 255] ^ t4[a >>> 24] ^
            t3[data[i + 4]] ^ t2[data[i + 5]] ^ t1[data[i + 6]] ^ t0[data[i + 7]];
    }
    for (; i < data.length; i++)
        crc = t0[(crc ^ data[i]) & 255] ^ (crc >>> 8);
    return ~crc >>> 0;
}
const data = randomBytes(64 * 1024 * 1024);
const check = Buffer.from('123456789');
for (const [name, fn] of [['@node-rs/crc32', simd], ['table (byte at a time)', tableDriven], ['table (slice-by-8)', sliceBy8]]) {
    if (fn(check) !== 0xe3069283)
        throw new Error(`${name} is wrong`);
    for (const piece of [16 * 1024, 8 * 1024 * 1024]) {
        const runs = [];
        for (let run = 0; run < 5; run++) {
            const started = performance.now();
            let state = 0;
            for (let offset = 0; offset < data.length; offset += piece)
                state = fn(data.subarray(offset, offset + piece), state);
            runs.push(performance.now() - started);
        }
        runs.sort((a, b) => a - b);
        const median = runs[2];
        console.log(`${name.padEnd(24)} pieces ${String(piece / 1024).padStart(5)} KiB: ${(64 / (median / 1000)).toFixed(0).padStart(6)} MiB/s (median of 5)`);
    }
}
