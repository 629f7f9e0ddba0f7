/**
 * Options of {@link createResumableWriteStream}, documented where they are declared, and their
 * eager validation: a wrong option is a TypeError or RangeError at construction that names the
 * option, what it expects and what it received.
 */
import type { Dispatcher } from 'undici';
import { parseCheckpoint, type Checkpoint, type CheckpointStore } from './checkpoint.js';
import { refuseSessionHeaders } from './protocols/gcs.js';
import type { ChecksumOption } from './checksum.js';
import { CHUNK_ALIGNMENT } from './content-range.js';
import { MemoryBudget } from './memory-budget.js';
import type { OffsetProtocolName, ProtocolName } from './protocol.js';
import { PROTOCOLS } from './protocols/index.js';
import { placeS3Headers, type S3Headers } from './protocols/s3/headers.js';
import { MAX_PART_SIZE, MIN_PART_SIZE, resolveTarget, type S3Target } from './protocols/s3/wire.js';
import { validateGcsMultipart, type GcsMultipartOptions, type ResolvedGcsMultipart } from './protocols/gcs-multipart/options.js';
import { defaultProviderChain, environmentCredentials, refreshingCredentials, type S3CredentialProvider, type S3Credentials } from './credentials/aws.js';

/** Creates a session lazily (on the first request), and again if it is gone while every byte is held. */
export type SessionFactory = () => Promise<string | URL>;

export interface RetryOptions {
  /**
   * Failed attempts retried in a row before giving up. The budget is restored whenever the
   * server's committed offset advances, so a long stream never dies of old, recovered faults.
   * @default 10
   */
  retries?: number;
  /** Delay before the first retry, in ms. @default 1000 */
  minTimeout?: number;
  /** Cap of the exponential delay, in ms (a `Retry-After` may ask for more, up to 60 s). @default 32000 */
  maxTimeout?: number;
  /** Growth of the delay per attempt. @default 2 */
  factor?: number;
  /** Multiply each delay by a random factor in [1, 2) (jitter), so many clients don't retry in step. @default true */
  randomize?: boolean;
  /** Longest time, in ms, spent retrying without the committed offset advancing. @default 600000 */
  maxRetryTime?: number;
  /**
   * Wait, in ms, before asking a second time when a status query answers 308 without `Range`
   * after bytes were confirmed (GCS: "wait a few seconds … and query a second time").
   * @default 2000
   */
  requeryDelay?: number;
}

export interface S3Options {
  bucket: string;
  /** The object key. */
  key: string;
  /** @default `AWS_REGION`, else `AWS_DEFAULT_REGION`, else 'us-east-1' */
  region?: string;
  /**
   * An S3-compatible endpoint (MinIO, R2, Ceph…), addressed path-style (`endpoint/bucket/key`).
   * @default `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`, else AWS: `https://bucket.s3.region.amazonaws.com`
   */
  endpoint?: string;
  /**
   * Keys, or a function that returns current ones (an AWS SDK credential provider such as
   * `fromIni({ profile })`, or your own), asked again 5 minutes before their `expiration`: every
   * request is signed with credentials current when it is sent.
   * @default static keys from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (`AWS_SESSION_TOKEN`)
   * when AWS_PROFILE is unset, else the AWS default chain (`fromNodeProviderChain` from the
   * optional package @aws-sdk/credential-providers: profiles, SSO, web identity, ECS, IMDSv2)
   */
  credentials?: S3Credentials | S3CredentialProvider;
  /**
   * Parts in flight at once. Memory: at most (queueSize + 1) × the current part size is held.
   * @default 4
   */
  queueSize?: number;
  /**
   * Keep the uploaded parts when the stream fails or is destroyed, instead of sending
   * AbortMultipartUpload (kept parts are billed until aborted or expired by a lifecycle rule).
   * @default false, or true with a `checkpointStore` or `resume` (the parts are what a resume needs)
   */
  leavePartsOnError?: boolean;
  /** The object's Content-Type. */
  contentType?: string;
}

export interface TimeoutOptions {
  /**
   * Longest wait, in ms, for an answer's headers after the body was sent or last made progress.
   * A stalled request is aborted and recovered. @default 60000
   */
  headersTimeout?: number;
  /** Longest pause, in ms, between two pieces of an answer's body. @default 60000 */
  bodyTimeout?: number;
}

export interface ResumableWriteStreamOptions {
  /**
   * The session URI (a credential: the stream never prints it whole), or an async factory that
   * creates one on the first request — and creates a new one, starting over, if the session is
   * gone (404/410) while every byte from offset 0 is still held (uploads within one chunk).
   * May be omitted when `resume` supplies a checkpoint (its URI is used).
   */
  url?: string | URL | SessionFactory;
  /**
   * The wire protocol. `'gcs'`: `Content-Range` + `308 Resume Incomplete` (Google Cloud Storage
   * JSON and XML APIs, Redivis, any compatible endpoint). `'tus'`: tus 1.0 (`PATCH` with
   * `Upload-Offset`, `HEAD`, deferred length; `url` is the upload URL, see `createTusUpload`).
   * `'s3'`: S3 multipart upload, parts in parallel (see `s3`; no `url`). `'gcs-multipart'`: GCS
   * XML API multipart upload, parts in parallel (see `gcs`; no `url`).
   * @default 'gcs', or 's3' when `s3` is given, 'gcs-multipart' when `gcs` is
   */
  protocol?: ProtocolName;
  /** Where and how to upload with `protocol: 's3'`. */
  s3?: S3Options;
  /** Where and how to upload with `protocol: 'gcs-multipart'` (GCS XML API multipart upload; no `url`). */
  gcs?: GcsMultipartOptions;
  /**
   * Bytes per request: with `'gcs'` a positive multiple of 262144 (256 KiB), with `'tus'` any
   * positive integer, with `'s3'` the first part size, 5 MiB to 5 GiB (it doubles every 900
   * parts so an unknown length can reach S3's 5 TiB limit). Larger is faster (fewer round
   * trips); the stream retains at most about 2 × chunkSize, with S3 (queueSize + 1) × the
   * part size (see README, "Memory").
   * @default 8388608 (8 MiB)
   */
  chunkSize?: number;
  /**
   * The object's size when known in advance: sent as the total on every request. Writing more,
   * or ending with fewer, is a SizeMismatchError and the upload is never finalized.
   */
  totalSize?: number;
  /**
   * Extra request headers on every request to the session (not `content-range`/`content-length`).
   * With `'s3'`, each goes on the requests S3 takes it on (README, "S3 headers"); one no S3
   * request takes is a TypeError.
   */
  headers?: Record<string, string>;
  /** An undici Dispatcher (Agent, Pool, ProxyAgent). @default a shared keep-alive Agent */
  dispatcher?: Dispatcher;
  retry?: RetryOptions;
  timeouts?: TimeoutOptions;
  /** Aborts the in-flight request and any backoff; the upload is never finalized. */
  signal?: AbortSignal;
  /** The Writable's highWaterMark, in bytes. @default Node's default */
  highWaterMark?: number;
  /**
   * A budget shared with other streams (`createMemoryBudget(bytes)`): this stream reserves whole
   * chunks from it and its writer waits while it is exhausted. Must hold at least one chunk.
   */
  memoryBudget?: MemoryBudget;
  /**
   * Allow a plain `http:` session URI to a host that is not loopback. The URI is a credential:
   * over plain http anyone on the path can read it and write the object. @default false
   */
  allowInsecureHttp?: boolean;
  /**
   * Digests of the whole stream, sent as `X-Goog-Hash` with the final request (GCS refuses a
   * corrupt object before committing it) and compared with the digests the server reports.
   * CRC32C costs ~0.3 ms per MiB; MD5 ~1.5 ms per MiB and can't resume from an offset.
   * @default 'crc32c'
   */
  checksum?: ChecksumOption;
  /** Saves a checkpoint after every acknowledgement and clears it after success. */
  checkpointStore?: CheckpointStore;
  /**
   * Resume an upload a crashed process started: a checkpoint, or `true` to load it from
   * `checkpointStore` (no checkpoint stored: a fresh upload to `url`). The server is asked where
   * the session stands before anything is sent.
   */
  resume?: Checkpoint | true;
  /**
   * Where the input written to a resumed stream starts. `'from-start'`: you write everything
   * again from byte 0 (e.g. re-run gzip); the committed prefix is hashed, checked against the
   * checkpoint's CRC32C and skipped. `'from-committed'`: you reopen your source at
   * `await stream.committedOffset()` and write from there (CRC32C continues from the checkpoint;
   * MD5 can't). @default 'from-start'
   */
  resumeInput?: 'from-start' | 'from-committed';
}

export interface ResolvedS3 {
  readonly target: S3Target;
  /** Current credentials, for each request as it is signed. */
  readonly credentials: S3CredentialProvider;
  readonly bucket: string;
  readonly key: string;
  readonly queueSize: number;
  readonly leavePartsOnError: boolean;
  /** The `headers` option sorted by request, `s3.contentType` among the object headers. */
  readonly headers: S3Headers;
}

export interface ResolvedOptions {
  readonly protocol: ProtocolName;
  /** With protocol 's3'. */
  readonly s3: ResolvedS3 | undefined;
  /** With protocol 'gcs-multipart'. */
  readonly gcsMultipart: ResolvedGcsMultipart | undefined;
  /** The session URI when given (or from the checkpoint); undefined with a factory. */
  readonly url: string | undefined;
  readonly sessionFactory: SessionFactory | undefined;
  readonly checksum: ChecksumOption;
  readonly checkpointStore: CheckpointStore | undefined;
  /** A checkpoint, `'from-store'` for `resume: true`, or undefined. */
  readonly resume: Checkpoint | 'from-store' | undefined;
  readonly resumeInput: 'from-start' | 'from-committed';
  readonly allowInsecureHttp: boolean;
  readonly memoryBudget: MemoryBudget | undefined;
  readonly chunkSize: number;
  readonly totalSize: number | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly dispatcher: Dispatcher | undefined;
  readonly retry: Readonly<Required<RetryOptions>>;
  readonly timeouts: Readonly<Required<TimeoutOptions>>;
  readonly signal: AbortSignal | undefined;
  readonly highWaterMark: number | undefined;
}

export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;

const DEFAULT_RETRY: Required<RetryOptions> = {
  retries: 10,
  minTimeout: 1000,
  maxTimeout: 32_000,
  factor: 2,
  randomize: true,
  maxRetryTime: 600_000,
  requeryDelay: 2000,
};

const DEFAULT_TIMEOUTS: Required<TimeoutOptions> = {
  headersTimeout: 60_000,
  bodyTimeout: 60_000,
};

/** Headers the stream owns: setting them would break the protocol. */
const RESERVED_HEADERS = new Set(['content-range', 'content-length', 'transfer-encoding', 'host', 'connection']);

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return `${typeof value} ${String(value)}`;
}

function expectInteger(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`Expected \`${name}\` to be a finite number, received ${describe(value)}`);
  }
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`Expected \`${name}\` to be an integer ≥ ${min}, received ${value}`);
  }
  return value;
}

function expectNumber(name: string, value: unknown, min: number, allowInfinity = false): number {
  if (typeof value !== 'number' || Number.isNaN(value) || (!allowInfinity && !Number.isFinite(value))) {
    throw new TypeError(`Expected \`${name}\` to be a ${allowInfinity ? 'number' : 'finite number'}, received ${describe(value)}`);
  }
  if (value < min) throw new RangeError(`Expected \`${name}\` to be ≥ ${min}, received ${value}`);
  return value;
}

function expectObject(name: string, value: unknown): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`Expected \`${name}\` to be an object, received ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

/** 127.0.0.0/8, ::1 and localhost: where plain http cannot be overheard on a network. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * The session URI is a bearer credential: over plain http anyone on the path can read and use
 * it. Refused, except to loopback, unless the caller says so.
 */
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

function validateChunkSize(value: unknown, protocol: ProtocolName): number {
  if (value === undefined) return DEFAULT_CHUNK_SIZE;
  const size = expectInteger('chunkSize', value, 1);
  if (protocol === 's3' || protocol === 'gcs-multipart') {
    if (size < MIN_PART_SIZE || size > MAX_PART_SIZE) {
      throw new RangeError(`Expected \`chunkSize\` (the ${protocol === 's3' ? 'S3' : 'GCS'} part size) to be from 5 MiB to 5 GiB, received ${size}`);
    }
    return size;
  }
  if (size % PROTOCOLS[protocol]().chunkAlignment !== 0) {
    throw new RangeError(`Expected \`chunkSize\` to be a positive multiple of ${CHUNK_ALIGNMENT} (256 KiB), received ${size}`);
  }
  return size;
}

const PROTOCOL_NAMES: readonly string[] = [...Object.keys(PROTOCOLS), 's3', 'gcs-multipart'];

function validateProtocol(value: unknown, hasS3: boolean, hasGcs: boolean): ProtocolName {
  if (value === undefined) return hasS3 ? 's3' : hasGcs ? 'gcs-multipart' : 'gcs';
  if (typeof value !== 'string' || !PROTOCOL_NAMES.includes(value)) {
    throw new TypeError(`Expected \`protocol\` to be ${PROTOCOL_NAMES.map((name) => `'${name}'`).join(', ')}, received ${describe(value)}`);
  }
  if (value === 's3' && !hasS3) throw new TypeError("`protocol: 's3'` needs an `s3` option ({ bucket, key, … })");
  if (value !== 's3' && hasS3) throw new TypeError(`\`s3\` only applies with \`protocol: 's3'\`, received protocol '${value}'`);
  if ((value === 'gcs-multipart') !== hasGcs) throw new TypeError(hasGcs ? `\`gcs\` only applies with \`protocol: 'gcs-multipart'\`, received protocol '${value}'` : "`protocol: 'gcs-multipart'` needs a `gcs` option ({ bucket, name, … })");
  return value as OffsetProtocolName;
}

function expectString(name: string, value: unknown, optional = false): string | undefined {
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'string' || value === '') throw new TypeError(`Expected \`${name}\` to be a non-empty string, received ${describe(value)}`);
  return value;
}

/** The option, else the endpoint the AWS CLI and SDKs take from the environment (named by its variable in errors). */
function validateS3Endpoint(value: unknown, allowInsecureHttp: boolean): string | undefined {
  const env = process.env;
  const option = value !== undefined ? 's3.endpoint' : env['AWS_IGNORE_CONFIGURED_ENDPOINT_URLS'] === 'true' ? undefined : ['AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL'].find((name) => env[name]);
  if (option === undefined) return undefined;
  return refuseInsecureHttp(validateUrl(value ?? env[option], option), allowInsecureHttp, option);
}

/** Keys checked now (never echoed: they are secrets), a provider wrapped to refresh; none: the environment's keys or the default chain. */
function validateS3Credentials(value: unknown): S3CredentialProvider {
  if (typeof value === 'function') return refreshingCredentials(value as S3CredentialProvider);
  const given = expectObject('s3.credentials', value) as Partial<S3Credentials> | undefined;
  if (given === undefined) {
    const fromEnv = environmentCredentials();
    return refreshingCredentials(fromEnv ? async () => fromEnv : defaultProviderChain());
  }
  for (const field of ['accessKeyId', 'secretAccessKey', 'sessionToken'] as const) {
    const entry = given[field];
    if ((entry === undefined && field !== 'sessionToken') || (entry !== undefined && (typeof entry !== 'string' || entry === ''))) {
      throw new TypeError(`Expected \`s3.credentials.${field}\` to be a non-empty string, received ${entry === undefined ? 'undefined' : typeof entry === 'string' ? 'an empty string' : typeof entry}`);
    }
  }
  const keys: S3Credentials = { accessKeyId: given.accessKeyId as string, secretAccessKey: given.secretAccessKey as string, ...(given.sessionToken ? { sessionToken: given.sessionToken } : {}) };
  return async () => keys;
}

function validateS3(value: unknown, allowInsecureHttp: boolean, resumable: boolean, headers: Readonly<Record<string, string>>): ResolvedS3 {
  const s3 = expectObject('s3', value) ?? {};
  const bucket = expectString('s3.bucket', s3.bucket) as string;
  const key = expectString('s3.key', s3.key) as string;
  const region = expectString('s3.region', s3.region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? 'us-east-1') as string;
  const endpoint = validateS3Endpoint(s3.endpoint, allowInsecureHttp);
  const credentials = validateS3Credentials(s3.credentials);
  if (s3.leavePartsOnError !== undefined && typeof s3.leavePartsOnError !== 'boolean') {
    throw new TypeError(`Expected \`s3.leavePartsOnError\` to be a boolean, received ${describe(s3.leavePartsOnError)}`);
  }
  const contentType = expectString('s3.contentType', s3.contentType, true);
  if (contentType !== undefined && headers['content-type'] !== undefined) {
    throw new TypeError('`s3.contentType` and `headers` "content-type" both set the object\'s Content-Type: give one');
  }
  const placed = placeS3Headers(headers);
  return {
    target: resolveTarget({ bucket, key, region, endpoint }),
    credentials,
    bucket,
    key,
    queueSize: s3.queueSize === undefined ? 4 : expectInteger('s3.queueSize', s3.queueSize, 1),
    leavePartsOnError: (s3.leavePartsOnError as boolean | undefined) ?? resumable,
    headers: contentType === undefined ? placed : { ...placed, object: { ...placed.object, 'content-type': contentType } },
  };
}

function validateHeaders(value: unknown): Record<string, string> {
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
  return result;
}

function validateRetry(value: unknown): Required<RetryOptions> {
  const retry = expectObject('retry', value) ?? {};
  const pick = <K extends keyof RetryOptions>(key: K) => (retry[key] === undefined ? DEFAULT_RETRY[key] : retry[key]);
  const randomize = pick('randomize');
  if (typeof randomize !== 'boolean') {
    throw new TypeError(`Expected \`retry.randomize\` to be a boolean, received ${describe(randomize)}`);
  }
  const resolved: Required<RetryOptions> = {
    retries: expectInteger('retry.retries', pick('retries'), 0),
    minTimeout: expectNumber('retry.minTimeout', pick('minTimeout'), 0),
    maxTimeout: expectNumber('retry.maxTimeout', pick('maxTimeout'), 0),
    factor: expectNumber('retry.factor', pick('factor'), 1),
    randomize,
    maxRetryTime: expectNumber('retry.maxRetryTime', pick('maxRetryTime'), 0, true),
    requeryDelay: expectNumber('retry.requeryDelay', pick('requeryDelay'), 0),
  };
  if (resolved.maxTimeout < resolved.minTimeout) {
    throw new RangeError(
      `Expected \`retry.maxTimeout\` (${resolved.maxTimeout}) to be ≥ \`retry.minTimeout\` (${resolved.minTimeout})`,
    );
  }
  return resolved;
}

function validateTimeouts(value: unknown): Required<TimeoutOptions> {
  const timeouts = expectObject('timeouts', value) ?? {};
  const pick = <K extends keyof TimeoutOptions>(key: K) => (timeouts[key] === undefined ? DEFAULT_TIMEOUTS[key] : timeouts[key]);
  return {
    headersTimeout: expectInteger('timeouts.headersTimeout', pick('headersTimeout'), 1),
    bodyTimeout: expectInteger('timeouts.bodyTimeout', pick('bodyTimeout'), 1),
  };
}

function validateDispatcher(value: unknown): Dispatcher | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || typeof (value as Dispatcher).dispatch !== 'function') {
    throw new TypeError(`Expected \`dispatcher\` to be an undici Dispatcher, received ${describe(value)}`);
  }
  return value as Dispatcher;
}

function validateSignal(value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) {
    throw new TypeError(`Expected \`signal\` to be an AbortSignal, received ${describe(value)}`);
  }
  return value;
}

const CHECKSUMS: readonly unknown[] = ['crc32c', 'md5', 'both', false];

function validateChecksum(value: unknown): ChecksumOption {
  if (value === undefined) return 'crc32c';
  if (!CHECKSUMS.includes(value)) {
    throw new TypeError(`Expected \`checksum\` to be 'crc32c', 'md5', 'both' or false, received ${describe(value)}`);
  }
  return value as ChecksumOption;
}

function validateStore(value: unknown): CheckpointStore | undefined {
  if (value === undefined) return undefined;
  const store = value as Partial<CheckpointStore> | null;
  if (typeof store !== 'object' || store === null || [store.load, store.save, store.clear].some((fn) => typeof fn !== 'function')) {
    throw new TypeError(`Expected \`checkpointStore\` to have load, save and clear methods, received ${describe(value)}`);
  }
  return store as CheckpointStore;
}

function validateResume(raw: Record<string, unknown>, store: CheckpointStore | undefined): ResolvedOptions['resume'] {
  const { resume } = raw;
  if (resume === undefined || resume === false) return undefined;
  if (resume === true) {
    if (!store) throw new TypeError('`resume: true` needs a `checkpointStore` to load the checkpoint from');
    return 'from-store';
  }
  try {
    return parseCheckpoint(resume);
  } catch (error) {
    throw new TypeError(`Expected \`resume\` to be true or a checkpoint: ${(error as Error).message}`);
  }
}

function validateResumeInput(value: unknown, resume: ResolvedOptions['resume'], checksum: ChecksumOption): ResolvedOptions['resumeInput'] {
  if (value === undefined) return 'from-start';
  if (value !== 'from-start' && value !== 'from-committed') {
    throw new TypeError(`Expected \`resumeInput\` to be 'from-start' or 'from-committed', received ${describe(value)}`);
  }
  if (resume === undefined) throw new TypeError('`resumeInput` only applies with `resume`');
  if (value === 'from-committed' && (checksum === 'md5' || checksum === 'both')) {
    throw new RangeError(`\`checksum: '${checksum}'\` can't resume from an offset (MD5 state can't be saved): use 'crc32c' or \`resumeInput: 'from-start'\``);
  }
  return value;
}

export function resolveOptions(options: unknown): ResolvedOptions {
  const raw = expectObject('options', options);
  if (raw === undefined) throw new TypeError('Expected options to be an object with a `url`, received undefined');
  const checksum = validateChecksum(raw.checksum);
  const checkpointStore = validateStore(raw.checkpointStore);
  const resume = validateResume(raw, checkpointStore);
  const sessionFactory = typeof raw.url === 'function' ? (raw.url as SessionFactory) : undefined;
  if (raw.allowInsecureHttp !== undefined && typeof raw.allowInsecureHttp !== 'boolean') {
    throw new TypeError(`Expected \`allowInsecureHttp\` to be a boolean, received ${describe(raw.allowInsecureHttp)}`);
  }
  const allowInsecureHttp = raw.allowInsecureHttp === true;
  const protocol = validateProtocol(raw.protocol, raw.s3 !== undefined, raw.gcs !== undefined);
  const parts = protocol === 's3' || protocol === 'gcs-multipart';
  if (parts && raw.url !== undefined) {
    throw new TypeError(`\`url\` does not apply to \`protocol: '${protocol}'\`: the upload is created from \`${protocol === 's3' ? 's3' : 'gcs'}\``);
  }
  if (!parts && raw.url === undefined && resume === undefined) {
    throw new TypeError('Expected `url` to be a string, URL or async function, received undefined');
  }
  const headers = protocol === 'gcs' ? refuseSessionHeaders(validateHeaders(raw.headers)) : validateHeaders(raw.headers);
  const s3 = protocol === 's3' ? validateS3(raw.s3, allowInsecureHttp, checkpointStore !== undefined || resume !== undefined, headers) : undefined;
  const gcsMultipart = protocol === 'gcs-multipart' ? validateGcsMultipart(raw.gcs, { allowInsecureHttp, resumable: checkpointStore !== undefined || resume !== undefined, headers, refuseInsecureHttp }) : undefined;
  const givenUrl = raw.url === undefined || sessionFactory ? undefined : refuseInsecureHttp(validateUrl(raw.url), allowInsecureHttp);
  const memoryBudget = raw.memoryBudget;
  if (memoryBudget !== undefined && !(memoryBudget instanceof MemoryBudget)) {
    throw new TypeError(`Expected \`memoryBudget\` to come from createMemoryBudget(), received ${describe(memoryBudget)}`);
  }
  if (memoryBudget !== undefined && parts) {
    throw new TypeError(`\`memoryBudget\` is not supported with \`protocol: '${protocol}'\` yet: bound memory with \`${protocol === 's3' ? 's3' : 'gcs'}.queueSize\` and \`chunkSize\``);
  }
  if (typeof resume === 'object' && resume.protocol !== protocol) {
    throw new TypeError(`Expected \`protocol\` to be '${resume.protocol}', the protocol of the checkpoint given as \`resume\`, received '${protocol}'`);
  }
  const chunkSize = validateChunkSize(raw.chunkSize, protocol);
  if (memoryBudget && memoryBudget.limit < chunkSize) {
    throw new RangeError(`Expected \`memoryBudget\` (${memoryBudget.limit} bytes) to hold at least one chunk (chunkSize ${chunkSize})`);
  }
  return {
    protocol,
    s3,
    gcsMultipart,
    allowInsecureHttp,
    memoryBudget,
    url: typeof resume === 'object' ? refuseInsecureHttp(validateUrl(resume.url), allowInsecureHttp, 'resume.url') : givenUrl,
    sessionFactory,
    checksum,
    checkpointStore,
    resume,
    resumeInput: validateResumeInput(raw.resumeInput, resume, checksum),
    chunkSize,
    totalSize: raw.totalSize === undefined ? undefined : expectInteger('totalSize', raw.totalSize, 0),
    headers,
    dispatcher: validateDispatcher(raw.dispatcher),
    retry: validateRetry(raw.retry),
    timeouts: validateTimeouts(raw.timeouts),
    signal: validateSignal(raw.signal),
    highWaterMark: raw.highWaterMark === undefined ? undefined : expectInteger('highWaterMark', raw.highWaterMark, 1),
  };
}
