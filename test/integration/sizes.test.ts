/**
 * Every size edge, plain and through gzip, against the loopback server: the stored object's
 * sha256 equals the input's, and the exact Content-Range sequence is what the protocol says.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResumableWriteStream, type UploadProgress } from '../../src/index.js';
import { createTestServer, type TestServer } from '../../src/testing/index.js';
import { K256, sha256, storedBytes, upload } from './helpers.js';
import { createScriptedServer } from './scripted-server.js';

let server: TestServer;
beforeAll(async () => {
  server = await createTestServer();
});
afterAll(() => server.close());

const CHUNK = 2 * K256;
const SIZES: Array<[string, number]> = [
  ['empty', 0],
  ['1 byte', 1],
  ['256 KiB − 1', K256 - 1],
  ['256 KiB', K256],
  ['256 KiB + 1', K256 + 1],
  ['1 × chunkSize', CHUNK],
  ['2 × chunkSize', 2 * CHUNK],
  ['3 × chunkSize', 3 * CHUNK],
  ['3 × chunkSize + 17', 3 * CHUNK + 17],
];

describe.each([false, true])('gzip: %s', (gzip) => {
  it.each(SIZES)('%s', async (_name, size) => {
    const outcome = await upload(server, { size, chunkSize: CHUNK, gzip });
    expect(outcome.error).toBeUndefined();
    const stored = storedBytes(server, outcome.uri) as Buffer;
    expect(sha256(stored)).toBe(sha256(outcome.expected as Buffer));
    if (gzip) expect(sha256(gunzipSync(stored))).toBe(sha256(outcome.data));
    expect(outcome.stream.result?.status).toBe(200);
    expect(outcome.stream.result?.body).toMatchObject({ size: String(stored.length) });
    expect(outcome.stream.bytesCommitted).toBe(stored.length);
    expect(outcome.stream.bytesWritten).toBe(stored.length);
    expect(outcome.stream.bytesRetained).toBe(0);
  });
});

describe('the exact Content-Range sequence', () => {
  it.each<[number, string[]]>([
    [0, ['bytes */0 200']],
    [1, ['bytes 0-0/1 200']],
    [K256 - 1, ['bytes 0-262142/262143 200']],
    [K256, ['bytes 0-262143/262144 200']],
    [K256 + 1, ['bytes 0-262144/262145 200']],
    // An exact multiple: the writer may go on while the last chunk is exactly full, so its end()
    // arrives while the chunk before is in flight and the last chunk carries the total.
    [2 * CHUNK, ['bytes 0-524287/* 308', 'bytes 524288-1048575/1048576 200']],
    [3 * CHUNK + 17, ['bytes 0-524287/* 308', 'bytes 524288-1048575/* 308', 'bytes 1048576-1572863/* 308', 'bytes 1572864-1572880/1572881 200']],
  ])('%i bytes', async (size, wire) => {
    const outcome = await upload(server, { size, chunkSize: CHUNK, writeSize: 64 * 1024 });
    expect(outcome.error).toBeUndefined();
    expect(outcome.wire).toEqual(wire);
  });

  it('an exact multiple whose end() comes after its last chunk was sent: */T finalizes', async () => {
    const uri = server.createSession();
    const data = Buffer.alloc(2 * CHUNK, 3);
    const stream = createResumableWriteStream({ url: uri, chunkSize: CHUNK });
    const done = new Promise<void>((resolve, reject) => stream.on('finish', resolve).on('error', reject));
    for (let offset = 0; offset < data.length; offset += 64 * 1024) {
      if (!stream.write(data.subarray(offset, offset + 64 * 1024))) await new Promise((resolve) => stream.once('drain', resolve));
    }
    // A writer that ends late (a source that only learns at its next read that nothing is left).
    for (let waited = 0; stream.bytesCommitted < data.length && waited < 5000; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(stream.bytesCommitted).toBe(data.length);
    stream.end();
    await done;
    expect(server.session(uri).requests.map((entry) => `${entry.contentRange} ${String(entry.status)}`)).toEqual([
      'bytes 0-524287/* 308',
      'bytes 524288-1048575/* 308',
      'bytes */1048576 200',
    ]);
    expect(sha256(storedBytes(server, uri) as Buffer)).toBe(sha256(data));
  });

  it('a declared totalSize is carried by every request', async () => {
    const size = 2 * CHUNK + 5;
    const outcome = await upload(server, { size, chunkSize: CHUNK, options: { totalSize: size } });
    expect(outcome.error).toBeUndefined();
    expect(outcome.wire).toEqual(['bytes 0-524287/1048581 308', 'bytes 524288-1048575/1048581 308', 'bytes 1048576-1048580/1048581 200']);
  });

  it('a declared totalSize that is an exact multiple completes with a final request carrying the last chunk', async () => {
    const outcome = await upload(server, { size: 2 * CHUNK, chunkSize: CHUNK, options: { totalSize: 2 * CHUNK } });
    expect(outcome.error).toBeUndefined();
    expect(outcome.wire).toEqual(['bytes 0-524287/1048576 308', 'bytes 524288-1048575/1048576 200']);
  });

  it('the XML API answers with x-goog-hash and no body', async () => {
    const outcome = await upload(server, { size: 1000, session: { api: 'xml' } });
    expect(outcome.error).toBeUndefined();
    expect(outcome.stream.result?.headers['x-goog-hash']).toMatch(/^crc32c=.+,md5=.+$/);
    expect(sha256(storedBytes(server, outcome.uri) as Buffer)).toBe(sha256(outcome.data));
  });
});

describe('Redivis dialect: 200 to accepted non-final chunks', () => {
  let redivis: TestServer;
  beforeAll(async () => {
    redivis = await createTestServer({ dialect: 'redivis' });
  });
  afterAll(() => redivis.close());

  it.each([0, 1, 2 * CHUNK, 3 * CHUNK + 17])('%i bytes', async (size) => {
    const outcome = await upload(redivis, { size, chunkSize: CHUNK });
    expect(outcome.error).toBeUndefined();
    expect(sha256(storedBytes(redivis, outcome.uri) as Buffer)).toBe(sha256(outcome.data));
    // Redivis reports no digests: the final answer is followed by one status query (README, Integrity).
    if (size === 2 * CHUNK) expect(outcome.wire).toEqual(['bytes 0-524287/* 200', 'bytes 524288-1048575/1048576 200', 'bytes */* 200']);
    expect(outcome.stream.result?.verified).toBe(false);
  });

  it('partial persistence is reported with Range on a 200', async () => {
    const outcome = await upload(redivis, { size: 3 * CHUNK, chunkSize: CHUNK, faults: ['persist-only-256K'] });
    expect(outcome.error).toBeUndefined();
    expect(outcome.wire[0]).toBe('bytes 0-524287/* 200');
    expect(outcome.wire[1]).toBe('bytes 262144-786431/* 200');
    expect(sha256(storedBytes(redivis, outcome.uri) as Buffer)).toBe(sha256(outcome.data));
  });
});

describe('events and options on the wire', () => {
  it("'progress' after every acknowledgement and as bytes go out: monotonic, ending at the total", async () => {
    const uri = server.createSession({ faults: ['return-503-after-256K'] });
    const stream = createResumableWriteStream({ url: uri, chunkSize: CHUNK, retry: { minTimeout: 1 } });
    const seen: UploadProgress[] = [];
    stream.on('progress', (progress) => seen.push(progress));
    await pipeline(Readable.from([Buffer.alloc(3 * CHUNK + 5)]), stream);
    const committed = seen.map((progress) => progress.bytesCommitted);
    expect(committed).toEqual([...committed].sort((a, b) => a - b));
    expect(seen.at(-1)).toEqual({ bytesWritten: 3 * CHUNK + 5, bytesSent: 3 * CHUNK + 5, bytesCommitted: 3 * CHUNK + 5 });
    for (const progress of seen) expect(progress.bytesCommitted <= progress.bytesSent && progress.bytesSent <= progress.bytesWritten).toBe(true);
    // At least one per acknowledgement (every 308/200 answer and the status query after the
    // fault), and each offset the server confirmed was reported.
    const acknowledged = server.session(uri).requests.filter((entry) => entry.status === 308 || entry.status === 200);
    expect(seen.length).toBeGreaterThanOrEqual(acknowledged.length);
    for (const entry of acknowledged) expect(committed).toContain(entry.persisted);
  });

  it('extra headers reach the server on every request; the stream owns Content-Range', async () => {
    const headers: Array<string | undefined> = [];
    const scripted = await createScriptedServer((request, res, req) => {
      headers.push(req.headers['x-goog-user-project'] as string | undefined);
      if (request.contentRange?.endsWith('/*')) res.writeHead(308, { range: `bytes=0-${K256 - 1}` }).end();
      else res.writeHead(200).end();
    });
    await pipeline(Readable.from([Buffer.alloc(K256 + 1)]), createResumableWriteStream({ url: scripted.url, chunkSize: K256, checksum: false, headers: { 'X-Goog-User-Project': 'billing-project' } }));
    expect(headers).toEqual(['billing-project', 'billing-project']);
    expect(scripted.hits.map((hit) => hit.contentRange)).toEqual(['bytes 0-262143/*', 'bytes 262144-262144/262145']);
    await scripted.close();
  });

  it.each(['x-goog-meta-host', 'Content-Type', 'cache-control', 'x-goog-if-generation-match', 'x-upload-content-type', 'x-goog-storage-class'])(
    'a header GCS ignores on chunks (%s) is refused at construction, naming it and where it goes',
    (name) => {
      expect(() => createResumableWriteStream({ url: 'https://storage.example/u?upload_id=x', headers: { [name]: 'v' } })).toThrow(
        new RegExp(`headers\` may not set "${name}".*createGcsSession`, 'i'),
      );
    },
  );

  it('tus takes any header; the GCS test server records the ones GCS would ignore', async () => {
    expect(() => createResumableWriteStream({ protocol: 'tus', url: 'https://tus.example/files/x', headers: { 'content-type': 'x' } })).not.toThrow();
    const server = await createTestServer();
    const url = server.createSession();
    await fetch(url, { method: 'PUT', headers: { 'content-range': 'bytes */*', 'x-goog-meta-host': 'web1' } });
    expect(server.session(url).requests.map((entry) => entry.ignoredHeaders)).toEqual([['x-goog-meta-host']]);
    await server.close();
  });
});
