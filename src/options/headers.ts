/**
 * `headers`: extra headers on every request. The stream owns the framing headers; an offset
 * protocol may refuse more (GCS: the headers it reads only when a session starts). A parts
 * protocol places them itself (its own option's validator: protocols/s3/options.ts).
 */
import type { OffsetProtocolName } from '../protocol.js';
import { refuseSessionHeaders } from '../protocols/gcs/headers.js';
import { describe, expectObject } from './expect.js';

/** Headers the stream owns: setting them would break the protocol. */
const RESERVED_HEADERS = new Set(['content-range', 'content-length', 'transfer-encoding', 'host', 'connection']);

/** Each offset protocol's refusal of headers it would drop without a word. */
const HEADER_POLICIES: Partial<Record<OffsetProtocolName, (headers: Record<string, string>) => Record<string, string>>> = {
  gcs: refuseSessionHeaders,
};

/** The headers lower-cased; a TypeError naming the first that is not a string or that the stream sets itself. */
export function validateHeaders(value: unknown, protocol: string): Record<string, string> {
  const headers = expectObject('headers', value) ?? {};
  const result: Record<string, string> = {};
  for (const [name, headerValue] of Object.entries(headers)) {
    if (typeof headerValue !== 'string') {
      throw new TypeError(`Expected \`headers.${name}\` to be a string, received ${describe(headerValue)}`);
    }
    if (RESERVED_HEADERS.has(name.toLowerCase())) {
      throw new TypeError(`\`headers\` may not set ${JSON.stringify(name)}: the stream sets it per request`);
    }
    result[name.toLowerCase()] = headerValue;
  }
  const policy = HEADER_POLICIES[protocol as OffsetProtocolName];
  return policy ? policy(result) : result;
}
