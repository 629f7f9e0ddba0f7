/**
 * Starting GCS resumable sessions (JSON API: 200 + Location; XML API: 201 + Location) and Redivis
 * ones (a JSON body with `url` and `id`), which the `'gcs'` protocol then uploads to. Where GCS's
 * credentials come from when none is given: credentials/gcs.ts.
 */
import { gcsAuthHeaders, gcsEndpoint, type GoogleAuthLike } from '../../credentials/gcs.js';
import { ProtocolError, redactUrl } from '../../errors.js';
import { initiate, locationOf, requireString, withToken, type InitiateSessionOptions, type TokenOptions } from '../../initiation.js';
import { refuseInsecureHttp } from '../../options/url-policy.js';

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

export interface RedivisSession {
  /** The session URI to give `createResumableWriteStream`. */
  readonly url: string;
  /** Create the upload with this id once the bytes are in. */
  readonly id: string;
}

type AuthorizedHeaders = (url: string, headers: Record<string, string>) => () => Promise<Record<string, string>>;

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
  const withAuth: AuthorizedHeaders = (url, headers) => async () => ({ ...headers, ...(await authHeaders(url)) });
  const api = options.api ?? 'json';
  if (api !== 'json' && api !== 'xml') throw new TypeError(`Expected \`api\` to be 'json' or 'xml', received ${JSON.stringify(api)}`);
  return api === 'json' ? startJsonSession(options, endpoint, { bucket, name }, withAuth) : startXmlSession(options, endpoint, { bucket, name }, withAuth);
}

async function startJsonSession(options: GcsSessionOptions, endpoint: string, object: { bucket: string; name: string }, withAuth: AuthorizedHeaders): Promise<string> {
  const { bucket, name } = object;
  const contentType = options.contentType;
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

async function startXmlSession(options: GcsSessionOptions, endpoint: string, object: { bucket: string; name: string }, withAuth: AuthorizedHeaders): Promise<string> {
  const url = `${endpoint}/${encodeURIComponent(object.bucket)}/${object.name.split('/').map(encodeURIComponent).join('/')}`;
  const customMetadata = (options.metadata?.metadata ?? {}) as Record<string, unknown>;
  const headers: Record<string, string> = {
    ...options.headers,
    'x-goog-resumable': 'start',
    'content-type': options.contentType ?? 'application/octet-stream',
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
