/**
 * SigV4 (header form) as S3 checks it, recomputed from the request as received with an
 * implementation of its own, independent of the client's signing library; and the key that
 * signed it: known, unexpired, with its session token, its date within 15 minutes.
 */
import { createHash, createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { headerValue as header } from '../http-harness.js';
import type { S3TestKey } from '../s3-server.js';
import { S3Failure } from './wire.js';

/** 15 minutes, as S3 allows between `x-amz-date` and its own clock. */
const MAX_SKEW_MS = 15 * 60_000;

/** The key that signed the request, known, unexpired and with its session token; S3's errors otherwise. */
function knownKey(req: IncomingMessage, keys: ReadonlyMap<string, S3TestKey>, accessKeyId: string): S3TestKey {
  const key = keys.get(accessKeyId);
  if (key === undefined) throw new S3Failure(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
  if (key.expiresAt !== undefined && Date.now() >= key.expiresAt) throw new S3Failure(400, 'ExpiredToken', 'The provided token has expired.');
  if (key.sessionToken !== undefined && header(req, 'x-amz-security-token') !== key.sessionToken) {
    throw new S3Failure(403, 'InvalidToken', 'The provided token is malformed or otherwise invalid.');
  }
  const amzDate = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(header(req, 'x-amz-date') ?? '');
  const signedAt = amzDate ? Date.UTC(+amzDate[1]!, +amzDate[2]! - 1, +amzDate[3]!, +amzDate[4]!, +amzDate[5]!, +amzDate[6]!) : Number.NaN;
  if (!(Math.abs(Date.now() - signedAt) <= MAX_SKEW_MS)) {
    throw new S3Failure(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.');
  }
  return key;
}

/** 403 SignatureDoesNotMatch (or the key's own error) unless the signature is the one S3 would compute. */
export function verifySignature(req: IncomingMessage, body: Buffer | undefined, keys: ReadonlyMap<string, S3TestKey>, region: string): void {
  const authorization = header(req, 'authorization') ?? '';
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(authorization);
  if (!match) throw new S3Failure(403, 'AccessDenied', 'Missing or malformed SigV4 Authorization header.');
  const [, accessKeyId, date, signedRegion, signedHeaders, signature] = match as unknown as string[];
  const credentials = knownKey(req, keys, accessKeyId as string);
  if (signedRegion !== region) throw new S3Failure(400, 'AuthorizationHeaderMalformed', `The region '${signedRegion}' is wrong; expecting '${region}'.`);
  const amzDate = header(req, 'x-amz-date') ?? '';
  const payloadHash = header(req, 'x-amz-content-sha256') ?? '';
  if (body !== undefined && payloadHash !== 'UNSIGNED-PAYLOAD' && payloadHash !== createHash('sha256').update(body).digest('hex')) {
    throw new S3Failure(400, 'XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.');
  }
  const url = new URL(req.url ?? '/', 'http://localhost');
  const names = (signedHeaders as string).split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) throw new S3Failure(403, 'AccessDenied', 'host and x-amz-date must be signed.');
  const unsigned = Object.keys(req.headers).filter((name) => name.startsWith('x-amz-') && !names.includes(name));
  if (unsigned.length > 0) throw new S3Failure(403, 'AccessDenied', `There were headers present in the request which were not signed: ${unsigned.join(', ')}`);
  const canonical = [
    req.method,
    url.pathname,
    canonicalQuery(url.search),
    ...names.map((name) => `${name}:${(header(req, name) ?? '').trim().replace(/\s+/g, ' ')}`),
    '',
    signedHeaders,
    payloadHash,
  ].join('\n');
  const scope = `${date}/${region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let key: Buffer = createHmac('sha256', `AWS4${credentials.secretAccessKey}`).update(date as string).digest();
  for (const part of [region, 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  if (createHmac('sha256', key).update(toSign).digest('hex') !== signature) {
    throw new S3Failure(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
  }
}

/** Query parameters sorted by name, each name and value RFC 3986-encoded, `name=` for a bare name. */
function canonicalQuery(search: string): string {
  const rfc3986 = (text: string) => encodeURIComponent(text).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
  return search
    .replace(/^\?/, '')
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const [name = '', value = ''] = pair.split('=').map((part) => decodeURIComponent(part.replace(/\+/g, ' ')));
      return [rfc3986(name), rfc3986(value)] as const;
    })
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}
