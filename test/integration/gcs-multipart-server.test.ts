/**
 * The loopback server's XML multipart endpoints, spoken to with plain HTTP: what GCS refuses,
 * it refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createTestServer, type TestServer } from '../../src/testing/index.js';

const TOKEN = 'raw-token';
let server: TestServer;
beforeAll(async () => {
  server = await createTestServer({ token: TOKEN });
});
afterAll(() => server.close());

async function send(method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'HEAD', path: string, body?: string | Buffer, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) {
  const answer = await request(`${server.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  return { status: answer.statusCode, headers: answer.headers, text: await answer.body.text() };
}

async function initiate(name: string): Promise<string> {
  const answer = await send('POST', `/bkt/${name}?uploads`);
  return /<UploadId>([^<]+)<\/UploadId>/.exec(answer.text)?.[1] as string;
}

describe('the loopback XML multipart endpoints', () => {
  it('refuse a request without Authorization (401) or with another bearer token (403)', async () => {
    expect((await send('POST', '/bkt/o?uploads', undefined, {})).status).toBe(401);
    const wrong = await send('POST', '/bkt/o?uploads', undefined, { authorization: 'Bearer nope' });
    expect(wrong.status).toBe(403);
    expect(wrong.text).toContain('<Code>AccessDenied</Code>');
  });

  it('page ListParts by max-parts and part-number-marker', async () => {
    const id = await initiate('paged');
    for (const number of [1, 2, 3]) expect((await send('PUT', `/bkt/paged?partNumber=${number}&uploadId=${id}`, `part ${number}`)).status).toBe(200);
    const first = await send('GET', `/bkt/paged?uploadId=${id}&max-parts=2`);
    expect(first.text).toMatch(/<IsTruncated>true<\/IsTruncated><NextPartNumberMarker>2<\/NextPartNumberMarker>/);
    expect(first.text.match(/<PartNumber>/g)).toHaveLength(2);
    const second = await send('GET', `/bkt/paged?uploadId=${id}&max-parts=2&part-number-marker=2`);
    expect(second.text).toMatch(/<IsTruncated>false<\/IsTruncated>.*<PartNumber>3<\/PartNumber>/);
  });

  it('refuse part numbers outside 1..10000 and a part whose x-goog-hash differs (400 BadDigest)', async () => {
    const id = await initiate('rules');
    expect((await send('PUT', `/bkt/rules?partNumber=0&uploadId=${id}`, 'x')).status).toBe(400);
    expect((await send('PUT', `/bkt/rules?partNumber=10001&uploadId=${id}`, 'x')).status).toBe(400);
    const bad = await send('PUT', `/bkt/rules?partNumber=1&uploadId=${id}`, 'x', { authorization: `Bearer ${TOKEN}`, 'x-goog-hash': 'crc32c=AAAAAA==' });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('<Code>BadDigest</Code>');
    const good = await send('PUT', `/bkt/rules?partNumber=1&uploadId=${id}`, 'x');
    expect(good.headers['x-goog-hash']).toMatch(/^crc32c=.+,md5=.+$/);
  });

  it('DELETE answers 204, then the upload is 404 NoSuchUpload; HEAD of a missing object is 404', async () => {
    const id = await initiate('deleted');
    expect((await send('DELETE', `/bkt/deleted?uploadId=${id}`)).status).toBe(204);
    const after = await send('GET', `/bkt/deleted?uploadId=${id}`);
    expect(after.status).toBe(404);
    expect(after.text).toContain('<Code>NoSuchUpload</Code>');
    expect((await send('HEAD', '/bkt/deleted')).status).toBe(404);
  });

  it('a completion naming no part is MalformedXML; the resumable endpoints are unaffected', async () => {
    const id = await initiate('empty');
    const answer = await send('POST', `/bkt/empty?uploadId=${id}`, '<CompleteMultipartUpload></CompleteMultipartUpload>');
    expect(answer.status).toBe(400);
    expect(answer.text).toContain('MalformedXML');
    const uri = server.createSession({ api: 'xml', name: 'resumable' });
    expect((await send('PUT', new URL(uri).pathname + new URL(uri).search, 'abc', { 'content-range': 'bytes 0-2/3' })).status).toBe(200);
  });
});
