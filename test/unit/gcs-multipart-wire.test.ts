import { describe, expect, it } from 'vitest';
import { compareDigests, etagMd5Hex, GCS_MULTIPART_LIMITS, hashHeader, parseUploadUrl, uploadUrl } from '../../src/protocols/gcs-multipart/wire.js';

const objectUrl = 'https://storage.googleapis.com/bkt/a/b%20c.bin';
const answer = (googHash?: string) => ({ status: 200, headers: googHash === undefined ? {} : { 'x-goog-hash': googHash }, body: '', bodyTruncated: false });

describe('gcs-multipart wire helpers', () => {
  it("GCS's limits: 5 MiB to 5 GiB parts, 10,000 of them, 5 TiB objects", () => {
    expect(GCS_MULTIPART_LIMITS).toEqual({ minPartSize: 5 * 2 ** 20, maxPartSize: 5 * 2 ** 30, maxParts: 10_000, maxObjectSize: 5 * 2 ** 40 });
  });

  it('an upload URL round-trips, and one for another object is not taken for ours', () => {
    const url = uploadUrl(objectUrl, 'ABPnzm+/=id');
    expect(parseUploadUrl(objectUrl, url)).toBe('ABPnzm+/=id');
    expect(parseUploadUrl('https://storage.googleapis.com/bkt/other', url)).toBeUndefined();
    expect(parseUploadUrl(objectUrl, objectUrl)).toBeUndefined();
    expect(parseUploadUrl(objectUrl, 'not a url')).toBeUndefined();
  });

  it('x-goog-hash: sent per the digests, compared with what the answer reports (one header or several joined)', () => {
    expect(hashHeader({})).toEqual({});
    expect(hashHeader({ crc32c: 'AAAAAA==', md5: 'MD5=' })).toEqual({ 'x-goog-hash': 'crc32c=AAAAAA==,md5=MD5=' });
    expect(compareDigests(answer('crc32c=AAAAAA==, md5=MD5='), { crc32c: 'AAAAAA==' })).toBe('matched');
    expect(compareDigests(answer(), { crc32c: 'AAAAAA==' })).toBe('unchecked');
    expect(compareDigests(answer('crc32c=AAAAAA=='), { md5: 'MD5=' })).toBe('unchecked');
    expect(compareDigests(answer('crc32c=BBBBBB=='), { crc32c: 'AAAAAA==' })).toEqual({ name: 'crc32c', ours: 'AAAAAA==', theirs: 'BBBBBB==' });
  });

  it('a plain-MD5 ETag gives the part’s MD5; a multipart one gives none', () => {
    expect(etagMd5Hex('"0CC175B9C0F1B6A831C399E269772661"')).toBe('0cc175b9c0f1b6a831c399e269772661');
    expect(etagMd5Hex('"abc-2"')).toBeUndefined();
    expect(etagMd5Hex(undefined)).toBeUndefined();
  });
});
