/**
 * Shared Key authorization for the Blob service, written from Microsoft's description of the
 * string to sign ("Authorize with Shared Key", version 2009-09-19 and later): the verb, eleven
 * standard headers in a fixed order, the `x-ms-*` headers sorted, then the resource — the account,
 * the path as sent, and each query parameter, decoded, sorted by name. Signed with HMAC-SHA256 under
 * the account key (base64). Pure: the date goes in as a header, so tests can pin a signature.
 */
import { createHmac } from 'node:crypto';

/** The standard headers of the string to sign, in the order Azure lists them. */
const STANDARD_HEADERS = [
  'content-encoding',
  'content-language',
  'content-length',
  'content-md5',
  'content-type',
  'date',
  'if-modified-since',
  'if-match',
  'if-none-match',
  'if-unmodified-since',
  'range',
] as const;

export interface SharedKeyRequest {
  readonly method: string;
  readonly url: string;
  /** Lower-cased names, `x-ms-date` and `x-ms-version` among them. */
  readonly headers: Readonly<Record<string, string>>;
  /** The body's length, as undici will send it. */
  readonly contentLength: number;
}

/** The string Azure computes from a request and compares signatures over. */
export function stringToSign(account: string, request: SharedKeyRequest): string {
  const headers: Record<string, string> = { ...request.headers, 'content-length': request.contentLength === 0 ? '' : String(request.contentLength) };
  const standard = STANDARD_HEADERS.map((name) => headers[name] ?? '');
  return [request.method.toUpperCase(), ...standard].join('\n') + '\n' + canonicalHeaders(headers) + canonicalResource(account, request.url);
}

/** `x-ms-*` headers, lower-cased, sorted, one `name:value` line each (runs of whitespace folded). */
function canonicalHeaders(headers: Readonly<Record<string, string>>): string {
  return Object.entries(headers)
    .filter(([name]) => name.startsWith('x-ms-'))
    .map(([name, value]) => `${name}:${value.replace(/\s+/g, ' ').trim()}\n`)
    .sort()
    .join('');
}

/** `/account/path`, then `\nname:value` per query parameter (values decoded, sorted, comma-joined). */
function canonicalResource(account: string, url: string): string {
  const parsed = new URL(url);
  const params = new Map<string, string[]>();
  for (const [name, value] of parsed.searchParams) {
    const key = name.toLowerCase();
    params.set(key, [...(params.get(key) ?? []), value]);
  }
  const query = [...params.keys()].sort().map((name) => `\n${name}:${(params.get(name) as string[]).sort().join(',')}`);
  return `/${account}${parsed.pathname}${query.join('')}`;
}

/** The `Authorization` header's value for `request` under `accountKey` (base64, as the portal shows it). */
export function sharedKeyAuthorization(account: string, accountKey: Buffer, request: SharedKeyRequest): string {
  const signature = createHmac('sha256', accountKey).update(stringToSign(account, request), 'utf8').digest('base64');
  return `SharedKey ${account}:${signature}`;
}
