/**
 * The `gcs` option of `protocol: 'gcs-multipart'` and its eager validation: the object, the
 * endpoint (http only to loopback unless `allowInsecureHttp`), where each of the `headers` goes,
 * and how every request is authorized — an OAuth bearer token (the same credential options as
 * `createGcsSession`, asked again for every request so a long upload outlives a token) or an HMAC
 * key (SigV4, which GCS's XML API accepts as S3-compatible signing).
 */
import { gcsAuthHeaders, gcsEndpoint, type GcsCredentialOptions, type GoogleAuthLike } from '../../credentials/gcs.js';
import { expectObject, expectSecret, expectString, optionalBoolean } from '../../options/expect.js';
import type { ProtocolOptionsContext, ProtocolOptionsHook } from '../../options/protocol-hook.js';
import { refuseInsecureHttp } from '../../options/url-policy.js';
import type { PartsRequest } from '../../parts/protocol.js';
import { encodeKey, MAX_PART_SIZE, MIN_PART_SIZE, signRequest } from '../s3/wire.js';

/** A GCS HMAC key (Cloud Storage → Settings → Interoperability): its access id and secret. */
export interface GcsHmacKey {
  accessId: string;
  secret: string;
}

/** Where and how to upload with `protocol: 'gcs-multipart'` (GCS XML API multipart upload). */
export interface GcsMultipartOptions {
  bucket: string;
  /** The object name. */
  name: string;
  /** @default STORAGE_EMULATOR_HOST (an emulator), else 'https://storage.googleapis.com' */
  apiEndpoint?: string;
  /** The object's Content-Type. @default 'application/octet-stream' */
  contentType?: string;
  /** Custom metadata, sent as `x-goog-meta-KEY` when the upload is initiated. */
  metadata?: Record<string, string>;
  /** A bearer token. Give at most one of `token`, `getToken`, `auth`, `hmac`. */
  token?: string;
  /** Returns a fresh bearer token; asked again for every request. */
  getToken?: () => string | Promise<string>;
  /** A GoogleAuth or AuthClient (google-auth-library), which refreshes its own token. */
  auth?: GoogleAuthLike;
  /** An HMAC key instead of OAuth: every request is signed (SigV4, region `auto`). */
  hmac?: GcsHmacKey;
  /** Use Application Default Credentials with a custom `apiEndpoint` or STORAGE_EMULATOR_HOST too. @default false */
  useAuthWithCustomEndpoint?: boolean;
  /** The same as the top-level `queueSize` (parts in flight): give one. @default 4 */
  queueSize?: number;
  /**
   * Keep the uploaded parts when the stream fails, instead of cancelling the upload (DELETE).
   * GCS never expires an unfinished upload and bills its parts until it is completed or cancelled.
   * @default false, or true with a `checkpointStore` or `resume` (the parts are what a resume needs)
   */
  leavePartsOnError?: boolean;
}

/** Who signs: adds the Authorization (and signing headers) to a request just before it is sent. */
export type Authorize = (method: PartsRequest['method'], url: string, headers: Record<string, string>) => Promise<PartsRequest>;

export interface ResolvedGcsMultipart {
  readonly bucket: string;
  readonly name: string;
  /** `https://host/BUCKET/OBJECT`, path-style, the name encoded per segment. */
  readonly objectUrl: string;
  readonly authorize: Authorize;
  readonly queueSize: number;
  readonly leavePartsOnError: boolean;
  /** Headers that describe the object: on the initiation or the single PUT only. */
  readonly objectHeaders: Readonly<Record<string, string>>;
  /** Headers every request of the upload carries (billing project, customer-supplied key). */
  readonly everyRequest: Readonly<Record<string, string>>;
}

/** `protocol: 'gcs-multipart'` in the options (options/protocols.ts): the `gcs` option, `gcs.queueSize` an alias of `queueSize`. */
export const GCS_MULTIPART_OPTIONS: ProtocolOptionsHook<ResolvedGcsMultipart> = {
  protocol: 'gcs-multipart',
  shape: '{ bucket, name, … }',
  queueSizeAlias: 'queueSize',
  checkChunkSize(size) {
    if (size < MIN_PART_SIZE || size > MAX_PART_SIZE) throw new RangeError(`Expected \`chunkSize\` (the GCS part size) to be from 5 MiB to 5 GiB, received ${size}`);
  },
  validate: (value, context) => validateGcsMultipart(value, context),
};

const OBJECT_HEADERS = new Set(['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'x-goog-acl', 'x-goog-storage-class']);
const EVERY_REQUEST_HEADERS = new Set(['x-goog-user-project', 'x-goog-encryption-algorithm', 'x-goog-encryption-key', 'x-goog-encryption-key-sha256']);

export function validateGcsMultipart(value: unknown, context: ProtocolOptionsContext): ResolvedGcsMultipart {
  const gcs = expectObject('gcs', value) ?? {};
  const bucket = expectString('gcs.bucket', gcs.bucket);
  const name = expectString('gcs.name', gcs.name);
  const { endpoint, custom } = gcsEndpoint(gcs.apiEndpoint === undefined ? undefined : expectString('gcs.apiEndpoint', gcs.apiEndpoint));
  checkEndpoint(endpoint, gcs.apiEndpoint === undefined ? 'STORAGE_EMULATOR_HOST' : 'gcs.apiEndpoint', context);
  const placed = placeHeaders(context.headers, gcs);
  return {
    bucket,
    name,
    objectUrl: `${endpoint}/${encodeURIComponent(bucket)}/${encodeKey(name)}`,
    authorize: authorizer(gcs, custom),
    queueSize: context.queueSize,
    leavePartsOnError: optionalBoolean('gcs.leavePartsOnError', gcs.leavePartsOnError) ?? context.resumable,
    ...placed,
  };
}

function checkEndpoint(endpoint: string, option: string, context: ProtocolOptionsContext): void {
  let parsed: URL;
  try {
    parsed = new URL(endpoint);
  } catch {
    throw new TypeError(`Expected \`${option}\` to be an absolute http(s) URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new TypeError(`Expected \`${option}\` to be an http(s) URL, received protocol ${JSON.stringify(parsed.protocol)}`);
  refuseInsecureHttp(endpoint, context.allowInsecureHttp, option);
}

/**
 * Sorts the top-level `headers`: object headers and `x-goog-meta-*` go on the initiation (GCS
 * reads the object's metadata there and nowhere else), the billing project and a customer-supplied
 * encryption key on every request. Any other header is a TypeError, never dropped.
 */
function placeHeaders(headers: Readonly<Record<string, string>>, gcs: Record<string, unknown>): Pick<ResolvedGcsMultipart, 'objectHeaders' | 'everyRequest'> {
  const objectHeaders: Record<string, string> = { 'content-type': expectString('gcs.contentType', gcs.contentType ?? 'application/octet-stream') };
  const everyRequest: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name === 'content-type') throw new TypeError('`headers` may not set "content-type" with `protocol: \'gcs-multipart\'`: give `gcs.contentType`');
    if (OBJECT_HEADERS.has(name) || (name.startsWith('x-goog-meta-') && name.length > 12)) objectHeaders[name] = value;
    else if (EVERY_REQUEST_HEADERS.has(name)) everyRequest[name] = value;
    else {
      throw new TypeError(
        `\`headers\` may not set ${JSON.stringify(name)} with \`protocol: 'gcs-multipart'\`: no request of a multipart upload takes it from the caller ` +
          `(accepted: x-goog-meta-*, ${[...OBJECT_HEADERS, ...EVERY_REQUEST_HEADERS].join(', ')})`,
      );
    }
  }
  const metadata = expectObject('gcs.metadata', gcs.metadata) ?? {};
  for (const [key, entry] of Object.entries(metadata)) {
    if (typeof entry !== 'string') throw new TypeError(`Expected \`gcs.metadata.${key}\` to be a string, received ${typeof entry}`);
    objectHeaders[`x-goog-meta-${key.toLowerCase()}`] = entry;
  }
  return { objectHeaders, everyRequest };
}

/** OAuth (token, getToken, auth, ADC: credentials/gcs.ts) or an HMAC key; one at most. */
function authorizer(gcs: Record<string, unknown>, customEndpoint: boolean): Authorize {
  if (gcs.hmac === undefined) {
    const authHeaders = namingGcs(() => gcsAuthHeaders(gcs as GcsCredentialOptions, customEndpoint));
    return async (method, url, headers) => ({ method, url, headers: { ...headers, ...(await authHeaders(url)) } });
  }
  const others = (['token', 'getToken', 'auth'] as const).filter((field) => gcs[field] !== undefined);
  if (others.length > 0) throw new TypeError(`Give one of \`gcs.hmac\`, \`gcs.token\`, \`gcs.getToken\` and \`gcs.auth\`, received \`gcs.hmac\` and \`gcs.${others[0]}\``);
  const hmac = expectObject('gcs.hmac', gcs.hmac) as Record<string, unknown>;
  // Never echoed: the secret is a credential.
  const key = { accessKeyId: expectSecret('gcs.hmac.accessId', hmac.accessId), secretAccessKey: expectSecret('gcs.hmac.secret', hmac.secret) };
  return async (method, url, headers) => {
    const parsed = new URL(url);
    return signRequest({ origin: parsed.origin, objectPath: parsed.pathname, region: 'auto' }, key, method as 'PUT', `${parsed.pathname}${parsed.search}`, headers);
  };
}

/** The shared GCS credential checks, their messages naming `gcs.token` etc. as given here. */
function namingGcs<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof TypeError) throw new TypeError(error.message.replace(/`(token|getToken|auth|useAuthWithCustomEndpoint)`/g, '`gcs.$1`'));
    throw error;
  }
}
