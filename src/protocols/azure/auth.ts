/**
 * Who may write the blob, per request: a SAS in the URL's query (nothing to add), Shared Key (a
 * signature over each request as it is sent), or a Microsoft Entra token as `Bearer` from a
 * `TokenCredential` — yours, or `DefaultAzureCredential` from the optional package
 * @azure/identity, imported only when neither a SAS nor a key nor a credential is given. Tokens
 * are cached and fetched again 5 minutes before they expire, so a long upload outlives them.
 */
import { CredentialsError } from '../../errors.js';
import { describeCause, importOptional } from '../../credentials/optional.js';
import { sharedKeyAuthorization } from './shared-key.js';
import { AZURE_VERSION } from './wire.js';

/** What Azure's SDKs call an `AccessToken`. */
export interface AzureAccessToken {
  readonly token: string;
  /** Milliseconds since the epoch. */
  readonly expiresOnTimestamp: number;
}

/** The shape of `@azure/core-auth`'s `TokenCredential` (DefaultAzureCredential, ManagedIdentityCredential, …). */
export interface AzureTokenCredential {
  getToken(scopes: string | string[], options?: object): Promise<AzureAccessToken | null>;
}

export type AzureAuth =
  | { readonly kind: 'sas' }
  | { readonly kind: 'shared-key'; readonly account: string; readonly key: Buffer }
  | { readonly kind: 'token'; readonly token: () => Promise<string> };

/** The scope a token for Blob storage is asked for. */
export const STORAGE_SCOPE = 'https://storage.azure.com/.default';
const REFRESH_MARGIN_MS = 5 * 60_000;

export interface UnsignedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly contentLength: number;
}

/** The request's headers with the date, the version and the authorization for this very attempt. */
export async function authorize(auth: AzureAuth, request: UnsignedRequest, now = new Date()): Promise<Record<string, string>> {
  const headers = { ...request.headers, 'x-ms-date': now.toUTCString(), 'x-ms-version': AZURE_VERSION };
  if (auth.kind === 'shared-key') return { ...headers, authorization: sharedKeyAuthorization(auth.account, auth.key, { ...request, headers }) };
  if (auth.kind === 'token') return { ...headers, authorization: `Bearer ${await auth.token()}` };
  return headers;
}

/**
 * Tokens from `credential`, each kept until 5 minutes before it expires, one fetch at a time. A
 * refresh that fails while the cached token still works keeps it: an identity endpoint's hiccup
 * must not end a long upload.
 */
export function cachedToken(credential: AzureTokenCredential, now: () => number = Date.now): () => Promise<string> {
  let cached: AzureAccessToken | undefined;
  let pending: Promise<AzureAccessToken> | undefined;
  return async () => {
    if (cached && cached.expiresOnTimestamp - now() > REFRESH_MARGIN_MS) return cached.token;
    pending ??= fetchToken(credential).finally(() => (pending = undefined));
    try {
      cached = await pending;
    } catch (error) {
      if (cached && cached.expiresOnTimestamp > now()) return cached.token;
      throw error;
    }
    return cached.token;
  };
}

async function fetchToken(credential: AzureTokenCredential): Promise<AzureAccessToken> {
  let answer: AzureAccessToken | null;
  try {
    answer = await credential.getToken(STORAGE_SCOPE);
  } catch (error) {
    throw error instanceof CredentialsError ? error : new CredentialsError(`the Azure credential gave no token for ${STORAGE_SCOPE} (${describeCause(error)})`, { cause: error });
  }
  if (!answer || typeof answer.token !== 'string' || answer.token === '' || !Number.isFinite(answer.expiresOnTimestamp)) {
    throw new CredentialsError(`the Azure credential's getToken() gave no token for ${STORAGE_SCOPE} (expected { token, expiresOnTimestamp })`);
  }
  return answer;
}

let sharedDefault: Promise<AzureTokenCredential> | undefined;

/** `DefaultAzureCredential` from @azure/identity, made once per process on first use (it caches on its own). */
export function defaultAzureCredential(): AzureTokenCredential {
  return {
    async getToken(scopes) {
      sharedDefault ??= importOptional(
        '@azure/identity',
        // A variable specifier: the package is optional, and TypeScript must not require its types.
        () => import(IDENTITY_PACKAGE) as Promise<{ DefaultAzureCredential: new () => AzureTokenCredential }>,
        'put a SAS in `url`, or pass `azure.accountKey` or `azure.credential`',
      ).then(({ DefaultAzureCredential }) => new DefaultAzureCredential());
      sharedDefault.catch(() => (sharedDefault = undefined));
      return (await sharedDefault).getToken(scopes);
    },
  };
}

const IDENTITY_PACKAGE = '@azure/identity';
