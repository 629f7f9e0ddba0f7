/**
 * CRC32C, loaded when first needed. The native module (@node-rs/crc32, SIMD) is a prebuilt binary
 * that `npm install --omit=optional` or an unsupported platform leaves out; the package must still
 * import and upload then. Without it the CRC32C is computed in JavaScript by crc-32 (slice-by-16,
 * a well-kept pure-JS package; bench/crc32c.mjs measured 0.6–0.75 GB/s against the native
 * 1.6–1.9 GB/s on a loaded 2-core machine), with one warning per process. A stream with
 * `checksum: false` or `'md5'` loads neither.
 */
import { createRequire } from 'node:module';

type Crc32c = (data: Uint8Array, state: number) => number;

const require = createRequire(import.meta.url);
let implementation: Crc32c | undefined;
let native: boolean | undefined;

/** The CRC32C of `data` continued from `state` (0 to start), as an unsigned 32-bit integer. */
export function crc32cUpdate(data: Uint8Array, state = 0): number {
  implementation ??= load();
  return implementation(data, state);
}

/** Whether the native CRC32C is in use (loads it if not loaded yet). */
export function isNativeCrc32c(): boolean {
  implementation ??= load();
  return native === true;
}

function load(): Crc32c {
  try {
    const { crc32c } = require('@node-rs/crc32') as { crc32c(data: Buffer, state?: number): number };
    native = true;
    return (data, state) => crc32c(data as Buffer, state);
  } catch (error) {
    native = false;
    process.emitWarning(
      `@node-rs/crc32 could not be loaded (${(error as Error).message.split('\n')[0]}); CRC32C is computed in JavaScript, ` +
        'several times slower. Install the package with its optional dependencies to use the native one.',
      { code: 'RWS_CRC32C_FALLBACK' },
    );
    const { buf } = require('crc-32/crc32c') as { buf(data: Uint8Array, seed?: number): number };
    // crc-32 answers a signed 32-bit integer; everything here speaks unsigned.
    return (data, state) => buf(data, state) >>> 0;
  }
}
