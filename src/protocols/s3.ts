/**
 * S3 multipart upload on the wire (AWS S3, MinIO, R2, Ceph): addressing, SigV4 signing (aws4),
 * the XML of the answers (fast-xml-parser), and the part-size schedule. The only file that knows
 * aws4 and fast-xml-parser; no I/O here — part-uploader.ts drives it.
 *
 * Parts are independent: `UploadPart` k can go while k−1 is still in flight, and a failed part
 * is simply sent again (S3 keeps the last complete upload of a part number; there is no partial
 * part to ask about). `CompleteMultipartUpload` names every part with its ETag; an answer of 200
 * can still carry an `<Error>` (S3 documents it), which is a failure.
 */
import aws4 from 'aws4';
import { XMLParser } from 'fast-xml-parser';
import type { S3Credentials } from '../credentials/aws.js';
import type { RetryExtras } from '../retry.js';

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
  const step = Math.floor((partNumber - 1) / PARTS_PER_SIZE_STEP);
  return Math.min(initial * 2 ** step, MAX_PART_SIZE);
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

const parser = new XMLParser({ parseTagValue: false, ignoreDeclaration: true });

function parseXml(body: string): Record<string, unknown> {
  try {
    return parser.parse(body) as Record<string, unknown>;
  } catch {
    return {};
  }
}

export interface S3ErrorBody {
  readonly code: string;
  readonly message: string;
}

/** The `<Error>` of an answer body, if it is one (S3 errors, and the 200-with-error of Complete). */
export function parseS3Error(body: string): S3ErrorBody | undefined {
  const error = parseXml(body)['Error'] as { Code?: unknown; Message?: unknown } | undefined;
  if (!error || typeof error !== 'object') return undefined;
  return { code: String(error.Code ?? 'Unknown'), message: String(error.Message ?? '') };
}

export function parseUploadId(body: string): string | undefined {
  const result = parseXml(body)['InitiateMultipartUploadResult'] as { UploadId?: unknown } | undefined;
  return typeof result?.UploadId === 'string' && result.UploadId !== '' ? result.UploadId : undefined;
}

/** `result.body` of an S3 upload: the object written. */
export interface S3ObjectResult {
  /** The object's URL, from CompleteMultipartUpload (absent after a PutObject). */
  readonly location?: string;
  readonly bucket: string;
  readonly key: string;
  /** Without quotes; undefined when the server gave none. */
  readonly etag: string | undefined;
}

/** The fields of a CompleteMultipartUploadResult, the ETag without quotes ('' when empty, as Ceph RGW answers). */
export function parseCompleteResult(body: string): { location?: string; etag: string } | undefined {
  const result = parseXml(body)['CompleteMultipartUploadResult'] as { Location?: unknown; ETag?: unknown } | undefined;
  if (!result || typeof result !== 'object') return undefined;
  const etag = typeof result.ETag === 'string' ? result.ETag.replace(/"/g, '') : '';
  return { ...(typeof result.Location === 'string' && result.Location !== '' ? { location: result.Location } : {}), etag };
}

export interface ListedPart {
  readonly partNumber: number;
  readonly etag: string;
  readonly size: number;
}

export interface PartsPage {
  readonly parts: ListedPart[];
  /** The marker for the next page, when the list is truncated. */
  readonly nextMarker: number | undefined;
}

/** One page of `ListParts`; undefined when the body is not a ListPartsResult. */
export function parsePartsPage(body: string): PartsPage | undefined {
  const result = parseXml(body)['ListPartsResult'] as { Part?: unknown; IsTruncated?: unknown; NextPartNumberMarker?: unknown } | undefined;
  if (!result || typeof result !== 'object') return undefined;
  const raw = result.Part === undefined ? [] : Array.isArray(result.Part) ? result.Part : [result.Part];
  const parts: ListedPart[] = [];
  for (const part of raw as Array<{ PartNumber?: unknown; ETag?: unknown; Size?: unknown }>) {
    const partNumber = Number(part.PartNumber);
    const size = Number(part.Size);
    if (!Number.isSafeInteger(partNumber) || !Number.isSafeInteger(size) || typeof part.ETag !== 'string') return undefined;
    parts.push({ partNumber, etag: part.ETag, size });
  }
  const truncated = result.IsTruncated === 'true';
  const marker = Number(result.NextPartNumberMarker);
  return { parts, nextMarker: truncated && Number.isSafeInteger(marker) ? marker : undefined };
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The body of `CompleteMultipartUpload`: every part in ascending order with its ETag (and CRC32C when sent). */
export function completeBody(parts: ReadonlyArray<{ partNumber: number; etag: string; crc32c?: string | undefined }>): string {
  const items = parts
    .map(
      ({ partNumber, etag, crc32c }) =>
        `<Part><PartNumber>${partNumber}</PartNumber><ETag>${escapeXml(etag)}</ETag>` +
        `${crc32c === undefined ? '' : `<ChecksumCRC32C>${crc32c}</ChecksumCRC32C>`}</Part>`,
    )
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${items}</CompleteMultipartUpload>`;
}

/**
 * The `headers` option sorted by the S3 requests that take them. Object headers describe the
 * object (metadata, SSE, storage class, ACL, tags, the HTTP headers GetObject gives back, object
 * lock): CreateMultipartUpload or PutObject. SSE-C keys go on every request that reads or writes
 * the object's bytes: UploadPart needs them, Complete and ListParts need them when the upload has
 * a checksum algorithm (our default), HEAD needs them to see the object. Requester-pays and the
 * expected bucket owner apply to every request.
 */
export interface S3Headers {
  readonly object: Readonly<Record<string, string>>;
  readonly sseCustomer: Readonly<Record<string, string>>;
  readonly everyRequest: Readonly<Record<string, string>>;
}

const OBJECT_HEADERS = new Set([
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-language',
  'content-type',
  'expires',
  'x-amz-acl',
  'x-amz-storage-class',
  'x-amz-tagging',
  'x-amz-website-redirect-location',
  'x-amz-server-side-encryption',
  'x-amz-server-side-encryption-aws-kms-key-id',
  'x-amz-server-side-encryption-context',
  'x-amz-server-side-encryption-bucket-key-enabled',
  'x-amz-object-lock-mode',
  'x-amz-object-lock-retain-until-date',
  'x-amz-object-lock-legal-hold',
]);
const OBJECT_PREFIXES = ['x-amz-meta-', 'x-amz-grant-'];
const SSE_CUSTOMER_HEADERS = new Set([
  'x-amz-server-side-encryption-customer-algorithm',
  'x-amz-server-side-encryption-customer-key',
  'x-amz-server-side-encryption-customer-key-md5',
]);
const EVERY_REQUEST_HEADERS = new Set(['x-amz-request-payer', 'x-amz-expected-bucket-owner']);

/**
 * Sorts lower-cased `headers` (see {@link S3Headers}); a header no S3 request of an upload takes
 * (or one the stream sets itself: signing, digests) is a TypeError naming it, never dropped.
 */
export function placeS3Headers(headers: Readonly<Record<string, string>>): S3Headers {
  const placed = { object: {} as Record<string, string>, sseCustomer: {} as Record<string, string>, everyRequest: {} as Record<string, string> };
  for (const [name, value] of Object.entries(headers)) {
    if (OBJECT_HEADERS.has(name) || OBJECT_PREFIXES.some((prefix) => name.startsWith(prefix) && name.length > prefix.length)) placed.object[name] = value;
    else if (SSE_CUSTOMER_HEADERS.has(name)) placed.sseCustomer[name] = value;
    else if (EVERY_REQUEST_HEADERS.has(name)) placed.everyRequest[name] = value;
    else {
      throw new TypeError(
        `\`headers\` may not set ${JSON.stringify(name)} with \`protocol: 's3'\`: no S3 request of an upload takes it from the caller ` +
          '(accepted: x-amz-meta-*, x-amz-server-side-encryption*, x-amz-storage-class, x-amz-acl, x-amz-grant-*, x-amz-tagging, cache-control, ' +
          'content-disposition, content-encoding, content-language, content-type, expires, x-amz-website-redirect-location, x-amz-object-lock-*, ' +
          'x-amz-request-payer, x-amz-expected-bucket-owner)',
      );
    }
  }
  const sseC = Object.keys(placed.sseCustomer).length;
  if (sseC !== 0 && sseC !== SSE_CUSTOMER_HEADERS.size) {
    const missing = [...SSE_CUSTOMER_HEADERS].filter((name) => !(name in placed.sseCustomer));
    throw new TypeError(`\`headers\` with SSE-C needs all three x-amz-server-side-encryption-customer-* headers: ${missing.join(', ')} missing`);
  }
  return placed;
}
