// One upload, run inside the client namespace by the net-chaos runner:
//   node client.mjs '{"protocol":"gcs","url":…,"size":…,"seed":…}'
// Writes `size` seeded bytes (AES-CTR of zeros: deterministic, incompressible) into a resumable
// write stream and prints JSON lines: { ev: 'url' } (tus, once created), { ev: 'checkpoint' } and
// { ev: 'retry' } as they happen, then { ev: 'done', sha256 } or { ev: 'error', code }, then
// { ev: 'handles' } a second later: what still keeps the process alive (it must exit by itself).
import { createCipheriv, createHash } from 'node:crypto';
import { createResumableWriteStream, createTusUpload } from '../../dist/index.js';

const job = JSON.parse(process.argv[2]);
const print = (message) => process.stdout.write(`${JSON.stringify({ ...message, at: Date.now() })}\n`);

/** The options every run uses: library defaults but shorter stall timeouts and backoff cap. */
export const CLIENT_OPTIONS = { allowInsecureHttp: true, timeouts: { headersTimeout: 15_000, bodyTimeout: 15_000 }, retry: { maxTimeout: 16_000 } };

async function target() {
  if (job.protocol === 'gcs') return { protocol: 'gcs', url: job.url, chunkSize: job.chunkSize };
  if (job.protocol === 'tus') {
    const url = await createTusUpload({ endpoint: job.endpoint, allowInsecureHttp: true });
    print({ ev: 'url', url: new URL(url).pathname });
    return { protocol: 'tus', url, chunkSize: job.chunkSize };
  }
  if (job.protocol === 'gcs-multipart') return { gcs: { bucket: 'bkt', name: job.name, apiEndpoint: job.endpoint, token: job.token }, queueSize: 2, chunkSize: job.chunkSize };
  if (job.protocol === 'azure') return { protocol: 'azure', url: job.url, azure: { accountKey: job.accountKey }, queueSize: 2, chunkSize: job.chunkSize };
  return { s3: { bucket: 'bkt', key: job.key, endpoint: job.endpoint, queueSize: 2 }, chunkSize: job.chunkSize };
}

async function writeAll(stream) {
  const cipher = createCipheriv('aes-128-ctr', createHash('md5').update(String(job.seed)).digest(), Buffer.alloc(16));
  const hash = createHash('sha256');
  const piece = Buffer.alloc(64 * 1024);
  for (let left = job.size; left > 0; left -= piece.length) {
    const bytes = cipher.update(left >= piece.length ? piece : piece.subarray(0, left));
    hash.update(bytes);
    if (!stream.write(bytes)) await new Promise((resolve, reject) => {
      const onError = (error) => reject(error);
      stream.once('error', onError);
      stream.once('drain', () => { stream.off('error', onError); resolve(); });
    });
  }
  // end()'s callback is called with the stream's error too: only 'finish' (no argument) is success.
  await new Promise((resolve, reject) => {
    stream.once('error', reject);
    stream.end((error) => (error ? reject(error) : resolve()));
  });
  return hash.digest('hex');
}

try {
  const stream = createResumableWriteStream({ ...(await target()), ...CLIENT_OPTIONS });
  stream.on('checkpoint', ({ bytesCommitted }) => print({ ev: 'checkpoint', bytes: bytesCommitted }));
  stream.on('retry', ({ attempt, error }) => print({ ev: 'retry', attempt, code: error?.code ?? 'untyped' }));
  const sha256 = await writeAll(stream);
  print({ ev: 'done', sha256, size: job.size, verified: stream.result?.verified });
} catch (error) {
  const typed = typeof error?.code === 'string' && error.code.startsWith('RWS_');
  print({ ev: 'error', code: typed ? error.code : `untyped:${error?.code ?? error?.name}`, typed, message: String(error?.message).slice(0, 240) });
  process.exitCode = 1;
}
setTimeout(() => print({ ev: 'handles', resources: process.getActiveResourcesInfo().filter((name) => name !== 'Timeout') }), 1000).unref();
