/**
 * S3 on the wire, addressing and signing: where an object lives (path-style or virtual-hosted),
 * the multipart upload's URL, and SigV4 (the only aws4 importer). No I/O: the adapter
 * (protocols/s3/adapter.ts) builds its requests here.
 *
 * Parts are independent: `UploadPart` k can go while k−1 is still in flight, and a failed part
 * is simply sent again (S3 keeps the last complete upload of a part number; there is no partial
 * part to ask about).
 */
import aws4 from 'aws4';
import type { S3Credentials } from '../../credentials/aws.js';
import { partSizeFor } from '../../parts/plan.js';
import type { PartLimits } from '../../parts/protocol.js';
import type { RetryExtras } from '../../retry.js';

/** S3's part of the classification table: error codes in an answer's body worth a retry. */
export const S3_RETRY: RetryExtras = { codes: new Set(['InternalError', 'SlowDown', 'RequestTimeout', 'ServiceUnavailable']) };

/** S3's smallest part (all but the last). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** S3's largest part. */
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
/** S3's largest part number. */
export const MAX_PARTS = 10_000;
/** The part size doubles every this many parts, so 10,000 parts reach past S3's 5 TiB object limit from 5 MiB parts. */
export const PARTS_PER_SIZE_STEP = 900;

/** S3's documented limits: the part plan (parts/plan.ts) doubles the part size every 900 parts within them. */
export const S3_LIMITS: PartLimits = { minPartSize: MIN_PART_SIZE, maxPartSize: MAX_PART_SIZE, maxParts: MAX_PARTS, maxObjectSize: 5 * 1024 ** 4 };

/** Where the object goes: resolved once per stream (who signs is asked per request: credentials/aws.ts). */
export interface S3Target {
  /** `https://host[:port]` with path-style addressing, or the virtual-hosted bucket origin. */
  readonly origin: string;
  /** The object's path on `origin`, encoded: `/bucket/key` (path style) or `/key`. */
  readonly objectPath: string;
  readonly region: string;
}

export interface S3Request {
  readonly method: 'PUT' | 'POST' | 'GET' | 'HEAD' | 'DELETE';
  readonly url: string;
  readonly headers: Record<string, string>;
}

/**
 * The size of part `partNumber` (1-based) for a first part size of `initial`: it doubles every
 * 900 parts, capped at 5 GiB, so an unknown-length stream never runs out of part numbers before
 * S3's 5 TiB object limit (from 5 MiB parts: 9.2 TiB in 10,000 parts; from 8 MiB: more).
 */
export function partSizeOf(partNumber: number, initial: number): number {
  return partSizeFor(S3_LIMITS, PARTS_PER_SIZE_STEP, initial, partNumber);
}

/** RFC 3986 encoding of each key segment, as SigV4 canonicalizes S3 paths. */
export function encodeKey(key: string): string {
  return key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

/**
 * Path-style (`https://endpoint/bucket/key`) for a custom endpoint (MinIO, R2, Ceph, a test
 * server); virtual-hosted (`https://bucket.s3.region.amazonaws.com/key`) for AWS itself.
 */
export function resolveTarget(fields: { bucket: string; key: string; region: string; endpoint: string | undefined }): S3Target {
  const key = encodeKey(fields.key);
  if (fields.endpoint !== undefined) {
    const origin = new URL(fields.endpoint).origin;
    return { origin, objectPath: `/${encodeURIComponent(fields.bucket)}/${key}`, region: fields.region };
  }
  return { origin: `https://${fields.bucket}.s3.${fields.region}.amazonaws.com`, objectPath: `/${key}`, region: fields.region };
}

/** The multipart upload's URL (`…/key?uploadId=…`): what checkpoints and errors carry (redacted in messages). */
export function uploadUrl(target: S3Target, uploadId: string): string {
  return `${target.origin}${target.objectPath}?uploadId=${encodeURIComponent(uploadId)}`;
}

/** The target and upload id back from {@link uploadUrl} (resuming from a checkpoint). */
export function parseUploadUrl(url: string): { origin: string; objectPath: string; uploadId: string } | undefined {
  const parsed = new URL(url);
  const uploadId = parsed.searchParams.get('uploadId');
  if (!uploadId) return undefined;
  return { origin: parsed.origin, objectPath: parsed.pathname, uploadId };
}

/**
 * Signs a request (SigV4, service s3) at the moment it is sent: a retry minutes later gets a
 * fresh signature. Bodies are not hashed into the signature (`UNSIGNED-PAYLOAD`, as the AWS
 * SDKs do for streamed bodies); with a checksum asked for, each part carries its own `Content-MD5`
 * or `x-amz-checksum-crc32c`, which S3 verifies.
 */
export function signRequest(target: S3Target, credentials: S3Credentials, method: S3Request['method'], pathAndQuery: string, headers: Record<string, string> = {}): S3Request {
  const url = new URL(`${target.origin}${pathAndQuery}`);
  const signed = aws4.sign(
    {
      host: url.host,
      path: `${url.pathname}${url.search}`,
      method,
      service: 's3',
      region: target.region,
      headers: { ...headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    },
    { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {}) },
  );
  const signedHeaders: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers ?? {})) {
    // undici sets Host and Content-Length from the URL and the body (the same values were signed).
    if (name.toLowerCase() === 'host' || name.toLowerCase() === 'content-length') continue;
    signedHeaders[name.toLowerCase()] = String(value);
  }
  return { method, url: url.href, headers: signedHeaders };
}

