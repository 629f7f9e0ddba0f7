/**
 * Starting resumable upload sessions (docs/PROTOCOL.md §2): GCS JSON and XML APIs, Redivis, tus
 * (creation), and any endpoint that answers an initiation request with `Location`. Initiation is
 * retried with the same policy and classification as uploads (408, 429, 5xx and network errors).
 * Tokens are sent in `Authorization` and never appear in a message; where GCS's come from when
 * none is given: credentials/gcs.ts.
 */
import type { Dispatcher } from 'undici';
import { HttpStatusError, ProtocolError, redactUrl } from './errors.js';
import { refuseInsecureHttp, resolveOptions, type RetryOptions, type TimeoutOptions } from './options.js';
import { gcsAuthHeaders, gcsEndpoint, type GoogleAuthLike } from './credentials/gcs.js';
import { parseRetryAfter, withRetry } from './retry.js';
import { createUndiciTransport, toTransportError, type TransportAnswer } from './transport.js';
import { EXCERPT_CHARS } from './upload-answers.js';
import { isRetryableStatus } from './retry.js';
import { TUS_VERSION } from './protocols/tus.js';

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

export interface GcsSessionOptions extends TokenOptions, Omit<InitiateSessionOptions, 'url' | 'method' | 'body'> {
  /**
   * A GoogleAuth or AuthClient (google-auth-library) to authorize with, e.g.
   * `new GoogleAuth({ keyFile, scopes })`. Give one of `token`, `getToken`, `auth`; with none,
   * Application Default Credentials (the optional package google-auth-library) are used.
   */
  auth?: GoogleAuthLike;
  /**
   * Use Application Default Credentials with a custom `apiEndpoint` or STORAGE_EMULATOR_HOST too
   * (by default, as @google-cloud/storage, a custom endpoint gets no credentials unless given).
   * @default false
   */
  useAuthWithCustomEndpoint?: boolean;
  bucket: string;
  /** The object name. */
  name: string;
  /** Object resource fields for the JSON API (e.g. `{ metadata: { k: 'v' }, cacheControl }`); custom `metadata` becomes `x-goog-meta-*` on the XML API. */
  metadata?: Record<string, unknown>;
  contentType?: string;
  /** @default STORAGE_EMULATOR_HOST (an emulator), else 'https://storage.googleapis.com' */
  apiEndpoint?: string;
  /** @default 'json' */
  api?: 'json' | 'xml';
}

export interface RedivisSessionOptions extends TokenOptions, Omit<InitiateSessionOptions, 'url' | 'method' | 'body'> {
  /** A qualified table reference. */
  table: string;
  /** The upload's size in bytes: Redivis requires it up front. */
  size: number;
  /** @default 'https://redivis.com' */
  apiEndpoint?: string;
}

export interface TusUploadOptions extends Omit<InitiateSessionOptions, 'url' | 'method' | 'body'> {
  /** The tus server's creation endpoint, e.g. `https://tus.example.com/files/`. */
  endpoint: string | URL;
  /** `Upload-Metadata` pairs (the values are base64-encoded for you), e.g. `{ filename: 'a.log' }`. */
  metadata?: Record<string, string>;
  /**
   * The upload's length when known in advance (`Upload-Length`; give the stream the same
   * `totalSize`). Without it the length is deferred (`Upload-Defer-Length: 1`) and the stream
   * sends it with its last PATCH.
   */
  uploadLength?: number;
}

export interface RedivisSession {
  /** The session URI to give `createResumableWriteStream`. */
  readonly url: string;
  /** Create the upload with this id once the bytes are in. */
  readonly id: string;
}

/** Sends an initiation request and returns the session URI from `Location`. */
export async function initiateSession(options: InitiateSessionOptions): Promise<string> {
  const answer = await initiate(options, async () => options.headers ?? {});
  return locationOf(answer, String(options.url));
}

/**
 * Starts a GCS resumable upload (JSON API: 200 + Location; XML API: 201 + Location), authorized
 * with `token`, `getToken`, `auth` or Application Default Credentials (credentials/gcs.ts).
 */
export async function createGcsSession(options: GcsSessionOptions): Promise<string> {
  const bucket = requireString('bucket', options.bucket);
  const name = requireString('name', options.name);
  const { endpoint, custom } = gcsEndpoint(options.apiEndpoint);
  if (options.apiEndpoint === undefined && custom) refuseInsecureHttp(endpoint, options.allowInsecureHttp === true, 'STORAGE_EMULATOR_HOST');
  const authHeaders = gcsAuthHeaders(options, custom);
  const withAuth = (url: string, headers: Record<string, string>) => async () => ({ ...headers, ...(await authHeaders(url)) });
  const api = options.api ?? 'json';
  if (api !== 'json' && api !== 'xml') throw new TypeError(`Expected \`api\` to be 'json' or 'xml', received ${JSON.stringify(api)}`);
  const contentType = options.contentType;
  if (api === 'json') {
    const url = `${endpoint}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(name)}`;
    const headers = {
      ...options.headers,
      'content-type': 'application/json; charset=UTF-8',
      ...(contentType ? { 'x-upload-content-type': contentType } : {}),
    };
    const body = JSON.stringify({ ...options.metadata, name, ...(contentType ? { contentType } : {}) });
    const answer = await initiate({ ...options, url, body }, withAuth(url, headers));
    return locationOf(answer, url);
  }
  const url = `${endpoint}/${encodeURIComponent(bucket)}/${name.split('/').map(encodeURIComponent).join('/')}`;
  const customMetadata = (options.metadata?.metadata ?? {}) as Record<string, unknown>;
  const headers: Record<string, string> = {
    ...options.headers,
    'x-goog-resumable': 'start',
    'content-type': contentType ?? 'application/octet-stream',
  };
  for (const [key, value] of Object.entries(customMetadata)) headers[`x-goog-meta-${key.toLowerCase()}`] = String(value);
  const answer = await initiate({ ...options, url }, withAuth(url, headers));
  return locationOf(answer, url);
}

/** Starts a Redivis resumable upload: `{ url, id }`. Redivis needs the size up front. */
export async function createRedivisSession(options: RedivisSessionOptions): Promise<RedivisSession> {
  const table = requireString('table', options.table);
  if (!Number.isSafeInteger(options.size) || options.size < 0) {
    throw new RangeError(`Expected \`size\` to be a non-negative integer, received ${String(options.size)}`);
  }
  const endpoint = (options.apiEndpoint ?? 'https://redivis.com').replace(/\/+$/, '');
  const url = `${endpoint}/api/v1/tables/${encodeURIComponent(table)}/resumableUpload?size=${options.size}`;
  const answer = await initiate({ ...options, url }, () => withToken(options, { ...options.headers }));
  let parsed: { url?: unknown; id?: unknown };
  try {
    parsed = JSON.parse(answer.body) as typeof parsed;
  } catch {
    throw new ProtocolError(`Redivis answered ${answer.status} without a JSON body (${redactUrl(url)})`);
  }
  if (typeof parsed.url !== 'string' || typeof parsed.id !== 'string') {
    throw new ProtocolError(`Redivis answered without \`url\` and \`id\` (${redactUrl(url)})`);
  }
  return { url: parsed.url, id: parsed.id };
}

/**
 * Creates a tus upload (creation extension) and returns its URL, for `protocol: 'tus'`. Pass it
 * as `url: () => createTusUpload({...})` to create the upload on the first request.
 */
export async function createTusUpload(options: TusUploadOptions): Promise<string> {
  const headers: Record<string, string> = { ...options.headers, 'tus-resumable': TUS_VERSION };
  const { uploadLength, metadata } = options;
  if (uploadLength === undefined) headers['upload-defer-length'] = '1';
  else if (!Number.isSafeInteger(uploadLength) || uploadLength < 0) {
    throw new RangeError(`Expected \`uploadLength\` to be a non-negative integer, received ${String(uploadLength)}`);
  } else headers['upload-length'] = String(uploadLength);
  if (metadata !== undefined) headers['upload-metadata'] = formatTusMetadata(metadata);
  const url = String(options.endpoint);
  const answer = await initiate({ ...options, url, method: 'POST' }, async () => headers);
  return locationOf(answer, url);
}

/** `key base64(value),key2 base64(value2)`; keys may not hold spaces or commas (tus 1.0). */
function formatTusMetadata(metadata: Record<string, string>): string {
  return Object.entries(metadata)
    .map(([key, value]) => {
      if (key === '' || /[\s,]/.test(key)) throw new TypeError(`Expected \`metadata\` keys without spaces or commas, received ${JSON.stringify(key)}`);
      if (typeof value !== 'string') throw new TypeError(`Expected \`metadata.${key}\` to be a string, received ${typeof value}`);
      return `${key} ${Buffer.from(value, 'utf8').toString('base64')}`;
    })
    .join(',');
}

async function withToken(options: TokenOptions, headers: Record<string, string>): Promise<Record<string, string>> {
  const token = options.getToken ? await options.getToken() : options.token;
  return token === undefined ? headers : { ...headers, authorization: `Bearer ${token}` };
}

function requireString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`Expected \`${name}\` to be a non-empty string, received ${JSON.stringify(value)}`);
  return value;
}

/** One initiation request, retried like an upload; any 2xx is the answer. */
async function initiate(options: InitiateSessionOptions, headers: () => Promise<Record<string, string>>): Promise<TransportAnswer> {
  // The stream's own validation of the shared options (retry, timeouts, signal, dispatcher).
  const resolved = resolveOptions({
    url: options.url,
    retry: options.retry,
    timeouts: options.timeouts,
    signal: options.signal,
    dispatcher: options.dispatcher,
    allowInsecureHttp: options.allowInsecureHttp,
  });
  const transport = createUndiciTransport({ dispatcher: resolved.dispatcher, ...resolved.timeouts });
  const url = resolved.url as string;
  const what = `initiating a session at ${redactUrl(url)}`;
  const signal = resolved.signal ?? new AbortController().signal;
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
    { policy: resolved.retry, signal, onRetry: () => {}, describe: () => what, context: () => ({}) },
  );
}

function locationOf(answer: TransportAnswer, requestUrl: string): string {
  const location = answer.headers['location'];
  if (!location) throw new ProtocolError(`the initiation at ${redactUrl(requestUrl)} answered ${answer.status} without a Location header`);
  return new URL(location, requestUrl).href;
}
