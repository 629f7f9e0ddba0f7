/**
 * `protocol: 'gcs-multipart'` end to end: the stream, the parts driver and the adapter against
 * the loopback GCS server's XML multipart endpoints, faults on real sockets.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResumableWriteStream, type Checkpoint, type CheckpointStore, type ResumableWriteStreamOptions } from '../../src/index.js';
import { createTestServer, type FaultRule, type TestServer } from '../../src/testing/index.js';
import { FAST_RETRY, MiB, killAfterCheckpoint, makeData, runFixture, sha256, source } from './helpers.js';

const PART = 5 * MiB;
const TOKEN = 'gcs-multipart-token';
let server: TestServer;
beforeAll(async () => {
  server = await createTestServer({ token: TOKEN });
});
afterAll(() => server.close());

let names = 0;

async function uploadTo(target: TestServer, size: number, options: Partial<ResumableWriteStreamOptions> = {}, gcs: Record<string, unknown> = {}, data = makeData(size)) {
  const name = `e2e/${++names} a+b.bin`;
  const before = target.multipart.requests.length;
  const stream = createResumableWriteStream({
    gcs: { bucket: 'bkt', name, apiEndpoint: target.url, token: TOKEN, ...gcs },
    chunkSize: PART,
    ...options,
    retry: { ...FAST_RETRY, ...options.retry },
  });
  const error = await pipeline(source(data, 256 * 1024), stream).then(() => undefined, (caught: unknown) => caught);
  const wire = target.multipart.requests.slice(before).map((entry) => `${entry.operation}${entry.partNumber ?? ''} ${entry.status}`);
  return { name, data, stream, error, wire, stored: target.object('bkt', name)?.data };
}

/** A server of its own whose every upload has `faults` armed. */
async function withServer(faults: FaultRule[], run: (own: TestServer) => Promise<void>): Promise<void> {
  const own = await createTestServer({ token: TOKEN, faults });
  try {
    await run(own);
  } finally {
    await own.close();
  }
}

describe('gcs-multipart: sizes', () => {
  it.each([
    [0, ['put 200']],
    [1, ['put 200']],
    [PART - 1, ['put 200']],
    [PART, ['put 200']],
    [PART + 1, ['initiate 200', 'part1 200', 'part2 200', 'complete 200']],
    [2 * PART, ['initiate 200', 'part1 200', 'part2 200', 'complete 200']],
    [3 * PART + 7, ['initiate 200', 'part1 200', 'part2 200', 'part3 200', 'part4 200', 'complete 200']],
  ])('%i bytes: exactly those bytes, verified', async (size, wire) => {
    const outcome = await uploadTo(server, size);
    expect(outcome.error).toBeUndefined();
    expect(sha256(outcome.stored as Buffer)).toBe(sha256(outcome.data));
    expect(outcome.stream.result?.verified).toBe(true);
    expect([...outcome.wire].sort()).toEqual([...wire].sort());
    expect(outcome.stream.result?.body).toMatchObject({ bucket: 'bkt', name: outcome.name });
  });

  it('the object has the content type and metadata asked for, and no MD5 (a multipart object has none)', async () => {
    const outcome = await uploadTo(server, 2 * PART, { headers: { 'cache-control': 'no-store' } }, { contentType: 'text/csv', metadata: { Run: '7' } });
    expect(outcome.error).toBeUndefined();
    expect(server.object('bkt', outcome.name)).toMatchObject({ contentType: 'text/csv', metadata: { run: '7' }, md5Hash: undefined });
  });
});

describe('gcs-multipart: faults on real sockets', () => {
  // Parts go in parallel: `on: N` is the N-th part request to arrive, the completion is `final`.
  it.each([
    ['a 503 on the first part request', { fault: 'return-503', on: 1 }],
    ['a reset on the second part request', { fault: 'return-reset-connection', on: 2 }],
    ['a reset after 256 KiB of the first', { fault: 'return-reset-connection-after-256K', on: 1 }],
    ['a 500 on the third (last) part request', { fault: 'return-500', on: 3 }],
    ['a 503 on the completion', { fault: 'return-503', on: 'final' }],
    ['a stall of the second part request', { fault: 'stall-for-50ms', on: 2 }],
  ] as Array<[string, FaultRule]>)('%s: the object exact', async (_, fault) => {
    await withServer([fault], async (own) => {
      const outcome = await uploadTo(own, 2 * PART + 3);
      expect(outcome.error).toBeUndefined();
      expect(own.multipart.requests.filter((entry) => entry.fault === fault.fault)).toHaveLength(1);
      expect(sha256(outcome.stored as Buffer)).toBe(sha256(outcome.data));
      expect(outcome.wire.filter((line) => line.startsWith('complete'))).toContain('complete 200');
    });
  });

  it('a lost completion answer: the object is checked and accepted, never completed twice', async () => {
    await withServer([{ fault: 'lose-final-answer', on: 'final' }], async (own) => {
      const outcome = await uploadTo(own, 2 * PART + 3);
      expect(outcome.error).toBeUndefined();
      expect(sha256(outcome.stored as Buffer)).toBe(sha256(outcome.data));
      expect(outcome.wire.slice(-3)).toEqual(['complete lost', 'complete 404', 'head 200']);
    });
  });

  it('an object stored corrupt: RWS_CHECKSUM_MISMATCH, never success', async () => {
    await withServer([{ fault: 'corrupt-byte', on: 'final' }], async (own) => {
      const outcome = await uploadTo(own, 2 * PART + 3);
      expect(outcome.error).toMatchObject({ code: 'RWS_CHECKSUM_MISMATCH' });
      expect(outcome.stream.result).toBeUndefined();
    });
  });

  it('a part that fails for good: the stream fails, nothing is completed, the upload is cancelled', async () => {
    await withServer([{ fault: 'return-403', on: 2 }], async (own) => {
      const outcome = await uploadTo(own, 3 * PART);
      expect(outcome.error).toMatchObject({ code: 'RWS_HTTP_STATUS', status: 403 });
      expect(outcome.wire.some((line) => line.startsWith('complete'))).toBe(false);
      expect(outcome.wire.at(-1)).toBe('cancel 204');
      expect(own.multipart.openUploads()).toEqual([]);
      expect(own.object('bkt', outcome.name)).toBeUndefined();
    });
  });

  it('the upload gone (404 NoSuchUpload): RWS_SESSION_EXPIRED, nothing completed', async () => {
    await withServer([{ fault: 'session-gone', on: 2 }], async (own) => {
      const outcome = await uploadTo(own, 3 * PART);
      expect(outcome.error).toMatchObject({ code: 'RWS_SESSION_EXPIRED' });
      expect(own.object('bkt', outcome.name)).toBeUndefined();
    });
  });

  it('no credentials the server accepts: a typed 403, no token in the message', async () => {
    const outcome = await uploadTo(server, 2 * PART, {}, { token: 'WRONG-SECRET-TOKEN' });
    expect(outcome.error).toMatchObject({ code: 'RWS_HTTP_STATUS', status: 403 });
    expect(String((outcome.error as Error).message)).not.toContain('WRONG-SECRET-TOKEN');
  });
});

describe('gcs-multipart: cancel and crash resume', () => {
  it('cancel() sends DELETE ?uploadId=…: no upload left open (GCS would bill its parts forever)', async () => {
    const name = 'e2e/cancelled.bin';
    const stream = createResumableWriteStream({ gcs: { bucket: 'bkt', name, apiEndpoint: server.url, token: TOKEN }, chunkSize: PART, retry: FAST_RETRY });
    const before = server.multipart.requests.length;
    stream.write(makeData(2 * PART + 1));
    // As soon as the server holds the upload, maybe before its answer reached the client: the
    // initiation is read to its end despite the cancel, so its id is known and cancelled.
    const initiated = () => server.multipart.requests.slice(before).some((entry) => entry.operation === 'initiate');
    for (let waited = 0; !initiated() && waited < 5000; waited += 1) await new Promise((resolve) => setTimeout(resolve, 1));
    await stream.cancel();
    expect(server.multipart.requests.filter((entry) => entry.operation === 'cancel').at(-1)?.status).toBe(204);
    expect(server.multipart.openUploads()).toEqual([]);
    expect(server.object('bkt', name)).toBeUndefined();
  });

  it('a destroyed stream keeps its parts (checkpointStore): the resume lists them and sends only the missing ones', async () => {
    const saved: Checkpoint[] = [];
    const store: CheckpointStore = { load: async () => saved.at(-1), save: async (checkpoint) => void saved.push(checkpoint), clear: async () => void (saved.length = 0) };
    const data = makeData(4 * PART + 11);
    const name = 'e2e/resumed.bin';
    const gcs = { bucket: 'bkt', name, apiEndpoint: server.url, token: TOKEN };
    const first = createResumableWriteStream({ gcs, chunkSize: PART, checkpointStore: store, retry: FAST_RETRY });
    first.on('error', () => {});
    first.write(data.subarray(0, 3 * PART));
    for (let waited = 0; (saved.at(-1)?.bytesCommitted ?? 0) < 2 * PART && waited < 5000; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5));
    first.destroy(new Error('crash'));
    expect(server.multipart.openUploads().some((upload) => upload.name === name)).toBe(true);
    const before = server.multipart.requests.length;
    const second = createResumableWriteStream({ gcs, chunkSize: PART, checkpointStore: store, resume: true, retry: FAST_RETRY });
    await pipeline(source(data), second);
    const wire = server.multipart.requests.slice(before).map((entry) => entry.operation);
    expect(wire[0]).toBe('list');
    expect(wire).not.toContain('initiate');
    expect(wire.filter((operation) => operation === 'part').length).toBeLessThan(5);
    expect(sha256(server.object('bkt', name)?.data as Buffer)).toBe(sha256(data));
    expect(second.result?.verified).toBe(true);
  });

  it('SIGKILL mid-upload: the resumed process lists the parts, completes once, leaves no upload open', async () => {
    const script = join(import.meta.dirname, '..', 'fixtures', 'crash-upload-gcs-multipart.mjs');
    const directory = await mkdtemp(join(tmpdir(), 'rws-gcs-mp-crash-'));
    try {
      const input = join(directory, 'input.bin');
      const data = randomBytes(4 * PART + 5);
      await writeFile(input, data);
      const checkpointFile = join(directory, 'checkpoint.json');
      const env = { ...process.env, GCS_TOKEN: TOKEN };
      const before = server.multipart.requests.length;
      await killAfterCheckpoint(script, [server.url, input, checkpointFile, 'fresh'], PART, env);
      const second = await runFixture(script, [server.url, input, checkpointFile, 'resume'], env);
      expect(second.output).toMatch(/done 200 verified=true/);
      expect(second.code).toBe(0);
      expect(sha256(server.object('bkt', 'crash/object.bin')?.data as Buffer)).toBe(sha256(data));
      const operations = server.multipart.requests.slice(before).map((entry) => entry.operation);
      expect(operations.filter((operation) => operation === 'initiate')).toHaveLength(1);
      expect(operations).toContain('list');
      expect(server.multipart.openUploads().filter((upload) => upload.name === 'crash/object.bin')).toEqual([]);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
