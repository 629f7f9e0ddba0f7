/**
 * GCS's rules for XML API multipart uploads, with no HTTP: part numbers 1 to 10,000, a part's
 * `x-goog-hash` checked (400 BadDigest), completion naming stored parts in ascending order with
 * their ETags (InvalidPart, InvalidPartOrder), every part but the last at least 5 MiB
 * (EntityTooSmall), and the object assembled with a CRC32C but no MD5, as GCS documents.
 */
import { createHash, randomBytes } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import { crcFromDigests, crcToBase64 } from '../checksum.js';
import { parseGoogHash } from '../protocols/gcs-multipart/wire.js';
import { crc32cUpdate } from '../crc32c.js';
import { crc32cCombine } from '../crc32c-combine.js';
import type { ArmedRule } from './faults.js';
import type { StoredObject } from './upload-session.js';

/** A refusal: the status and GCS's XML error code. */
export class GcsXmlFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface StoredPart {
  readonly data: Buffer;
  readonly etag: string;
  readonly crc32c: string;
  readonly md5: string;
  /** The CRC32C of `data`, the bytes kept (those of `crc32c` unless storage was faulted). */
  readonly storedCrc32c: number;
}

export interface OpenUpload {
  readonly id: string;
  readonly bucket: string;
  readonly name: string;
  readonly contentType: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly parts: Map<number, StoredPart>;
  readonly rules: ArmedRule[];
  /** Requests of each fault kind so far (rules count them from 1). */
  uploads: number;
  queries: number;
}

export const MAX_PART_NUMBER = 10_000;

const xml = new XMLParser({ parseTagValue: false, ignoreDeclaration: true });

/** The part number of a part upload, 1 to 10,000. */
export function parsePartNumber(value: string | null): number {
  const number = Number(value);
  if (!/^\d+$/.test(value ?? '') || number < 1 || number > MAX_PART_NUMBER) {
    throw new GcsXmlFailure(400, 'InvalidArgument', `partNumber must be an integer from 1 to ${MAX_PART_NUMBER}, received ${JSON.stringify(value)}`);
  }
  return number;
}

/** Digests of `data` as GCS reports them (base64). */
export function digestsOf(data: Buffer): { crc32c: string; md5: string } {
  return { crc32c: crcToBase64(crc32cUpdate(data)), md5: createHash('md5').update(data).digest('base64') };
}

/** A body whose `x-goog-hash` names a digest it does not have is refused before anything is stored. */
export function checkGoogHash(header: string | undefined, actual: { crc32c: string; md5: string }): void {
  if (header === undefined) return;
  const sent = parseGoogHash(header);
  for (const name of ['crc32c', 'md5'] as const) {
    const value = sent[name];
    if (value !== undefined && value !== actual[name]) {
      throw new GcsXmlFailure(400, 'BadDigest', `The ${name === 'crc32c' ? 'CRC32C' : 'MD5'} you specified (${value}) did not match what we received (${actual[name]}).`);
    }
  }
}

export function storePart(data: Buffer, googHash: string | undefined, corrupt: boolean): StoredPart {
  const digests = digestsOf(data);
  checkGoogHash(googHash, digests);
  // Bad storage: the digests (echoed) are of the bytes received, the stored copy differs.
  const stored = corrupt && data.length > 0 ? Buffer.from(data) : data;
  if (stored !== data) stored[0] = (stored[0] as number) ^ 0x01;
  const storedCrc32c = stored === data ? (crcFromDigests(digests) as number) : crc32cUpdate(stored);
  return { data: stored, etag: `"${Buffer.from(digests.md5, 'base64').toString('hex')}"`, ...digests, storedCrc32c };
}

/** The parts a completion names, in its order. */
function parseCompletion(body: string): Array<{ partNumber: number; etag: string }> {
  let parsed: { CompleteMultipartUpload?: { Part?: unknown } };
  try {
    parsed = xml.parse(body) as typeof parsed;
  } catch {
    throw new GcsXmlFailure(400, 'MalformedXML', 'The XML you provided was not well-formed');
  }
  const raw = parsed.CompleteMultipartUpload?.Part;
  const list = (raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]) as Array<{ PartNumber?: unknown; ETag?: unknown }>;
  if (list.length === 0) throw new GcsXmlFailure(400, 'MalformedXML', 'A completion must name at least one part');
  return list.map((part) => ({ partNumber: Number(part.PartNumber), etag: String(part.ETag ?? '') }));
}

/** The object a completion makes, or the refusal GCS would answer; nothing is changed on refusal. */
export function assemble(upload: OpenUpload, body: string, minPartSize: number, generation: string, storeObjects: boolean): StoredObject {
  const named = parseCompletion(body);
  const chosen: StoredPart[] = [];
  if (named.some(({ partNumber }, index) => index > 0 && partNumber <= (named[index - 1] as { partNumber: number }).partNumber)) {
    throw new GcsXmlFailure(400, 'InvalidPartOrder', 'The list of parts was not in ascending order. The parts list must be specified in order by part number.');
  }
  named.forEach(({ partNumber, etag }, index) => {
    const part = upload.parts.get(partNumber);
    if (!part || part.etag.replace(/"/g, '') !== etag.replace(/"/g, '')) {
      throw new GcsXmlFailure(400, 'InvalidPart', `One or more of the specified parts could not be found (part ${partNumber})`);
    }
    if (index < named.length - 1 && part.data.length < minPartSize) {
      throw new GcsXmlFailure(400, 'EntityTooSmall', `Your proposed upload is smaller than the minimum allowed object size (part ${partNumber}: ${part.data.length} bytes)`);
    }
    chosen.push(part);
  });
  // The object's CRC32C is combined from its parts' kept bytes (as GCS composes them), not hashed again.
  let crc32c = 0;
  for (const part of chosen) crc32c = crc32cCombine(crc32c, part.storedCrc32c, part.data.length);
  return {
    bucket: upload.bucket,
    name: upload.name,
    size: chosen.reduce((sum, part) => sum + part.data.length, 0),
    // A multipart object has a CRC32C but no MD5.
    md5Hash: undefined,
    crc32c: crcToBase64(crc32c),
    data: storeObjects ? Buffer.concat(chosen.map((part) => part.data)) : undefined,
    generation,
    contentType: upload.contentType,
    metadata: upload.metadata,
  };
}

/** One page of the parts above `marker`, at most `maxParts`. */
export function listPartsXml(upload: OpenUpload, marker: number, maxParts: number): string {
  const numbers = [...upload.parts.keys()].filter((number) => number > marker).sort((a, b) => a - b);
  const page = numbers.slice(0, maxParts);
  const truncated = numbers.length > page.length;
  const items = page
    .map((number) => {
      const part = upload.parts.get(number) as StoredPart;
      return `<Part><PartNumber>${number}</PartNumber><ETag>${part.etag.replace(/"/g, '&quot;')}</ETag><Size>${part.data.length}</Size></Part>`;
    })
    .join('');
  const next = truncated ? `<NextPartNumberMarker>${page[page.length - 1]}</NextPartNumberMarker>` : '';
  return (
    `<?xml version="1.0" encoding="UTF-8"?><ListPartsResult><Bucket>${escapeXml(upload.bucket)}</Bucket><Key>${escapeXml(upload.name)}</Key>` +
    `<UploadId>${upload.id}</UploadId><PartNumberMarker>${marker}</PartNumberMarker><MaxParts>${maxParts}</MaxParts>` +
    `<IsTruncated>${truncated}</IsTruncated>${next}${items}</ListPartsResult>`
  );
}

export function newUploadId(): string {
  return `ABPnzm${randomBytes(24).toString('base64url')}`;
}

export function errorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>`;
}

export const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
