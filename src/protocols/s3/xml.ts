/**
 * S3's XML (read through protocols/xml.ts): the `<Error>` of an answer (also inside a 200 of
 * CompleteMultipartUpload, which S3 documents as a failure), CreateMultipartUpload's upload id,
 * ListParts pages, Complete's result, and Complete's own body.
 */
import { parseXml } from '../xml.js';

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

export interface S3ListedPart {
  readonly partNumber: number;
  readonly etag: string;
  readonly size: number;
}

export interface PartsPage {
  readonly parts: S3ListedPart[];
  /** The marker for the next page, when the list is truncated. */
  readonly nextMarker: number | undefined;
}

/** One page of `ListParts`; undefined when the body is not a ListPartsResult. */
export function parsePartsPage(body: string): PartsPage | undefined {
  const result = parseXml(body)['ListPartsResult'] as { Part?: unknown; IsTruncated?: unknown; NextPartNumberMarker?: unknown } | undefined;
  if (!result || typeof result !== 'object') return undefined;
  const raw = result.Part === undefined ? [] : Array.isArray(result.Part) ? result.Part : [result.Part];
  const parts: S3ListedPart[] = [];
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

