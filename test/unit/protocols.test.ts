/** The protocol adapters, pure: what goes on the wire and what an answer means to the core. */
import { describe, expect, it } from 'vitest';
import { createTusProtocol } from '../../src/protocols/tus/adapter.js';
import { createGcsProtocol } from '../../src/protocols/gcs/adapter.js';
import { environmentCredentials } from '../../src/credentials/aws.js';
import { completeBody, parseCompleteResult, parsePartsPage, parseS3Error, parseUploadId } from '../../src/protocols/s3/xml.js';
import { encodeKey, parseUploadUrl, resolveTarget, uploadUrl } from '../../src/protocols/s3/wire.js';
import { UploadState } from '../../src/offset/upload-state.js';
import type { ChunkRequest } from '../../src/offset/vocabulary.js';
import type { TransportAnswer } from '../../src/transport.js';

const answer = (status: number, headers: Record<string, string> = {}): TransportAnswer => ({ status, headers, body: '', bodyTruncated: false });
const chunk = (start: number, length: number, final: boolean): ChunkRequest => ({ kind: 'chunk', start, length, final, contentRange: '' });
const query = { kind: 'query', contentRange: 'bytes */*' } as const;

describe('the digests and stored object behind the seam (GCS knowledge stays in protocols/gcs)', () => {
  const withBody = (status: number, body: string, headers: Record<string, string> = {}): TransportAnswer => ({ status, headers, body, bodyTruncated: false });
  const sentHash = { method: 'PUT', headers: { 'content-range': 'bytes 0-9/10', 'x-goog-hash': 'crc32c=AAAAAA==,md5=x' } } as const;
  const sentNone = { method: 'PUT', headers: { 'content-range': 'bytes 0-9/10' } } as const;

  it.each([
    ['Provided CRC32C "abc" doesn\'t match calculated "def"', sentHash, 'crc32c'],
    ['Provided MD5 hash "abc" doesn\'t match calculated "def"', sentHash, 'md5'],
    ['md5 and crc32c validation failed', sentHash, 'crc32c'],
    ['Provided MD5 hash "abc" doesn\'t match', sentNone, undefined],
  ])('GCS: a refusal saying %j of a request %# names %s', (body, wire, expected) => {
    expect(createGcsProtocol().refusedDigest(withBody(400, body), wire)).toBe(expected);
  });

  it('GCS: size and digests from JSON metadata, else x-goog-hash; JSON cut short is unreadable', () => {
    const gcs = createGcsProtocol();
    const json = { 'content-type': 'application/json' };
    expect(gcs.storedObject(withBody(200, '{"size":"10","crc32c":"c","md5Hash":"m"}', json))).toMatchObject({ size: '10', digests: { crc32c: 'c', md5: 'm' }, unreadable: false });
    expect(gcs.storedObject(withBody(200, '', { 'x-goog-hash': 'crc32c=c2, md5=m2' }))).toEqual({ body: '', size: undefined, digests: { crc32c: 'c2', md5: 'm2' }, unreadable: false });
    expect(gcs.storedObject(withBody(200, '{"size":"10","crc3', json))).toMatchObject({ size: undefined, digests: {}, unreadable: true });
  });

  it('tus: no digests, the size is the offset of the complete upload', () => {
    const tus = createTusProtocol();
    expect(tus.refusedDigest(withBody(400, 'md5'), sentHash)).toBeUndefined();
    expect(tus.storedObject(answer(204, { 'upload-offset': '10', 'x-goog-hash': 'crc32c=c' }))).toEqual({ body: '', size: '10', digests: {}, unreadable: false });
  });
});

describe('tus adapter', () => {
  it('PATCH with Upload-Offset; the final one declares the length once the server does not know it', () => {
    const tus = createTusProtocol();
    expect(tus.chunkRequest(chunk(0, 10, false), () => ({}))).toEqual({
      method: 'PATCH',
      headers: { 'tus-resumable': '1.0.0', 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' },
    });
    expect(tus.chunkRequest(chunk(10, 0, true), () => ({})).headers['upload-length']).toBe('10');
    expect(tus.statusQuery(query)).toEqual({ method: 'HEAD', headers: { 'tus-resumable': '1.0.0' } });
    expect(tus.cancelRequest().method).toBe('DELETE');
  });

  it('a HEAD that reports the length: never sent again, and a stream ending elsewhere is a size mismatch', () => {
    const tus = createTusProtocol();
    expect(tus.summarize(answer(200, { 'upload-offset': '0', 'upload-length': '100' }), query)).toEqual({ status: 200, outcome: 'incomplete', persisted: { ok: true, persisted: 0 } });
    expect(tus.chunkRequest(chunk(0, 100, true), () => ({})).headers['upload-length']).toBeUndefined();
    expect(() => tus.chunkRequest(chunk(0, 99, true), () => ({}))).toThrow(/Upload-Length 100/);
  });

  it.each([
    ['204 with the offset', chunk(0, 10, false), answer(204, { 'upload-offset': '10' }), { outcome: 'incomplete', persisted: { ok: true, persisted: 10 } }],
    ['the final PATCH reaching its end', chunk(0, 10, true), answer(204, { 'upload-offset': '10' }), { outcome: 'complete' }],
    ['the final PATCH short of its end', chunk(0, 10, true), answer(204, { 'upload-offset': '4' }), { outcome: 'incomplete', persisted: { ok: true, persisted: 4 } }],
    ['204 without Upload-Offset', chunk(0, 10, false), answer(204), { outcome: 'incomplete', persisted: { ok: false } }],
    ['garbage Upload-Offset', chunk(0, 10, false), answer(204, { 'upload-offset': '-1' }), { outcome: 'incomplete', persisted: { ok: false } }],
    ['409 conflict', chunk(0, 10, false), answer(409), { outcome: 'failed', failure: 'retryable' }],
    ['423 locked', chunk(0, 10, false), answer(423), { outcome: 'failed', failure: 'retryable' }],
    ['404', chunk(0, 10, false), answer(404), { outcome: 'failed', failure: 'gone' }],
    ['410', chunk(0, 10, false), answer(410), { outcome: 'failed', failure: 'gone' }],
    ['412 (version)', chunk(0, 10, false), answer(412), { outcome: 'failed', failure: 'rejected' }],
    ['400', chunk(0, 10, false), answer(400), { outcome: 'failed', failure: 'rejected' }],
  ] as const)('%s', (_name, request, wire, expected) => {
    expect(createTusProtocol().summarize(wire, request)).toMatchObject(expected);
  });

  it('HEAD with offset = length is complete; the core accepts it only after the final request', () => {
    const tus = createTusProtocol();
    const summary = tus.summarize(answer(200, { 'upload-offset': '5', 'upload-length': '5' }), query);
    expect(summary).toEqual({ status: 200, outcome: 'complete' });
    const state = new UploadState(10, undefined);
    state.onWrite(5);
    expect(state.interpretQueryAnswer(summary, false)).toMatchObject({ type: 'protocol-error' });
  });
});

describe('S3 wire', () => {
  it('keys are RFC 3986-encoded per segment; path style for an endpoint, virtual-hosted for AWS', () => {
    expect(encodeKey("a b/c+d/(e)!*'.txt")).toBe('a%20b/c%2Bd/%28e%29%21%2A%27.txt');
    expect(resolveTarget({ bucket: 'bkt', key: 'x/y', region: 'eu-west-1', endpoint: 'http://127.0.0.1:9000/ignored' })).toMatchObject({ origin: 'http://127.0.0.1:9000', objectPath: '/bkt/x/y' });
    const aws = resolveTarget({ bucket: 'bkt', key: 'x', region: 'eu-west-1', endpoint: undefined });
    expect(aws).toMatchObject({ origin: 'https://bkt.s3.eu-west-1.amazonaws.com', objectPath: '/x' });
    expect(parseUploadUrl(uploadUrl(aws, 'id/with+chars'))).toEqual({ origin: aws.origin, objectPath: '/x', uploadId: 'id/with+chars' });
  });

  it('answers: UploadId, paginated ListParts, <Error>, the completed ETag', () => {
    expect(parseUploadId('<?xml version="1.0"?><InitiateMultipartUploadResult><UploadId>abc</UploadId></InitiateMultipartUploadResult>')).toBe('abc');
    expect(parseUploadId('<Error><Code>AccessDenied</Code></Error>')).toBeUndefined();
    const one = parsePartsPage('<ListPartsResult><IsTruncated>true</IsTruncated><NextPartNumberMarker>1</NextPartNumberMarker><Part><PartNumber>1</PartNumber><ETag>&quot;aa&quot;</ETag><Size>5</Size></Part></ListPartsResult>');
    expect(one).toEqual({ parts: [{ partNumber: 1, etag: '"aa"', size: 5 }], nextMarker: 1 });
    expect(parsePartsPage('<ListPartsResult><IsTruncated>false</IsTruncated></ListPartsResult>')).toEqual({ parts: [], nextMarker: undefined });
    expect(parsePartsPage('not xml at all <<<')).toBeUndefined();
    expect(parseS3Error('<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>')).toEqual({ code: 'SlowDown', message: 'Reduce your request rate.' });
    expect(parseS3Error('<CompleteMultipartUploadResult><ETag>"x-2"</ETag></CompleteMultipartUploadResult>')).toBeUndefined();
    expect(parseCompleteResult('<CompleteMultipartUploadResult><Location>http://h/b/k</Location><ETag>&quot;x-2&quot;</ETag></CompleteMultipartUploadResult>')).toEqual({ location: 'http://h/b/k', etag: 'x-2' });
    expect(parseCompleteResult('<CompleteMultipartUploadResult><ETag></ETag></CompleteMultipartUploadResult>')).toEqual({ etag: '' });
  });

  it('Complete lists the parts with escaped ETags and their CRC32C', () => {
    expect(completeBody([{ partNumber: 1, etag: '"a&b"', crc32c: 'AAAAAA==' }, { partNumber: 2, etag: '"c"' }])).toContain(
      '<Part><PartNumber>1</PartNumber><ETag>&quot;a&amp;b&quot;</ETag><ChecksumCRC32C>AAAAAA==</ChecksumCRC32C></Part><Part><PartNumber>2</PartNumber><ETag>&quot;c&quot;</ETag></Part>',
    );
  });

  it('credentials from the environment: keys (and session token) unless AWS_PROFILE is set, as the AWS default chain reads them', () => {
    expect(environmentCredentials({ AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's', AWS_SESSION_TOKEN: 't' })).toEqual({ accessKeyId: 'k', secretAccessKey: 's', sessionToken: 't' });
    expect(environmentCredentials({ AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's', AWS_PROFILE: 'dev' })).toBeUndefined();
    expect(environmentCredentials({ AWS_ACCESS_KEY_ID: 'k' })).toBeUndefined();
    expect(environmentCredentials({ AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's', AWS_CREDENTIAL_EXPIRATION: '2030-01-01T00:00:00Z' })?.expiration).toEqual(new Date('2030-01-01T00:00:00Z'));
  });
});
