/**
 * `npm run demo`: the main job, end to end, on the embedded loopback server. A log-like source
 * goes through gzip into a resumable upload session while the server injects faults (a 503 mid-
 * body, a reset, partial persistence, a 429, a lost final answer). Progress and retries are shown;
 * at the end the stored object is compared with what was written.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, gunzipSync } from 'node:zlib';
import { createResumableWriteStream } from './index.js';
import { createTestServer } from './testing/index.js';
const MiB = 1024 * 1024;
const INPUT_BYTES = 148 * MiB; // gzips to about 64 MiB
/** Log lines with a random payload, so gzip output is large enough to need many chunks. */
function logSource(totalBytes) {
    let produced = 0;
    let line = 0;
    return new Readable({
        read() {
            if (produced >= totalBytes) {
                this.push(null);
                return;
            }
            const payload = randomBytes(48 * 1024).toString('base64');
            const lines = [];
            for (let offset = 0; offset < payload.length; offset += 64) {
                lines.push(`2026-11-22T02:39:00Z INFO line=${line++} shipper=demo payload=${payload.slice(offset, offset + 64)}\n`);
            }
            const block = Buffer.from(lines.join(''));
            produced += block.length;
            this.push(block);
        },
    });
}
/** Passes bytes through while hashing them. */
function hashing(hash) {
    return new Transform({
        transform(chunk, _encoding, callback) {
            hash.update(chunk);
            callback(null, chunk);
        },
    });
}
const mib = (bytes) => `${(bytes / MiB).toFixed(1)} MiB`;
async function main() {
    const faults = [
        { fault: 'return-503-after-12288K' },
        { fault: 'return-reset-connection', on: 4 },
        { fault: 'persist-only-2048K', on: 6 },
        { fault: 'return-429', on: 7, retryAfter: 1 },
        { fault: 'lose-final-answer' },
    ];
    const server = await createTestServer();
    const sessionUri = server.createSession({ bucket: 'demo-bucket', name: 'logs/2026-11-22.log.gz', faults });
    console.log(`loopback GCS server at ${server.url}; faults: ${faults.map((rule) => rule.fault).join(', ')}`);
    const stream = createResumableWriteStream({ url: sessionUri, retry: { minTimeout: 200, maxTimeout: 2000 } });
    console.log(`uploading ~${mib(INPUT_BYTES)} of logs through gzip to ${stream.redactedUrl}`);
    const started = performance.now();
    const interactive = process.stdout.isTTY;
    let lastLine = 0;
    stream.on('progress', ({ bytesWritten, bytesCommitted }) => {
        const now = performance.now();
        if (!interactive && now - lastLine < 1000)
            return;
        lastLine = now;
        const rate = bytesCommitted / MiB / ((now - started) / 1000);
        const text = `  written ${mib(bytesWritten)}, committed ${mib(bytesCommitted)} (${rate.toFixed(0)} MiB/s)`;
        if (interactive)
            process.stdout.write(`\r${text.padEnd(70)}`);
        else
            console.log(text);
    });
    stream.on('retry', ({ attempt, error, offset, delayMs }) => {
        const code = error.code ?? error.name;
        console.log(`${interactive ? '\n' : ''}  retry: attempt ${attempt} failed with ${code} at committed offset ${mib(offset)}; waiting ${delayMs} ms`);
    });
    const inputHash = createHash('sha256');
    const gzipHash = createHash('sha256');
    await pipeline(logSource(INPUT_BYTES), hashing(inputHash), createGzip(), hashing(gzipHash), stream);
    const seconds = (performance.now() - started) / 1000;
    if (interactive)
        process.stdout.write('\n');
    const object = server.object('demo-bucket', 'logs/2026-11-22.log.gz');
    const stored = object?.data ?? Buffer.alloc(0);
    const storedHash = createHash('sha256').update(stored).digest('hex');
    const gunzippedHash = createHash('sha256').update(gunzipSync(stored)).digest('hex');
    const requests = server.session(sessionUri).requests;
    const resent = requests.reduce((sum, entry) => sum + entry.received, 0) - stored.length;
    console.log(`finished in ${seconds.toFixed(1)} s: ${stream.result?.status} ${JSON.stringify(stream.result?.body)}`);
    console.log(`${requests.length} requests, ${mib(Math.max(0, resent))} resent to recover from ${faults.length} faults`);
    const gzipMatches = storedHash === gzipHash.digest('hex');
    const inputMatches = gunzippedHash === inputHash.digest('hex');
    console.log(`stored object: ${mib(stored.length)}, sha256 ${storedHash.slice(0, 16)}… ${gzipMatches ? 'matches' : 'DOES NOT match'} the gzip stream written`);
    console.log(`gunzipped: ${inputMatches ? 'matches' : 'DOES NOT match'} the input byte for byte`);
    await server.close();
    if (!gzipMatches || !inputMatches)
        process.exitCode = 1;
}
main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
});
