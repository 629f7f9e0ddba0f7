/**
 * What S3 checks of a request's bytes and headers, with no HTTP of its own: the headers kept with
 * an object, SSE-C keys, Content-MD5 and CRC32C, and CompleteMultipartUpload's part list.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { XMLParser } from 'fast-xml-parser';
import { crcToBase64 } from '../../checksum.js';
import { crc32cUpdate as crc32c } from '../../crc32c.js';
import { headerValue as header, pickHeaders } from '../http-harness.js';
import { S3Failure, type OpenUpload, type StoredPart } from './wire.js';

const xml = new XMLParser({ parseTagValue: false, ignoreDeclaration: true });
export const md5Hex = (data: Buffer) => createHash('md5').update(data).digest('hex');
export const flatHeaders = (req: IncomingMessage) => pickHeaders(req, Object.keys(req.headers));

/** Headers S3 keeps with an object (what CreateMultipartUpload or PutObject was given). */
const KEPT_HEADERS = /^(x-amz-meta-.+|x-amz-server-side-encryption.*|x-amz-storage-class|x-amz-acl|x-amz-grant-.+|x-amz-tagging|x-amz-website-redirect-location|x-amz-object-lock-.+|cache-control|content-disposition|content-encoding|content-language|content-type|expires)$/;

export function objectHeadersOf(req: IncomingMessage): Record<string, string> {
  return Object.fromEntries(Object.entries(flatHeaders(req)).filter(([name]) => KEPT_HEADERS.test(name)));
}

/** What HEAD and GET give back: not the SSE-C key, nor ACLs and tags (S3 gives neither). */
export function visibleHeaders(headers: Record<string, string>): Record<string, string> {
  const hidden = /^(x-amz-server-side-encryption-customer-key|x-amz-acl|x-amz-grant-.+|x-amz-tagging)$/;
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !hidden.test(name)));
}

const SSE_C = 'x-amz-server-side-encryption-customer-';

/** A given SSE-C key must be 256 bits with the MD5 given beside it (S3: 400 InvalidArgument). */
export function checkSseCustomerKey(req: IncomingMessage): void {
  const key = header(req, `${SSE_C}key`);
  if (key === undefined && header(req, `${SSE_C}algorithm`) === undefined) return;
  if (header(req, `${SSE_C}algorithm`) !== 'AES256' || key === undefined || Buffer.from(key, 'base64').length !== 32) {
    throw new S3Failure(400, 'InvalidArgument', 'Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm and a 256-bit key.');
  }
  if (header(req, `${SSE_C}key-md5`) !== createHash('md5').update(Buffer.from(key, 'base64')).digest('base64')) {
    throw new S3Failure(400, 'InvalidArgument', 'The calculated MD5 hash of the key did not match the hash that was provided.');
  }
}

/** Bytes written or read under SSE-C need the key they were created with (S3: 400 InvalidRequest). */
export function requireSameSseKey(req: IncomingMessage, created: Record<string, string>): void {
  const wanted = created[`${SSE_C}key-md5`];
  if (wanted === undefined || header(req, `${SSE_C}key-md5`) === wanted) return;
  throw new S3Failure(400, 'InvalidRequest', 'The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.');
}

/** Content-MD5 and x-amz-checksum-crc32c, when sent, must be those of the body (else 400 BadDigest). */
export function checkDigests(req: IncomingMessage, body: Buffer, requiredAlgorithm: string | undefined, verify: boolean, ignoreChecksums: boolean): { crc32c: string; echo: boolean } {
  const sentCrc = ignoreChecksums ? undefined : header(req, 'x-amz-checksum-crc32c');
  if (!verify) return { crc32c: sentCrc ?? '', echo: false };
  const contentMd5 = header(req, 'content-md5');
  if (contentMd5 !== undefined && contentMd5 !== createHash('md5').update(body).digest('base64')) {
    throw new S3Failure(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
  }
  const crc = crcToBase64(crc32c(body));
  if (sentCrc !== undefined && sentCrc !== crc) throw new S3Failure(400, 'BadDigest', 'The CRC32C you specified did not match the calculated checksum.');
  if (requiredAlgorithm?.toUpperCase() === 'CRC32C' && sentCrc === undefined) {
    throw new S3Failure(400, 'InvalidRequest', 'The upload was created using a CRC32C checksum; the part must carry x-amz-checksum-crc32c.');
  }
  return { crc32c: crc, echo: sentCrc !== undefined };
}

/** CompleteMultipartUpload's checks, then the object and its multipart ETag. */
export function assemble(upload: OpenUpload, body: string, minPartSize: number, ignoreChecksums: boolean): { data: Buffer; etag: string } {
  let listed: Array<{ PartNumber?: unknown; ETag?: unknown; ChecksumCRC32C?: unknown }>;
  try {
    const parsed = xml.parse(body) as { CompleteMultipartUpload?: { Part?: unknown } };
    const parts = parsed.CompleteMultipartUpload?.Part;
    listed = (parts === undefined ? [] : Array.isArray(parts) ? parts : [parts]) as typeof listed;
  } catch {
    listed = [];
  }
  if (listed.length === 0) throw new S3Failure(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
  const chosen: StoredPart[] = [];
  let previous = 0;
  for (const [index, item] of listed.entries()) {
    const number = Number(item.PartNumber);
    if (!(number > previous)) throw new S3Failure(400, 'InvalidPartOrder', 'The list of parts was not in ascending order.');
    previous = number;
    const stored = upload.parts.get(number);
    if (!stored || String(item.ETag).replace(/"/g, '') !== stored.etag.replace(/"/g, '')) {
      throw new S3Failure(400, 'InvalidPart', `One or more of the specified parts could not be found (part ${number}).`);
    }
    if (!ignoreChecksums && item.ChecksumCRC32C !== undefined && item.ChecksumCRC32C !== stored.crc32c) throw new S3Failure(400, 'InvalidPart', `Part ${number}: checksum mismatch.`);
    if (index < listed.length - 1 && stored.size < minPartSize) {
      throw new S3Failure(400, 'EntityTooSmall', `Your proposed upload is smaller than the minimum allowed size (part ${number}).`);
    }
    chosen.push(stored);
  }
  const etagDigest = createHash('md5');
  for (const part of chosen) etagDigest.update(Buffer.from(part.etag.replace(/"/g, ''), 'hex'));
  return { data: Buffer.concat(chosen.map((part) => part.data)), etag: `${etagDigest.digest('hex')}-${chosen.length}` };
}

