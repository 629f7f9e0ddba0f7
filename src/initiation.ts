/**
 * Starting a session: one initiation request, retried with the same policy and classification as
 * uploads (408, 429, 5xx and network errors), whose answer names the session. Each protocol's
 * helpers build theirs on it (protocols/gcs/session.ts: GCS JSON/XML and Redivis;
 * protocols/tus/creation.ts); `initiateSession` is for any endpoint that answers with `Location`.
 * Tokens are sent in `Authorization` and never appear in a message.
 */
import type { Dispatcher } from 'undici';
import { HttpStatusError, ProtocolError, redactUrl } from './errors.js';
import { optionalBoolean } from './options/expect.js';
import { validateRequestOptions } from './options/requests.js';
import type { RetryOptions, TimeoutOptions } from './options/types.js';
import { validateCredentialUrl } from './options/url-policy.js';
import { isRetryableStatus, parseRetryAfter, withRetry } from './retry.js';
import { createUndiciTransport, toTransportError, type TransportAnswer } from './transport.js';
import { EXCERPT_CHARS } from './upload-answers.js';

export interface InitiateSessionOptions {
  /** The initiation endpoint. */
  url: string | URL;
  /** @default 'POST' */
  method?: 'POST' | 'PUT';
  headers?: Record<string, string>;
  body?: string;
  dispatcher?: Dispatcher;
  retry?: RetryOptions;
  timeouts?: TimeoutOptions;
  signal?: AbortSignal;
  /** Allow plain http to a host that is not loopback (the token and the session URI would be exposed). @default false */
  allowInsecureHttp?: boolean;
}

/** A bearer token, or a function that returns a fresh one (called for every attempt). */
export interface TokenOptions {
  token?: string;
  getToken?: () => string | Promise<string>;
}

/** Sends an initiation request and returns the session URI from `Location`. */
export async function initiateSession(options: InitiateSessionOptions): Promise<string> {
  const answer = await initiate(options, async () => options.headers ?? {});
  return locationOf(answer, String(options.url));
}

/** `headers` with `Authorization: Bearer` from `token` or `getToken`, when either is given. */
export async function withToken(options: TokenOptions, headers: Record<string, string>): Promise<Record<string, string>> {
  const token = options.getToken ? await options.getToken() : options.token;
  return token === undefined ? headers : { ...headers, authorization: `Bearer ${token}` };
}

export function requireString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`Expected \`${name}\` to be a non-empty string, received ${JSON.stringify(value)}`);
  return value;
}

/** One initiation request, retried like an upload; any 2xx is the answer. `headers` is asked again for every attempt. */
export async function initiate(options: InitiateSessionOptions, headers: () => Promise<Record<string, string>>): Promise<TransportAnswer> {
  const requests = validateRequestOptions(options);
  const url = validateCredentialUrl(options.url, optionalBoolean('allowInsecureHttp', options.allowInsecureHttp) === true);
  const transport = createUndiciTransport({ dispatcher: requests.dispatcher, ...requests.timeouts });
  const what = `initiating a session at ${redactUrl(url)}`;
  const signal = requests.signal ?? new AbortController().signal;
  return withRetry(
    async () => {
      let answer: TransportAnswer;
      try {
        answer = await transport.send({
          method: options.method ?? 'POST',
          url,
          headers: await headers(),
          ...(options.body === undefined ? {} : { body: options.body }),
          signal,
          maxBodyBytes: 64 * 1024,
        });
      } catch (error) {
        throw toTransportError(error, `${what} failed`, {}) ?? error;
      }
      if (answer.status >= 200 && answer.status < 300) return answer;
      const excerpt = answer.body.slice(0, EXCERPT_CHARS);
      throw new HttpStatusError(answer.status, excerpt, isRetryableStatus(answer.status), `${what}: answered ${answer.status}${excerpt ? `: ${JSON.stringify(excerpt)}` : ''}`, {
        retryAfterMs: parseRetryAfter(answer.headers['retry-after']),
      });
    },
    { policy: requests.retry, signal, onRetry: () => {}, describe: () => what, context: () => ({}) },
  );
}

/** The session URI from `Location`, resolved against the request's URL. */
export function locationOf(answer: TransportAnswer, requestUrl: string): string {
  const location = answer.headers['location'];
  if (!location) throw new ProtocolError(`the initiation at ${redactUrl(requestUrl)} answered ${answer.status} without a Location header`);
  return new URL(location, requestUrl).href;
}
