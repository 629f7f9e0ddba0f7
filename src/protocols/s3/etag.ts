/**
 * What S3's answers say about the bytes: the digests a request carries (Content-MD5,
 * x-amz-checksum-crc32c), the echoes to compare them with, and the ETag arithmetic of a
 * completed object. S3, MinIO and Ceph give a multipart object the MD5 of its parts' MD5s with
 * "-N"; some servers give the whole object's MD5; a part's ETag is its MD5.
 */
import { createHash } from 'node:crypto';
import type { Digests } from '../../checksum.js';
import { ChecksumMismatchError } from '../../errors.js';
import type { PartsCall } from '../../parts/protocol.js';
import type { TransportAnswer } from '../../transport.js';

const PLAIN_MD5_ETAG = /^"?([0-9a-f]{32})"?$/i;
const MULTIPART_ETAG = /^[0-9a-f]{32}-\d+$/i;

export const base64ToHex = (base64: string) => Buffer.from(base64, 'base64').toString('hex');
export const unquote = (etag: string | undefined) => etag?.replace(/"/g, '') || undefined;

/** The hex MD5 an ETag is, when it is a plain MD5 (lower case). */
export function plainMd5(etag: string | undefined): string | undefined {
  return PLAIN_MD5_ETAG.exec(etag ?? '')?.[1]?.toLowerCase();
}

/** Content-MD5 and x-amz-checksum-crc32c, per the digests given: S3 verifies both. */
export function checksumHeaders(sums: Digests): Record<string, string> {
  return {
    ...(sums.md5 === undefined ? {} : { 'content-md5': sums.md5 }),
    ...(sums.crc32c === undefined ? {} : { 'x-amz-checksum-crc32c': sums.crc32c, 'x-amz-sdk-checksum-algorithm': 'CRC32C' }),
  };
}

/** A request sent with CRC32C alone whose answer does not echo it: the server did not check it. */
export function unverifiedCrc(answer: TransportAnswer, sums: Digests): boolean {
  return sums.crc32c !== undefined && sums.md5 === undefined && answer.headers['x-amz-checksum-crc32c'] === undefined;
}

export function digestMismatch(call: PartsCall, algorithm: 'crc32c' | 'md5', ours: string, theirs: string, what: string): ChecksumMismatchError {
  return new ChecksumMismatchError(algorithm, ours, theirs, `${what}: S3 reports ${algorithm} ${theirs}, the bytes sent have ${ours} (${call.redactedUrl}); nothing was completed`, call.context());
}

/** Compares what the server echoed (x-amz-checksum-crc32c, a plain-MD5 ETag) with our digests; whether any was compared. */
export function checkEchoes(call: PartsCall, what: string, answer: TransportAnswer, sums: Digests): boolean {
  let compared = false;
  const echoedCrc = answer.headers['x-amz-checksum-crc32c'];
  if (sums.crc32c !== undefined && echoedCrc !== undefined) {
    if (echoedCrc !== sums.crc32c) throw digestMismatch(call, 'crc32c', sums.crc32c, echoedCrc, what);
    compared = true;
  }
  const etagMd5 = plainMd5(answer.headers['etag']);
  if (sums.md5 !== undefined && etagMd5 !== undefined) {
    const ours = base64ToHex(sums.md5);
    if (etagMd5 !== ours) throw digestMismatch(call, 'md5', ours, etagMd5, what);
    compared = true;
  }
  return compared;
}

/** The multipart ETag of parts with these MD5s; undefined unless every one is known. */
export function multipartEtag(partMd5Hex: ReadonlyArray<string | undefined>): string | undefined {
  if (partMd5Hex.length === 0 || partMd5Hex.some((md5) => md5 === undefined)) return undefined;
  const digest = createHash('md5');
  for (const md5 of partMd5Hex) digest.update(Buffer.from(md5 as string, 'hex'));
  return `${digest.digest('hex')}-${partMd5Hex.length}`;
}

/**
 * What the completed object's ETag must be, when we can tell: the multipart form needs every
 * part's MD5, the plain form the stream's MD5. Undefined when the ETag is neither form or the
 * digests are missing.
 */
export function expectedEtag(etag: string | undefined, partMd5Hex: ReadonlyArray<string | undefined>, wholeMd5Hex: string | undefined): string | undefined {
  if (etag === undefined) return undefined;
  if (MULTIPART_ETAG.test(etag)) return multipartEtag(partMd5Hex);
  if (PLAIN_MD5_ETAG.test(etag)) return wholeMd5Hex;
  return undefined;
}

/** Base64 MD5 of `body`. */
export function md5Base64(body: readonly Uint8Array[]): string {
  const digest = createHash('md5');
  for (const piece of body) digest.update(piece);
  return digest.digest('base64');
}
