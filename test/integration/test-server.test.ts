/** The loopback server itself speaks GCS's rules over real HTTP (what the stream relies on). */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResumableWriteStream } from '../../src/index.js';
import { createTestServer, parseFault, type TestServer } from '../../src/testing/index.js';
import { K256 } from './helpers.js';

let server: TestServer;
beforeAll(async () => {
  server = await createTestServer({ token: 'tok' });
});
afterAll(() => server.close());

const put = async (url: string, contentRange: string, body: Buffer | undefined) => {
  const answer = await request(url, {
    method: 'PUT',
    headers: { 'content-range': contentRange, 'content-length': String(body?.length ?? 0) },
    body: body ?? null,
  });
  const text = await answer.body.text();
  return { status: answer.statusCode, range: answer.headers['range'], text, headers: answer.headers };
};

describe('initiation', () => {
  it('JSON API: POST …/o?uploadType=resumable&name= → 200 + Location', async () => {
    const answer = await request(`${server.url}/upload/storage/v1/b/bkt/o?uploadType=resumable&name=a%2Fb.txt`, {
      method: 'POST',
      headers: { authorization: 'Bearer tok', 'content-type': 'application/json', 'x-upload-content-type': 'text/plain' },
      body: '{}',
    });
    await answer.body.dump();
    expect(answer.statusCode).toBe(200);
    const location = answer.headers['location'] as string;
    expect(location).toMatch(/upload_id=[0-9a-f]{32}$/);
    expect((await put(location, 'bytes 0-2/3', Buffer.from('abc'))).status).toBe(200);
    expect(server.object('bkt', 'a/b.txt')).toMatchObject({ size: 3, contentType: 'text/plain' });
  });

  it('XML API: POST /bucket/object with x-goog-resumable: start → 201 + Location', async () => {
    const answer = await request(`${server.url}/bkt/x.bin`, {
      method: 'POST',
      headers: { authorization: 'Bearer tok', 'x-goog-resumable': 'start' },
    });
    await answer.body.dump();
    expect(answer.statusCode).toBe(201);
    expect(answer.headers['location']).toMatch(/\/bkt\/x\.bin\?upload_id=/);
  });

  it('refuses initiation without the token', async () => {
    const answer = await request(`${server.url}/upload/storage/v1/b/bkt/o?uploadType=resumable&name=n`, { method: 'POST' });
    await answer.body.dump();
    expect(answer.statusCode).toBe(401);
  });
});

describe("GCS's rules for chunks", () => {
  it('a non-final chunk not a multiple of 256 KiB → 400; a gap → 400; a length mismatch → 400', async () => {
    const url = server.createSession();
    expect((await put(url, 'bytes 0-99/*', Buffer.alloc(100))).status).toBe(400);
    expect((await put(url, `bytes ${K256}-${2 * K256 - 1}/*`, Buffer.alloc(K256))).status).toBe(400);
    expect((await put(url, 'bytes 0-99/100', Buffer.alloc(100)).catch(() => ({ status: 0 }))).status).toBe(200);
    expect((await put(server.createSession(), 'bytes 0-9/*', Buffer.alloc(5)).catch(() => ({ status: 400 }))).status).toBe(400);
  });

  it('overlap with persisted bytes is trimmed; a status query reports Range; */T finalizes when all is there', async () => {
    const url = server.createSession();
    const data = Buffer.alloc(2 * K256, 1);
    expect(await put(url, `bytes 0-${K256 - 1}/*`, data.subarray(0, K256))).toMatchObject({ status: 308, range: `bytes=0-${K256 - 1}` });
    expect(await put(url, `bytes 0-${2 * K256 - 1}/*`, data)).toMatchObject({ status: 308, range: `bytes=0-${2 * K256 - 1}` });
    expect(await put(url, 'bytes */*', undefined)).toMatchObject({ status: 308, range: `bytes=0-${2 * K256 - 1}` });
    const done = await put(url, `bytes */${2 * K256}`, undefined);
    expect(done.status).toBe(200);
    expect(JSON.parse(done.text)).toMatchObject({ size: String(2 * K256) });
    expect(done.headers['x-goog-hash']).toMatch(/^crc32c=[A-Za-z0-9+/=]+,md5=[A-Za-z0-9+/=]+$/);
    // A finalized session answers 200 again, idempotently.
    expect((await put(url, 'bytes */*', undefined)).status).toBe(200);
  });

  it('overlapping bytes that differ from the persisted ones are refused (stricter than GCS)', async () => {
    const url = server.createSession();
    await put(url, `bytes 0-${K256 - 1}/*`, Buffer.alloc(K256, 1));
    expect((await put(url, `bytes 0-${K256 - 1}/*`, Buffer.alloc(K256, 2))).status).toBe(400);
  });

  it('a query with nothing persisted answers 308 without Range', async () => {
    const answer = await put(server.createSession(), 'bytes */*', undefined);
    expect(answer).toMatchObject({ status: 308, range: undefined });
  });

  it('DELETE answers 499, then the session answers 404', async () => {
    const url = server.createSession();
    const deleted = await request(url, { method: 'DELETE' });
    await deleted.body.dump();
    expect(deleted.statusCode).toBe(499);
    expect((await put(url, 'bytes */*', undefined)).status).toBe(404);
  });

  it('objects read back over HTTP (JSON media, JSON metadata, XML)', async () => {
    const url = server.createSession({ bucket: 'b2', name: 'dir/o' });
    await put(url, 'bytes 0-4/5', Buffer.from('hello'));
    for (const path of ['/download/storage/v1/b/b2/o/dir%2Fo?alt=media', '/b2/dir/o']) {
      const answer = await request(`${server.url}${path}`);
      expect(await answer.body.text()).toBe('hello');
    }
    const metadata = await request(`${server.url}/storage/v1/b/b2/o/dir%2Fo`);
    expect(await metadata.body.json()).toMatchObject({ name: 'dir/o', size: '5', md5Hash: 'XUFAKrxLKna5cZ2REBfFkg==' });
  });

  it("digests: 'crc32c' reports the CRC32C only (no MD5), and the stream verifies against it", async () => {
    const crcOnly = await createTestServer({ digests: 'crc32c', storeObjects: false });
    try {
      const url = crcOnly.createSession();
      const answer = await put(url, 'bytes 0-4/5', Buffer.from('hello'));
      expect(answer.status).toBe(200);
      // CRC32C of "hello", big-endian, base64.
      expect(JSON.parse(answer.text)).toMatchObject({ size: '5', crc32c: 'mnG7TA==' });
      expect(JSON.parse(answer.text)).not.toHaveProperty('md5Hash');
      const stream = createResumableWriteStream({ url: crcOnly.createSession(), chunkSize: K256 });
      await pipeline(Readable.from([Buffer.alloc(K256 + 3, 9)]), stream);
      expect(stream.result).toMatchObject({ verified: true });
    } finally {
      await crcOnly.close();
    }
  });
});

describe('fault vocabulary', () => {
  it.each([
    ['return-503', { kind: 'status', status: 503, afterBytes: undefined }],
    ['return-503-after-256K', { kind: 'status', status: 503, afterBytes: K256 }],
    ['return-reset-connection-after-1K', { kind: 'reset', afterBytes: 1024 }],
    ['persist-only-512K', { kind: 'persist-only', bytes: 2 * K256 }],
    ['stall-for-2s', { kind: 'stall', ms: 2000 }],
    ['stall-for-250ms', { kind: 'stall', ms: 250 }],
    ['session-gone-410', { kind: 'gone', status: 410 }],
  ])('%s', (name, parsed) => {
    expect(parseFault(name)).toEqual(parsed);
  });

  it('unknown names are a TypeError listing the vocabulary', () => {
    expect(() => parseFault('return-sometimes')).toThrow(/Unknown fault "return-sometimes": expected return-NNN/);
  });
});
