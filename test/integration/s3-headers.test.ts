/**
 * The `headers` option with S3: each header on the requests S3 takes it on, signed, checked by
 * the loopback S3 server (which refuses unsigned x-amz-* headers and SSE-C parts without the
 * key); one no S3 request takes is a TypeError at construction. And `result.body`, parsed.
 */
import { createHash, randomBytes } from 'node:crypto';
import aws4 from 'aws4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResumableWriteStream } from '../../src/index.js';
import { sha256 } from './helpers.js';
import { PART, startS3, uploadTo, type S3Bench } from './s3-helpers.js';

let bench: S3Bench;
beforeAll(async () => {
  bench = await startS3();
});
afterAll(() => bench.close());

const OBJECT_HEADERS = {
  'x-amz-meta-source': 'nightly',
  'x-amz-server-side-encryption': 'AES256',
  'x-amz-storage-class': 'STANDARD_IA',
  'x-amz-tagging': 'team=data',
  'cache-control': 'no-cache',
  'content-disposition': 'attachment; filename="db.sql.gz"',
};

function sseCustomer() {
  const key = randomBytes(32);
  return {
    'x-amz-server-side-encryption-customer-algorithm': 'AES256',
    'x-amz-server-side-encryption-customer-key': key.toString('base64'),
    'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(key).digest('base64'),
  };
}

const carries = (headers: Readonly<Record<string, string>>, wanted: Record<string, string>) => Object.entries(wanted).every(([name, value]) => headers[name] === value);

describe('s3: the headers option', () => {
  it('object headers go on CreateMultipartUpload only; the object keeps them', async () => {
    const outcome = await uploadTo(bench, 'headers/multipart', 2 * PART + 1, { headers: OBJECT_HEADERS });
    expect(outcome.error).toBeUndefined();
    expect(bench.s3.objectHeaders('bkt', 'headers/multipart')).toMatchObject(OBJECT_HEADERS);
    for (const entry of outcome.requests) expect([entry.operation, carries(entry.headers, OBJECT_HEADERS)]).toEqual([entry.operation, entry.operation === 'create']);
    // Signed, every one (the server checks the signature over the headers it names).
    expect(outcome.requests[0]?.signedHeaders).toEqual(expect.arrayContaining(Object.keys(OBJECT_HEADERS)));
  });

  it('and on the single PutObject of a small stream', async () => {
    const outcome = await uploadTo(bench, 'headers/put', 1000, { headers: OBJECT_HEADERS, s3: { contentType: 'application/gzip' } });
    expect(outcome.error).toBeUndefined();
    expect(outcome.wire).toEqual(['put 200']);
    expect(bench.s3.objectHeaders('bkt', 'headers/put')).toMatchObject({ ...OBJECT_HEADERS, 'content-type': 'application/gzip' });
  });

  it('SSE-C keys go on Create, every part and Complete; the server refuses a part without them', async () => {
    const keyHeaders = sseCustomer();
    const outcome = await uploadTo(bench, 'headers/sse-c', 2 * PART + 1, { headers: { ...keyHeaders, 'x-amz-meta-source': 'nightly' } });
    expect(outcome.error).toBeUndefined();
    expect(sha256(outcome.stored as Buffer)).toBe(sha256(outcome.data));
    expect(outcome.requests.map((entry) => `${entry.operation} ${carries(entry.headers, keyHeaders)}`)).toEqual(['create true', 'part true', 'part true', 'part true', 'complete true']);
    for (const entry of outcome.requests) expect(entry.signedHeaders).toEqual(expect.arrayContaining(Object.keys(keyHeaders)));
    // What the server checks: a part without the key is refused.
    const create = await signedFetch('POST', '/bkt/headers/sse-c-raw?uploads', keyHeaders);
    const uploadId = /<UploadId>(.+)<\/UploadId>/.exec(await create.text())?.[1] as string;
    const part = await signedFetch('PUT', `/bkt/headers/sse-c-raw?partNumber=1&uploadId=${uploadId}`, {}, 'x');
    expect(part.status).toBe(400);
    expect(await part.text()).toMatch(/InvalidRequest/);
  });

  it('SSE-C on a resume: ListParts and the check of the object carry the key too', async () => {
    const keyHeaders = sseCustomer();
    const first = await uploadTo(bench, 'headers/sse-c-resume', 2 * PART + 1, { headers: keyHeaders });
    expect(first.error).toBeUndefined();
    const after = await uploadTo(bench, 'headers/sse-c-resume', 0, { headers: keyHeaders, resume: checkpointOf(first.requests, 'headers/sse-c-resume') }, first.data);
    expect(after.error).toBeUndefined();
    expect(after.requests.map((entry) => `${entry.operation} ${entry.status} ${carries(entry.headers, keyHeaders)}`)).toEqual(['list 404 true', 'head 200 true']);
  });

  it('the server verifies the signature over the headers: one changed after signing is refused, an unsigned x-amz-* one too', async () => {
    const changed = await signedFetch('POST', '/bkt/headers/tampered?uploads', { 'x-amz-meta-source': 'nightly' }, undefined, { 'x-amz-meta-source': 'forged' });
    expect([changed.status, await changed.text()]).toEqual([403, expect.stringMatching(/SignatureDoesNotMatch/)]);
    const unsigned = await signedFetch('POST', '/bkt/headers/unsigned?uploads', {}, undefined, { 'x-amz-meta-extra': 'sneaked in' });
    expect([unsigned.status, await unsigned.text()]).toEqual([403, expect.stringMatching(/not signed: x-amz-meta-extra/)]);
  });

  it('a header no S3 request takes is a TypeError naming it, at construction', () => {
    const s3 = { bucket: 'b', key: 'k', credentials: { accessKeyId: 'a', secretAccessKey: 's' } };
    expect(() => createResumableWriteStream({ s3, headers: { 'x-request-id': '42' } })).toThrow(TypeError);
    expect(() => createResumableWriteStream({ s3, headers: { 'X-Request-Id': '42' } })).toThrow(/"x-request-id"/);
    expect(() => createResumableWriteStream({ s3, headers: { authorization: 'AWS4-HMAC-SHA256 …' } })).toThrow(/"authorization"/);
    expect(() => createResumableWriteStream({ s3, headers: { 'x-amz-checksum-crc32c': 'AAAAAA==' } })).toThrow(/"x-amz-checksum-crc32c"/);
    expect(() => createResumableWriteStream({ s3, headers: { 'x-amz-meta-': 'no name' } })).toThrow(/"x-amz-meta-"/);
    expect(() => createResumableWriteStream({ s3, headers: { 'x-amz-server-side-encryption-customer-algorithm': 'AES256' } })).toThrow(/customer-key, .*customer-key-md5 missing/);
    expect(() => createResumableWriteStream({ s3: { ...s3, contentType: 'a/b' }, headers: { 'content-type': 'c/d' } })).toThrow(/s3\.contentType/);
    expect(() => createResumableWriteStream({ s3, headers: { ...OBJECT_HEADERS, 'x-amz-request-payer': 'requester', 'x-amz-grant-read': 'id=1' } })).not.toThrow();
  });
});

describe('s3: result.body', () => {
  it('after CompleteMultipartUpload: { location, bucket, key, etag }', async () => {
    const outcome = await uploadTo(bench, 'body/multipart', PART + 1);
    expect(outcome.stream.result?.body).toEqual({ location: expect.stringMatching(/\/bkt\/body\/multipart$/), bucket: 'bkt', key: 'body/multipart', etag: expect.stringMatching(/^[0-9a-f]{32}-2$/) });
  });

  it('after PutObject: { bucket, key, etag }', async () => {
    const outcome = await uploadTo(bench, 'body/put', 10);
    expect(outcome.stream.result?.body).toEqual({ bucket: 'bkt', key: 'body/put', etag: createHash('md5').update(outcome.data).digest('hex') });
  });
});

/** A checkpoint for the upload a finished stream made (as if its process died before clearing it). */
function checkpointOf(requests: ReadonlyArray<{ operation: string }>, key: string) {
  expect(requests[0]?.operation).toBe('create');
  return { version: 1 as const, protocol: 's3' as const, url: `${bench.proxy.url}/bkt/${key}?uploadId=gone`, bytesCommitted: 0, createdAt: new Date().toISOString() };
}

/** A request signed as the client signs, straight to the server; `after` headers are set after signing. */
function signedFetch(method: string, path: string, headers: Record<string, string>, body?: string, after: Record<string, string> = {}) {
  const url = new URL(`${bench.s3.endpoint}${path}`);
  const signed = aws4.sign({ host: url.host, path: `${url.pathname}${url.search}`, method, service: 's3', region: bench.s3.region, headers: { ...headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }, bench.s3.credentials);
  const sent = Object.fromEntries(Object.entries(signed.headers ?? {}).filter(([name]) => !/^(host|content-length)$/i.test(name)).map(([name, value]) => [name, String(value)]));
  return fetch(url, { method, headers: { ...sent, ...after }, ...(body === undefined ? {} : { body }) });
}
