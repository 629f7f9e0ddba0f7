/**
 * tus 1.0 against the real @tus/server + @tus/file-store from the registry, on real loopback
 * sockets, with faults injected by the proxy in front of it.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createResumableWriteStream, createTusUpload, type ResumableWriteStreamOptions } from '../../src/index.js';
import type { ProxyFaultRule } from '../../src/testing/index.js';
import { FAST_RETRY, K256, MiB, killAfterCheckpoint, makeData, runFixture, sha256, source } from './helpers.js';
import { startTusServer, type TusTestServer } from './tus-server.js';

let server: TusTestServer;
beforeAll(async () => {
  server = await startTusServer();
});
afterEach(() => {
  server.proxy.clearFaults();
});
afterAll(async () => {
  await server.close();
});

interface TusCase {
  size: number;
  chunkSize?: number;
  writeSize?: number;
  faults?: ProxyFaultRule[];
  options?: Partial<ResumableWriteStreamOptions>;
  /** The writer ends only once every byte is committed (as a source that learns of its end late). */
  lateEnd?: boolean;
}

async function* endingLate(data: Buffer, stream: { readonly bytesCommitted: number }) {
  for (let offset = 0; offset < data.length; offset += 64 * 1024) yield data.subarray(offset, offset + 64 * 1024);
  for (let waited = 0; stream.bytesCommitted < data.length && waited < 5000; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** Creates an upload, streams `size` random bytes to it through the proxy; returns what happened and what the store kept. */
async function uploadTus(spec: TusCase) {
  const url = await createTusUpload({ endpoint: server.endpoint, metadata: { filename: 'log.txt' } });
  const before = server.proxy.requests.length;
  for (const fault of spec.faults ?? []) server.proxy.addFault(fault);
  const data = makeData(spec.size);
  const stream = createResumableWriteStream({
    protocol: 'tus',
    url,
    chunkSize: spec.chunkSize ?? K256,
    ...spec.options,
    retry: { ...FAST_RETRY, ...spec.options?.retry },
  });
  const input = spec.lateEnd ? endingLate(data, stream) : source(data, spec.writeSize);
  const error = await pipeline(input, stream).then(() => undefined, (caught: unknown) => caught);
  const wire = server.proxy.requests.slice(before).map((entry) => {
    const offset = entry.headers['upload-offset'];
    const length = entry.headers['upload-length'];
    const body = entry.headers['content-length'];
    return [entry.method, offset && `@${offset}`, body && body !== '0' && `+${body}`, length && `length=${length}`, entry.status ?? 'dropped', entry.fault]
      .filter(Boolean)
      .join(' ');
  });
  return { url, data, stream, error, wire, stored: await server.stored(url) };
}

function expectStoredExactly(outcome: Awaited<ReturnType<typeof uploadTus>>) {
  expect(outcome.error).toBeUndefined();
  expect(outcome.stored.size).toBe(outcome.data.length);
  expect(outcome.stored.offset).toBe(outcome.data.length);
  expect(sha256(outcome.stored.data)).toBe(sha256(outcome.data));
  expect(outcome.stream.bytesCommitted).toBe(outcome.data.length);
}

describe('tus: sizes', () => {
  it.each([
    ['empty stream', 0],
    ['1 byte', 1],
    ['256 KiB − 1', K256 - 1],
    ['256 KiB', K256],
    ['256 KiB + 1', K256 + 1],
    ['3 chunks exactly', 3 * K256],
    ['3 chunks + 17', 3 * K256 + 17],
  ])('%s is stored exactly and completed', async (_name, size) => {
    expectStoredExactly(await uploadTus({ size }));
  });

  it('an exact multiple: the writer ends while the chunk before is in flight, so the last PATCH declares the length', async () => {
    const outcome = await uploadTus({ size: 2 * K256 });
    expectStoredExactly(outcome);
    expect(outcome.wire).toEqual(['HEAD 200', `PATCH @0 +${K256} 204`, `PATCH @${K256} +${K256} length=${2 * K256} 204`]);
  });

  it('an exact multiple ended after its last chunk: a PATCH carrying only the length completes it (tus-js-client issue 779 hangs here)', async () => {
    const outcome = await uploadTus({ size: 2 * K256, lateEnd: true });
    expectStoredExactly(outcome);
    expect(outcome.wire).toEqual(['HEAD 200', `PATCH @0 +${K256} 204`, `PATCH @${K256} +${K256} 204`, `PATCH @${2 * K256} length=${2 * K256} 204`]);
  });

  it('an empty stream completes with one PATCH declaring length 0', async () => {
    const outcome = await uploadTus({ size: 0 });
    expectStoredExactly(outcome);
    expect(outcome.wire).toEqual(['HEAD 200', 'PATCH @0 length=0 204']);
  });

  it('chunk sizes need no 256 KiB alignment; 1-byte writes are coalesced', async () => {
    expectStoredExactly(await uploadTus({ size: 300_001, chunkSize: 100_000 }));
    expectStoredExactly(await uploadTus({ size: 20_000, chunkSize: 7_000, writeSize: 1 }));
  });

  it('2 MiB in 256 KiB chunks through gzip-sized writes', async () => {
    expectStoredExactly(await uploadTus({ size: 2 * MiB + 5, writeSize: 16 * 1024 }));
  });
});

describe('tus: faults on real sockets', () => {
  it.each([
    ['the first', 1],
    ['a middle', 2],
    ['the final', 4],
  ])('connection killed mid-PATCH on %s request: HEAD, then the rest from the server offset', async (_name, on) => {
    // "after NK" counts object offsets: 64 KiB into the on-th PATCH of 256 KiB.
    const fault = `return-reset-connection-after-${((on - 1) * K256 + 64 * 1024) / 1024}K`;
    const outcome = await uploadTus({ size: 3 * K256 + 100_000, faults: [{ fault, method: 'PATCH', on }] });
    expectStoredExactly(outcome);
    const cut = outcome.wire.findIndex((line) => line.endsWith(fault));
    expect(outcome.wire[cut]).toMatch(/dropped/);
    expect(outcome.wire[cut + 1]).toBe('HEAD 200');
    // The store kept what reached it before the cut: the resend starts past the PATCH's offset.
    const cutOffset = Number(/@(\d+)/.exec(outcome.wire[cut] ?? '')?.[1]);
    expect(Number(/@(\d+)/.exec(outcome.wire[cut + 2] ?? '')?.[1])).toBeGreaterThan(cutOffset);
  });

  it.each(['return-503', 'return-500', 'return-429', 'return-423', 'return-409', 'return-reset-connection', 'stall-for-50ms'])(
    '%s on a middle PATCH is recovered',
    async (fault) => {
      const outcome = await uploadTus({ size: 3 * K256, faults: [{ fault, method: 'PATCH', on: 2 }] });
      expectStoredExactly(outcome);
    },
  );

  it('503 to the HEAD before the first chunk is retried', async () => {
    expectStoredExactly(await uploadTus({ size: K256 + 1, faults: [{ fault: 'return-503', method: 'HEAD' }] }));
  });

  it.each([
    ['403', { fault: 'return-403', method: 'HEAD' }, 'RWS_HTTP_STATUS'],
    ['503 for good', { fault: 'return-503', method: 'HEAD', times: 100 }, 'RWS_RETRIES_EXHAUSTED'],
  ] as const)('a HEAD answered %s: the error names it a status query, in no other protocol\'s words', async (_name, fault, code) => {
    const outcome = await uploadTus({ size: K256 + 1, faults: [fault], options: { retry: { retries: 2 } } });
    expect(outcome.error).toMatchObject({ code });
    const message = (outcome.error as Error).message;
    expect(message).toMatch(/status query/);
    expect(message).not.toMatch(/bytes \*\/|Content-Range/);
  });

  it('a final PATCH whose answer is lost: the HEAD shows the upload complete and the length is not sent again', async () => {
    const outcome = await uploadTus({ size: K256 + 10, faults: [{ fault: 'lose-final-answer', method: 'PATCH', on: 2 }] });
    expectStoredExactly(outcome);
    expect(outcome.wire).toEqual(['HEAD 200', `PATCH @0 +${K256} 204`, `PATCH @${K256} +10 length=${K256 + 10} dropped lose-final-answer`, 'HEAD 200']);
  });

  it('retries run out → RWS_RETRIES_EXHAUSTED, and the upload is not completed', async () => {
    const outcome = await uploadTus({
      size: 2 * K256 + 1,
      faults: [{ fault: 'return-503', method: 'PATCH', on: 2, times: 50 }],
      options: { retry: { retries: 2 } },
    });
    expect(outcome.error).toMatchObject({ code: 'RWS_RETRIES_EXHAUSTED' });
    expect(outcome.stored.size).toBeUndefined();
    expect(outcome.wire.some((line) => line.includes('length='))).toBe(false);
  });

  it('an upload deleted behind the client\'s back → RWS_SESSION_EXPIRED, nothing completed', async () => {
    const url = await createTusUpload({ endpoint: server.endpoint });
    const stream = createResumableWriteStream({ protocol: 'tus', url, chunkSize: K256, retry: FAST_RETRY });
    const direct = url.replace(server.endpoint, server.directEndpoint);
    stream.once('progress', () => {
      void request(direct, { method: 'DELETE', headers: { 'tus-resumable': '1.0.0' } }).then((answer) => answer.body.dump());
    });
    const error = await pipeline(source(makeData(4 * K256)), stream).then(() => undefined, (caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'RWS_SESSION_EXPIRED', status: 404 });
    expect(String((error as Error).message)).not.toContain(new URL(url).pathname.split('/').pop());
  });

  it('an upload URL that already holds bytes is not overwritten: nothing is sent', async () => {
    const url = await createTusUpload({ endpoint: server.endpoint });
    await request(url, {
      method: 'PATCH',
      headers: { 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      body: Buffer.alloc(10),
    }).then((answer) => answer.body.dump());
    const stream = createResumableWriteStream({ protocol: 'tus', url, chunkSize: K256, retry: FAST_RETRY });
    const error = await pipeline(source(makeData(100)), stream).then(() => undefined, (caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'RWS_PROTOCOL' });
    expect((await server.stored(url)).offset).toBe(10);
  });
});

describe('tus: lengths, cancel, resume', () => {
  it('an upload created with its length: totalSize, and no Upload-Length sent again', async () => {
    const data = makeData(K256 + 3);
    const url = await createTusUpload({ endpoint: server.endpoint, uploadLength: data.length });
    const before = server.proxy.requests.length;
    const stream = createResumableWriteStream({ protocol: 'tus', url, chunkSize: K256, totalSize: data.length, retry: FAST_RETRY });
    await pipeline(source(data), stream);
    expect(server.proxy.requests.slice(before).every((entry) => entry.headers['upload-length'] === undefined)).toBe(true);
    expect(sha256((await server.stored(url)).data)).toBe(sha256(data));
  });

  it('a stream that ends short of a length fixed at creation fails RWS_SIZE_MISMATCH', async () => {
    const url = await createTusUpload({ endpoint: server.endpoint, uploadLength: 1000 });
    const stream = createResumableWriteStream({ protocol: 'tus', url, chunkSize: K256, retry: FAST_RETRY });
    const error = await pipeline(source(makeData(999)), stream).then(() => undefined, (caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'RWS_SIZE_MISMATCH' });
  });

  it('cancel() terminates the upload (DELETE 204): the server no longer knows it', async () => {
    const url = await createTusUpload({ endpoint: server.endpoint });
    const stream = createResumableWriteStream({ protocol: 'tus', url, chunkSize: K256, retry: FAST_RETRY });
    stream.on('error', () => {});
    stream.write(makeData(2 * K256));
    await new Promise((resolve) => stream.once('progress', resolve));
    expect(await stream.cancel()).toEqual({ status: 204 });
    const head = await request(url, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0' } });
    await head.body.dump();
    expect(head.statusCode).toBe(404);
  });

  it('a session factory creates the upload lazily: url: () => createTusUpload(…)', async () => {
    const data = makeData(K256 * 2 + 1);
    let created: string | undefined;
    const stream = createResumableWriteStream({
      protocol: 'tus',
      url: async () => (created = await createTusUpload({ endpoint: server.endpoint })),
      chunkSize: K256,
      retry: FAST_RETRY,
    });
    await pipeline(source(data), stream);
    expect(sha256((await server.stored(created as string)).data)).toBe(sha256(data));
  });

  it('checkpoints carry the protocol; a tus checkpoint resumes with HEAD and refuses another protocol', async () => {
    const url = await createTusUpload({ endpoint: server.endpoint });
    const data = makeData(3 * K256 + 5);
    const first = createResumableWriteStream({ protocol: 'tus', url, chunkSize: K256, retry: FAST_RETRY });
    first.on('error', () => {});
    const checkpoints: Array<Parameters<Parameters<typeof first.on<'checkpoint'>>[1]>[0]> = [];
    first.on('checkpoint', (checkpoint) => checkpoints.push(checkpoint));
    first.write(data.subarray(0, 2 * K256 + 1));
    await new Promise<void>((resolve) => first.on('checkpoint', (checkpoint) => checkpoint.bytesCommitted >= K256 && resolve()));
    first.destroy();
    const checkpoint = checkpoints.at(-1);
    expect(checkpoint).toMatchObject({ protocol: 'tus', url });
    expect(() => createResumableWriteStream({ resume: checkpoint })).toThrow(/protocol/);
    const second = createResumableWriteStream({ protocol: 'tus', resume: checkpoint, chunkSize: K256, retry: FAST_RETRY });
    await pipeline(source(data), second);
    expect(sha256((await server.stored(url)).data)).toBe(sha256(data));
  });
});

describe('tus: surviving a crash of the uploading process', () => {
  const script = join(import.meta.dirname, '..', 'fixtures', 'crash-upload.mjs');

  it('SIGKILL mid-upload; a second process resumes from the checkpoint file; the stored file gunzips to the input', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'rws-tus-crash-'));
    try {
      const input = join(directory, 'input.log');
      const data = makeData(6 * MiB);
      await writeFile(input, data);
      const checkpointFile = join(directory, 'checkpoint.json');
      const url = await createTusUpload({ endpoint: server.endpoint });
      // Slow the server's answers so the kill lands mid-upload.
      server.proxy.addFault({ fault: 'stall-for-100ms', method: 'PATCH', times: 1000 });
      await killAfterCheckpoint(script, [url, input, checkpointFile, 'tus'], 2 * K256);
      const saved = JSON.parse(await readFile(checkpointFile, 'utf8')) as { protocol: string; bytesCommitted: number };
      expect(saved).toMatchObject({ protocol: 'tus' });
      const second = await runFixture(script, ['-', input, checkpointFile, 'tus']);
      expect(second.code).toBe(0);
      expect(second.output).toMatch(/done 204/);
      const stored = await server.stored(url);
      expect(stored.size).toBe(stored.offset);
      expect(sha256(gunzipSync(stored.data))).toBe(sha256(data));
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
