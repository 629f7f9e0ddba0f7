/**
 * The `s3` option: its declaration, and its validation, which the stream's option resolution
 * reaches through the protocol-options hook (options/protocols.ts). Keys are checked now and
 * never echoed (they are secrets); a provider is wrapped to refresh; endpoints follow the URL
 * policy, also when they come from the environment (named by their variable in errors).
 */
import { defaultProviderChain, environmentCredentials, refreshingCredentials, type S3CredentialProvider, type S3Credentials } from '../../credentials/aws.js';
import { expectObject, expectSecret, expectString, optionalBoolean, optionalString } from '../../options/expect.js';
import type { ProtocolOptionsContext, ProtocolOptionsHook } from '../../options/protocol-hook.js';
import { validateCredentialUrl } from '../../options/url-policy.js';
import { placeS3Headers, type S3Headers } from './headers.js';
import { MAX_PART_SIZE, MIN_PART_SIZE, resolveTarget, type S3Target } from './wire.js';

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
   * Parts in flight at once: the top-level `queueSize`, under its older name (giving both with
   * different values is a TypeError). Memory: at most (queueSize + 1) × the current part size is held.
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

export interface ResolvedS3 {
  readonly target: S3Target;
  /** Current credentials, for each request as it is signed. */
  readonly credentials: S3CredentialProvider;
  readonly bucket: string;
  readonly key: string;
  /** The resolved `queueSize` (top-level or `s3.queueSize`). */
  readonly queueSize: number;
  readonly leavePartsOnError: boolean;
  /** The `headers` option sorted by request, `s3.contentType` among the object headers. */
  readonly headers: S3Headers;
}

/** The option, else the endpoint the AWS CLI and SDKs take from the environment (named by its variable in errors). */
export function validateS3Endpoint(value: unknown, allowInsecureHttp: boolean): string | undefined {
  const env = process.env;
  const option = value !== undefined ? 's3.endpoint' : env['AWS_IGNORE_CONFIGURED_ENDPOINT_URLS'] === 'true' ? undefined : ['AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL'].find((name) => env[name]);
  if (option === undefined) return undefined;
  return validateCredentialUrl(value ?? env[option], allowInsecureHttp, option);
}

/** Keys checked now (never echoed: they are secrets), a provider wrapped to refresh; none: the environment's keys or the default chain. */
export function validateS3Credentials(value: unknown): S3CredentialProvider {
  if (typeof value === 'function') return refreshingCredentials(value as S3CredentialProvider);
  const given = expectObject('s3.credentials', value) as Partial<S3Credentials> | undefined;
  if (given === undefined) {
    const fromEnv = environmentCredentials();
    return refreshingCredentials(fromEnv ? async () => fromEnv : defaultProviderChain());
  }
  for (const field of ['accessKeyId', 'secretAccessKey', 'sessionToken'] as const) {
    if (field !== 'sessionToken' || given[field] !== undefined) expectSecret(`s3.credentials.${field}`, given[field]);
  }
  const keys: S3Credentials = { accessKeyId: given.accessKeyId as string, secretAccessKey: given.secretAccessKey as string, ...(given.sessionToken ? { sessionToken: given.sessionToken } : {}) };
  return async () => keys;
}

/** `headers` placed on the S3 requests that take them, with `s3.contentType` among the object's. */
function validateS3Headers(contentTypeOption: unknown, headers: Readonly<Record<string, string>>): S3Headers {
  const contentType = optionalString('s3.contentType', contentTypeOption);
  if (contentType !== undefined && headers['content-type'] !== undefined) {
    throw new TypeError('`s3.contentType` and `headers` "content-type" both set the object\'s Content-Type: give one');
  }
  const placed = placeS3Headers(headers);
  return contentType === undefined ? placed : { ...placed, object: { ...placed.object, 'content-type': contentType } };
}

export function validateS3(value: unknown, context: ProtocolOptionsContext): ResolvedS3 {
  const s3 = expectObject('s3', value) ?? {};
  const bucket = expectString('s3.bucket', s3.bucket);
  const key = expectString('s3.key', s3.key);
  const region = expectString('s3.region', s3.region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? 'us-east-1');
  const endpoint = validateS3Endpoint(s3.endpoint, context.allowInsecureHttp);
  return {
    target: resolveTarget({ bucket, key, region, endpoint }),
    credentials: validateS3Credentials(s3.credentials),
    bucket,
    key,
    queueSize: context.queueSize,
    leavePartsOnError: optionalBoolean('s3.leavePartsOnError', s3.leavePartsOnError) ?? context.resumable,
    headers: validateS3Headers(s3.contentType, context.headers),
  };
}

function checkPartSize(size: number): void {
  if (size < MIN_PART_SIZE || size > MAX_PART_SIZE) {
    throw new RangeError(`Expected \`chunkSize\` (the S3 part size) to be from 5 MiB to 5 GiB, received ${size}`);
  }
}

export const S3_OPTIONS: ProtocolOptionsHook<ResolvedS3> = {
  protocol: 's3',
  shape: '{ bucket, key, … }',
  queueSizeAlias: 'queueSize',
  checkChunkSize: checkPartSize,
  validate: validateS3,
};
