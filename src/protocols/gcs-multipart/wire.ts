/**
 * GCS XML API multipart upload on the wire, with no I/O: the limits GCS documents, the upload's
 * URL, the digests in `x-goog-hash`, and GCS's error codes. The XML is S3's (GCS documents the
 * API as compatible with S3 multipart uploads), so the answers are read with protocols/s3/xml.ts's
 * parsers rather than a copy of them.
 */
import { findMismatch, type Digests } from '../../checksum.js';
import { formatGoogHash } from '../gcs/digests.js';
import type { PartLimits } from '../../parts/protocol.js';
import type { RetryExtras } from '../../retry.js';
import type { TransportAnswer } from '../../transport.js';

const MiB = 1024 * 1024;

/**
 * From GCS's own documentation of XML API multipart uploads: every part but the last at least
 * 5 MiB, at most 5 GiB, part numbers 1 to 10,000, and no object larger than 5 TiB.
 */
export const GCS_MULTIPART_LIMITS: PartLimits = {
  minPartSize: 5 * MiB,
  maxPartSize: 5 * 1024 * MiB,
  maxParts: 10_000,
  maxObjectSize: 5 * 1024 * 1024 * MiB,
};

/** GCS's part of the classification table: XML error codes worth a retry whatever the status. */
export const GCS_MULTIPART_RETRY: RetryExtras = { codes: new Set(['InternalError', 'ServiceUnavailable', 'SlowDown', 'RequestTimeout']) };

/** XML error codes that mean the bytes GCS received are not the ones whose digest was sent. */
export const DIGEST_CODES: ReadonlySet<string> = new Set(['BadDigest', 'InvalidDigest']);

/** The upload's URL (`…/OBJECT?uploadId=…`): what checkpoints carry. */
export function uploadUrl(objectUrl: string, uploadId: string): string {
  return `${objectUrl}?uploadId=${encodeURIComponent(uploadId)}`;
}

/** The upload id of a checkpoint's URL; undefined when it is not an upload of `objectUrl`. */
export function parseUploadUrl(objectUrl: string, url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const uploadId = parsed.searchParams.get('uploadId');
  return uploadId && `${parsed.origin}${parsed.pathname}` === objectUrl ? uploadId : undefined;
}

/** `x-goog-hash` for `digests` (crc32c and/or md5), or nothing when no digest is asked for. */
export function hashHeader(digests: Digests): Record<string, string> {
  const value = formatGoogHash(digests);
  return value === undefined ? {} : { 'x-goog-hash': value };
}

/** The digests an `x-goog-hash` value names (one header, or several joined by commas). */
export function parseGoogHash(header: string | undefined): Digests {
  const found: Record<string, string> = {};
  for (const part of (header ?? '').split(',')) {
    const index = part.indexOf('=');
    if (index > 0) found[part.slice(0, index).trim()] = part.slice(index + 1).trim();
  }
  return { ...(found['crc32c'] ? { crc32c: found['crc32c'] } : {}), ...(found['md5'] ? { md5: found['md5'] } : {}) };
}

/** The digests an answer's `x-goog-hash` reports. */
export function answerDigests(answer: TransportAnswer): Digests {
  return parseGoogHash(answer.headers['x-goog-hash']);
}

/**
 * Compares what the answer reports with `ours`: the differing digest, `'matched'` when at least
 * one digest was compared, `'unchecked'` when none was.
 */
export function compareDigests(answer: TransportAnswer, ours: Digests): NonNullable<ReturnType<typeof findMismatch>> | 'matched' | 'unchecked' {
  const theirs = answerDigests(answer);
  const mismatch = findMismatch(ours, theirs);
  if (mismatch) return mismatch;
  const compared = (['crc32c', 'md5'] as const).some((name) => ours[name] !== undefined && theirs[name] !== undefined);
  return compared ? 'matched' : 'unchecked';
}

const PLAIN_MD5_ETAG = /^"?([0-9a-f]{32})"?$/i;

/** The hex MD5 an ETag carries when it is a plain MD5 (a part's), else undefined. */
export function etagMd5Hex(etag: string | undefined): string | undefined {
  return PLAIN_MD5_ETAG.exec(etag ?? '')?.[1]?.toLowerCase();
}

/** `result.body` of a gcs-multipart upload: the object written. */
export interface GcsObjectResult {
  readonly bucket: string;
  readonly name: string;
  /** Without quotes; undefined when the answer gave none. */
  readonly etag: string | undefined;
}
