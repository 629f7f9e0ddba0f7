/**
 * The uploader against a scripted transport: the exact request sequence is listed, as Go's
 * resumable tests do, and leftovers fail the test. (Real sockets: test/integration.)
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../../src/options/index.js';
import { ResumableWriteStream } from '../../src/resumable-write-stream.js';
import type { Transport, TransportAnswer, TransportRequest } from '../../src/transport.js';
import { NetworkError } from '../../src/errors.js';
import { crcToBase64 } from '../../src/checksum.js';
import { crc32cUpdate } from '../../src/crc32c.js';

const K256 = 262144;
type Step = [contentRange: string, answer: Partial<TransportAnswer> | 'reset'];

function scripted(steps: Step[]): Transport & { leftovers(): Step[]; seen: string[] } {
  const queue = [...steps];
  const seen: string[] = [];
  return {
    seen,
    leftovers: () => queue,
    async send(request: TransportRequest) {
      const range = request.headers['content-range'] ?? `${request.method}`;
      seen.push(range);
      // Answer on a later turn of the event loop, as a socket would: the writer's end() lands first.
      await new Promise((resolve) => setImmediate(resolve));
      const step = queue.shift();
      if (!step) throw new Error(`unexpected request ${range}`);
      expect(range).toBe(step[0]);
      if (step[1] === 'reset') throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      return { status: 308, headers: {}, body: '', bodyTruncated: false, ...step[1] };
    },
  };
}

async function upload(size: number, steps: Step[], chunkSize = K256, extra: Record<string, unknown> = {}) {
  const transport = scripted(steps);
  const stream = new ResumableWriteStream(
    // checksum: false unless a script is about digests: a final answer without them is asked again otherwise.
    resolveOptions({ url: 'https://h.example/u?upload_id=S', chunkSize, checksum: false, retry: { minTimeout: 0, requeryDelay: 0 }, ...extra }),
    transport,
  );
  const error = await pipeline(Readable.from([Buffer.alloc(size, 7)]), stream).then(() => undefined, (caught: unknown) => caught);
  expect(transport.leftovers()).toEqual([]);
  return { stream, error, seen: transport.seen };
}

const range = (last: number) => ({ headers: { range: `bytes=0-${last}` } });
const done = { status: 200, headers: { 'content-type': 'application/json' }, body: '{"size":"0"}' };

describe('wire scripts', () => {
  it('plain upload: chunks, then final with total', async () => {
    const { error, stream } = await upload(2 * K256 + 10, [
      ['bytes 0-262143/*', range(K256 - 1)],
      ['bytes 262144-524287/*', range(2 * K256 - 1)],
      ['bytes 524288-524297/524298', { ...done, body: '{"size":"524298"}' }],
    ]);
    expect(error).toBeUndefined();
    expect(stream.result?.body).toEqual({ size: '524298' });
  });

  it('a final answer without the digests GCS reports: one status query, whose digests are checked', async () => {
    const crc32c = crcToBase64(crc32cUpdate(Buffer.alloc(K256 + 10, 7)));
    const { error, stream } = await upload(K256 + 10, [
      ['bytes 0-262143/*', range(K256 - 1)],
      ['bytes 262144-262153/262154', { ...done, body: '{"size":"2621' }],
      ['bytes */*', { ...done, headers: { ...done.headers, 'x-goog-hash': `crc32c=${crc32c}` }, body: '{"size":"262154"}' }],
    ], K256, { checksum: 'crc32c' });
    expect(error).toBeUndefined();
    expect(stream.result).toMatchObject({ verified: true, body: { size: '262154' } });
  });

  it('reset → status query → resume from the reported offset', async () => {
    const { error } = await upload(2 * K256, [
      ['bytes 0-262143/*', range(K256 - 1)],
      // The writer ended while the first chunk was in flight: the second is the final one.
      ['bytes 262144-524287/524288', 'reset'],
      ['bytes */*', range(K256 - 1)],
      ['bytes 262144-524287/524288', { status: 200 }],
    ]);
    expect(error).toBeUndefined();
  });

  it('status query without Range after confirmed bytes: waits, asks once more, resumes', async () => {
    const { error } = await upload(2 * K256, [
      ['bytes 0-262143/*', range(K256 - 1)],
      ['bytes 262144-524287/524288', { status: 503 }],
      ['bytes */*', {}],
      ['bytes */*', range(K256 - 1)],
      ['bytes 262144-524287/524288', { status: 200 }],
    ]);
    expect(error).toBeUndefined();
  });

  it('status query without Range twice after bytes were released → protocol error, nothing finalized', async () => {
    const { error, seen } = await upload(3 * K256, [
      ['bytes 0-262143/*', range(K256 - 1)],
      ['bytes 262144-524287/*', { status: 503 }],
      ['bytes */*', {}],
      ['bytes */*', {}],
    ]);
    expect(error).toMatchObject({ code: 'RWS_PROTOCOL', bytesCommitted: K256 });
    expect(seen.some((entry) => /\/786432$/.test(entry))).toBe(false);
  });

  it('lost final answer: the status query answering 200 completes the upload', async () => {
    const { error, stream } = await upload(10, [
      ['bytes 0-9/10', 'reset'],
      ['bytes */*', { status: 200, headers: { 'content-type': 'application/json' }, body: '{"size":"10"}' }],
    ]);
    expect(error).toBeUndefined();
    expect(stream.result?.status).toBe(200);
  });

  it('a finalized size different from the bytes written is never success', async () => {
    const { error } = await upload(10, [['bytes 0-9/10', { ...done, body: '{"size":"9"}' }]]);
    expect(error).toMatchObject({ code: 'RWS_PROTOCOL' });
    expect((error as Error).message).toMatch(/9 bytes but 10 were written/);
  });

  it('a 400 to a chunk with a live session is a rejection with the body excerpt', async () => {
    const { error } = await upload(10, [
      ['bytes 0-9/10', { status: 400, body: 'Invalid request: bad metadata' }],
      ['bytes */*', {}],
    ]);
    expect(error).toMatchObject({ code: 'RWS_HTTP_STATUS', status: 400, bodyExcerpt: 'Invalid request: bad metadata' });
  });

  it('a 400 to the final request that speaks of our digest is a checksum mismatch', async () => {
    const { error } = await upload(10, [
      ['bytes 0-9/10', { status: 400, body: 'Provided CRC32C "AAAAAA==" doesn\'t match calculated CRC32C "BBBBBB==".' }],
    ], K256, { checksum: 'crc32c' });
    expect(error).toMatchObject({ code: 'RWS_CHECKSUM_MISMATCH', algorithm: 'crc32c', cause: { status: 400 } });
  });

  it('a 400 to a chunk whose status query also answers 400 is an expired session', async () => {
    const { error } = await upload(10, [
      ['bytes 0-9/10', { status: 400 }],
      ['bytes */*', { status: 400 }],
    ]);
    expect(error).toMatchObject({ code: 'RWS_SESSION_EXPIRED', status: 400, bytesCommitted: 0 });
  });

  it('a server that never persists anything exhausts the retries instead of looping', async () => {
    const steps: Step[] = Array.from({ length: 4 }, () => ['bytes 0-9/10', {}] as Step);
    const { error } = await upload(10, steps, K256, { retry: { retries: 3, minTimeout: 0 } });
    expect(error).toMatchObject({ code: 'RWS_RETRIES_EXHAUSTED', attempts: 4 });
  });

  it('the retry budget is restored whenever the committed offset advances', async () => {
    const steps: Step[] = [];
    for (let index = 0; index < 4; index++) {
      steps.push([`bytes ${index * K256}-${(index + 1) * K256 - 1}/*`, 'reset'], ['bytes */*', range((index + 1) * K256 - 1)]);
    }
    steps.push(['bytes 1048576-1048585/1048586', { status: 200 }]);
    // Four faults against a budget of one retry: each fault is followed by progress.
    const { error } = await upload(4 * K256 + 10, steps, K256, { retry: { retries: 1, minTimeout: 0 } });
    expect(error).toBeUndefined();
  });

  it('network errors are typed', async () => {
    const { error } = await upload(10, [['bytes 0-9/10', 'reset'], ['bytes */*', 'reset']], K256, { retry: { retries: 1, minTimeout: 0 } });
    expect(error).toMatchObject({ code: 'RWS_RETRIES_EXHAUSTED' });
    expect((error as Error).cause).toBeInstanceOf(NetworkError);
  });
});
