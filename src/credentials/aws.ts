/**
 * AWS credentials for S3 signing: static keys, a provider function (any of
 * @aws-sdk/credential-providers' or your own), or — when none is given — the AWS SDK's default
 * chain (fromNodeProviderChain). Every request is signed with credentials fetched through
 * {@link refreshingCredentials}, so temporary credentials are replaced before they expire and a
 * ten-hour upload outlives one-hour credentials.
 */
import { CredentialsError } from '../errors.js';
import { describeCause, importOptional } from './optional.js';

export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
  /** When temporary credentials stop working; they are fetched again 5 minutes before. */
  readonly expiration?: Date | undefined;
}

/** Returns current credentials: an AWS SDK credential provider (`fromIni()`, `fromNodeProviderChain()`…) or your own function. */
export type S3CredentialProvider = () => Promise<S3Credentials>;

/** Credentials are fetched again this long before their `expiration` (the AWS SDK's own margin). */
export const REFRESH_MARGIN_MS = 5 * 60_000;

const WHERE_AWS_LOOKS =
  'AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the environment, the shared files ~/.aws/credentials and ~/.aws/config ' +
  '(AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE; profile AWS_PROFILE or "default"), SSO and credential_process in that profile, ' +
  'a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE), ECS container credentials and EC2 instance metadata (IMDSv2)';

/**
 * Static keys from the environment, as the default chain's first link reads them (skipped when
 * AWS_PROFILE is set, as the chain does): no SDK needs to be installed for them.
 */
export function environmentCredentials(env: NodeJS.ProcessEnv = process.env): S3Credentials | undefined {
  const accessKeyId = env['AWS_ACCESS_KEY_ID'];
  const secretAccessKey = env['AWS_SECRET_ACCESS_KEY'];
  if (!accessKeyId || !secretAccessKey || env['AWS_PROFILE']) return undefined;
  const sessionToken = env['AWS_SESSION_TOKEN'] || undefined;
  const expiration = env['AWS_CREDENTIAL_EXPIRATION'] ? new Date(env['AWS_CREDENTIAL_EXPIRATION']) : undefined;
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}), ...(expiration ? { expiration } : {}) };
}

let sharedChain: Promise<S3CredentialProvider> | undefined;

/** fromNodeProviderChain, made once per process (it caches and refreshes on its own), imported on first use. */
export function defaultProviderChain(): S3CredentialProvider {
  return async () => {
    sharedChain ??= importOptional(
      '@aws-sdk/credential-providers',
      () => import('@aws-sdk/credential-providers'),
      'pass `s3.credentials` (keys or a provider function), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
    ).then(({ fromNodeProviderChain }) => fromNodeProviderChain() as S3CredentialProvider);
    sharedChain.catch(() => (sharedChain = undefined));
    let chain: S3CredentialProvider;
    try {
      chain = await sharedChain;
    } catch (error) {
      throw error instanceof CredentialsError ? error : new CredentialsError(`loading the AWS SDK failed: ${String(error)}`, { cause: error });
    }
    try {
      return await chain();
    } catch (error) {
      throw new CredentialsError(
        `no AWS credentials found (${describeCause(error)}). Looked in: ${WHERE_AWS_LOOKS}. ` +
          'Run `aws configure` (keys) or `aws sso login` (SSO), or pass `s3.credentials`',
        { cause: error },
      );
    }
  };
}

/**
 * Caches what `provider` gives until 5 minutes before its `expiration` (forever without one),
 * one fetch at a time. A refresh that fails while the cached credentials still work keeps them:
 * a metadata hiccup must not end a long upload.
 */
export function refreshingCredentials(provider: S3CredentialProvider, now: () => number = Date.now): S3CredentialProvider {
  let cached: S3Credentials | undefined;
  let pending: Promise<S3Credentials> | undefined;
  const fresh = (credentials: S3Credentials) => credentials.expiration === undefined || credentials.expiration.getTime() - now() > REFRESH_MARGIN_MS;
  const fetch = async () => {
    try {
      cached = checkCredentials(await provider());
      return cached;
    } catch (error) {
      if (cached?.expiration !== undefined && cached.expiration.getTime() > now()) return cached;
      throw error instanceof CredentialsError ? error : new CredentialsError(`the \`s3.credentials\` provider failed: ${describeCause(error)}`, { cause: error });
    } finally {
      pending = undefined;
    }
  };
  return async () => {
    if (cached !== undefined && fresh(cached)) return cached;
    pending ??= fetch();
    return pending;
  };
}

/** Never echoes a value: they are secrets. */
function checkCredentials(value: unknown): S3Credentials {
  const credentials = value as Partial<S3Credentials> | null;
  for (const field of ['accessKeyId', 'secretAccessKey'] as const) {
    if (typeof credentials?.[field] !== 'string' || credentials[field] === '') {
      throw new CredentialsError(`the \`s3.credentials\` provider gave no ${field}`);
    }
  }
  const expiration = credentials?.expiration;
  if (expiration !== undefined && !(expiration instanceof Date && !Number.isNaN(expiration.getTime()))) {
    throw new CredentialsError('the `s3.credentials` provider gave an `expiration` that is not a valid Date');
  }
  return credentials as S3Credentials;
}
