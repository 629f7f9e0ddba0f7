/** The parts registry and the S3 parts adapter's pure half: names, session URLs, part digests, what an error answer means. */
import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../../src/options/index.js';
import type { PartsCall } from '../../src/parts/protocol.js';
import { PARTS_PROTOCOLS, isOffsetProtocolName, isPartsProtocolName, isProtocolName } from '../../src/protocols/index.js';
import type { TransportAnswer } from '../../src/transport.js';

const options = resolveOptions({ s3: { bucket: 'bkt', key: 'a/b c', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET' }, queueSize: 3 } });
const adapter = PARTS_PROTOCOLS.s3(options);
const call: PartsCall = {
  send: () => Promise.reject(new Error('no wire here')),
  sendOnce: () => Promise.reject(new Error('no wire here')),
  redactedUrl: 'http://127.0.0.1:9/bkt/a/b%20c?uploadId=<redacted>',
  context: () => ({ bytesCommitted: 0 }),
};
const answer = (status: number, body = ''): TransportAnswer => ({ status, headers: {}, body, bodyTruncated: false });
const s3Error = (code: string) => `<?xml version="1.0"?><Error><Code>${code}</Code><Message>m</Message></Error>`;

describe('registries', () => {
  it('s3 and azure are parts protocols; gcs and tus are offset protocols; isProtocolName covers both registries', () => {
    for (const name of ['s3', 'azure']) expect(isPartsProtocolName(name)).toBe(true);
    for (const name of ['s3', 'azure']) expect(isOffsetProtocolName(name)).toBe(false);
    for (const name of ['s3', 'azure', 'gcs', 'tus']) expect(isProtocolName(name)).toBe(true);
    for (const name of ['S3', 'Azure', '', undefined, 'toString']) expect(isProtocolName(name)).toBe(false);
  });

  it('the S3 factory reads its own resolved options', () => {
    expect(options.queueSize).toBe(3);
    expect(adapter.leavePartsOnError).toBe(false);
    expect(adapter.limits).toEqual({ minPartSize: 5 * 1024 ** 2, maxPartSize: 5 * 1024 ** 3, maxParts: 10_000, maxObjectSize: 5 * 1024 ** 4 });
    expect(adapter.targetUrl).toBe('http://127.0.0.1:9/bkt/a/b%20c');
  });
});

describe('S3 parts adapter', () => {
  it('session URLs round-trip; one for another object is refused', () => {
    const url = adapter.sessionUrl('id/+=');
    expect(adapter.parseSessionUrl(url)).toBe('id/+=');
    expect(adapter.parseSessionUrl(url.replace('/bkt/', '/other/'))).toBeUndefined();
    expect(adapter.parseSessionUrl('http://127.0.0.1:10/bkt/a/b%20c?uploadId=x')).toBeUndefined();
    expect(adapter.parseSessionUrl('http://127.0.0.1:9/bkt/a/b%20c')).toBeUndefined();
  });

  it('parts go with the checksum option’s digests until the server is seen to ignore CRC32C', () => {
    for (const option of ['crc32c', 'md5', 'both', false] as const) expect(adapter.partChecksum(option)).toBe(option);
  });

  it('error answers: 404 is the upload gone (not NoSuchBucket), digest codes a checksum mismatch, S3 retry codes retryable', () => {
    expect(adapter.answerError('part 1', answer(404, s3Error('NoSuchUpload')), call).code).toBe('RWS_SESSION_EXPIRED');
    expect(adapter.answerError('part 1', answer(404, s3Error('NoSuchBucket')), call)).toMatchObject({ code: 'RWS_HTTP_STATUS', retryable: false });
    expect(adapter.answerError('part 1', answer(400, s3Error('BadDigest')), call).code).toBe('RWS_CHECKSUM_MISMATCH');
    expect(adapter.answerError('part 1', answer(400, s3Error('RequestTimeout')), call)).toMatchObject({ code: 'RWS_HTTP_STATUS', retryable: true });
    expect(adapter.answerError('part 1', answer(403, s3Error('AccessDenied')), call)).toMatchObject({ code: 'RWS_HTTP_STATUS', retryable: false });
    const error = adapter.answerError('part 1', answer(503, 'not xml'), call);
    expect(error).toMatchObject({ code: 'RWS_HTTP_STATUS', retryable: true });
    expect(error.message).toContain(call.redactedUrl);
    expect(error.message).not.toContain('SECRET');
  });
});
