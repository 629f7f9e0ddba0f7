/**
 * GCS's digests on the wire: sent as `X-Goog-Hash` with the final chunk (GCS refuses a corrupt
 * object before committing it), reported back in the object's JSON metadata (`crc32c`,
 * `md5Hash`) or the `x-goog-hash` header, and named in the body of a refusal.
 */
import type { Digests } from '../../checksum.js';
import type { StoredObject, WireRequest } from '../../offset/protocol.js';
import type { TransportAnswer } from '../../transport.js';
import { parseBody } from '../../upload-answers.js';

/**
 * A refused `X-Goog-Hash` names the digest: GCS answers 400 ("Provided CRC32C … doesn't match
 * calculated …"), Google's storage-testbench 412 ("crc32c validation failed. Expected …").
 */
export const DIGEST_REFUSAL = /crc32c|md5|hash|checksum/i;

/** `X-Goog-Hash: crc32c=…,md5=…`, or undefined when there is nothing to send. */
export function formatGoogHash(digests: Digests): string | undefined {
  const parts = [
    ...(digests.crc32c ? [`crc32c=${digests.crc32c}`] : []),
    ...(digests.md5 ? [`md5=${digests.md5}`] : []),
  ];
  return parts.length === 0 ? undefined : parts.join(',');
}

/** Which digest a refusal names (MD5 only when it names MD5 and not CRC32C); none unless the request sent `X-Goog-Hash`. */
export function refusedDigest(answer: TransportAnswer, wire: WireRequest): 'crc32c' | 'md5' | undefined {
  if (wire.headers['x-goog-hash'] === undefined) return undefined;
  return /md5/i.test(answer.body) && !/crc32c/i.test(answer.body) ? 'md5' : 'crc32c';
}

/** The object's metadata (JSON API), else the `x-goog-hash` header (XML API) for the digests. */
export function storedObject(answer: TransportAnswer): StoredObject {
  const body = parseBody(answer);
  const metadata = (typeof body === 'object' && body !== null ? body : {}) as { size?: unknown; crc32c?: unknown; md5Hash?: unknown };
  const fromHeader: Record<string, string> = {};
  for (const part of (answer.headers['x-goog-hash'] ?? '').split(',')) {
    const index = part.indexOf('=');
    if (index > 0) fromHeader[part.slice(0, index).trim()] = part.slice(index + 1).trim();
  }
  const crc = typeof metadata.crc32c === 'string' ? metadata.crc32c : fromHeader['crc32c'];
  const md5 = typeof metadata.md5Hash === 'string' ? metadata.md5Hash : fromHeader['md5'];
  // JSON metadata that did not parse was cut short (answers are read up to a bound).
  const unreadable = (answer.headers['content-type'] ?? '').includes('json') && typeof body === 'string';
  return { body, size: metadata.size, digests: { ...(crc ? { crc32c: crc } : {}), ...(md5 ? { md5 } : {}) }, unreadable };
}
