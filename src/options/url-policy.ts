/**
 * Which URLs the stream sends to. A session URI (and a tus upload URL, a SAS, a presigned URL)
 * is a bearer credential: whoever reads it can write the object. So plain http is refused except
 * to loopback, unless the caller says `allowInsecureHttp`, and a URL is never echoed in a
 * message (errors.ts redacts it where one must be named).
 */
import { describe } from './expect.js';

/** 127.0.0.0/8, ::1 and localhost: where plain http cannot be overheard on a network. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** `url` unchanged; a TypeError naming `option` when it is plain http to a host that is not loopback. */
export function refuseInsecureHttp(url: string, allowInsecureHttp: boolean, option = 'url'): string {
  const parsed = new URL(url);
  if (parsed.protocol === 'http:' && !allowInsecureHttp && !isLoopbackHost(parsed.hostname)) {
    throw new TypeError(
      `Expected \`${option}\` to use https: plain http to ${parsed.host} would expose the credential it carries; ` +
        'set `allowInsecureHttp: true` to allow it',
    );
  }
  return url;
}

/** An absolute http(s) URL, normalized (`href`); a TypeError naming `option` otherwise. */
export function validateUrl(value: unknown, option = 'url'): string {
  if (typeof value !== 'string' && !(value instanceof URL)) {
    throw new TypeError(`Expected \`${option}\` to be a string, URL or async function, received ${describe(value)}`);
  }
  let parsed: URL;
  try {
    parsed = new URL(String(value));
  } catch {
    // Never echo the value: it may be a credential.
    throw new TypeError(`Expected \`${option}\` to be an absolute http(s) URL, received a string that does not parse as a URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new TypeError(`Expected \`${option}\` to be an http(s) URL, received protocol ${JSON.stringify(parsed.protocol)}`);
  }
  return parsed.href;
}

/** A URL that carries a credential (a session URI, an endpoint sent a token): valid, and https unless allowed. */
export function validateCredentialUrl(value: unknown, allowInsecureHttp: boolean, option = 'url'): string {
  return refuseInsecureHttp(validateUrl(value, option), allowInsecureHttp, option);
}
