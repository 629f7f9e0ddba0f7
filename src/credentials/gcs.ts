/**
 * Google credentials for starting GCS sessions: a token, a token function, a GoogleAuth or
 * AuthClient of your own (`auth`), or — when none is given — Application Default Credentials
 * through google-auth-library (GOOGLE_APPLICATION_CREDENTIALS, gcloud's application default
 * login, the metadata server, workload identity federation), as @google-cloud/storage finds
 * them. An emulator (STORAGE_EMULATOR_HOST) or another custom endpoint gets no credentials
 * unless they are given or `useAuthWithCustomEndpoint` asks for them, as @google-cloud/storage does.
 */
import { CredentialsError } from '../errors.js';
import { describeCause, importOptional } from './optional.js';

/** A GoogleAuth, or any google-auth-library AuthClient (JWT, Compute, ExternalAccountClient…): what `auth` takes. */
export interface GoogleAuthLike {
  getRequestHeaders(url?: string): Promise<Headers | Record<string, string>>;
}

/** What @google-cloud/storage asks for by default: objects can be written with ACLs. */
export const STORAGE_SCOPE = 'https://www.googleapis.com/auth/devstorage.full_control';

export const DEFAULT_GCS_ENDPOINT = 'https://storage.googleapis.com';

export interface GcsCredentialOptions {
  token?: string | undefined;
  getToken?: (() => string | Promise<string>) | undefined;
  auth?: GoogleAuthLike | undefined;
  apiEndpoint?: string | undefined;
  useAuthWithCustomEndpoint?: boolean | undefined;
}

/** Headers for one initiation attempt to `url`. */
export type AuthHeaders = (url: string) => Promise<Record<string, string>>;

/**
 * The endpoint: `apiEndpoint`, else STORAGE_EMULATOR_HOST (https:// added when it has no
 * scheme, as @google-cloud/storage does), else storage.googleapis.com. `custom`: not the default.
 */
export function gcsEndpoint(apiEndpoint: string | undefined, env: NodeJS.ProcessEnv = process.env): { endpoint: string; custom: boolean } {
  const emulator = env['STORAGE_EMULATOR_HOST'];
  const chosen = apiEndpoint ?? (emulator ? (/^\w+:\/\//.test(emulator) ? emulator : `https://${emulator}`) : DEFAULT_GCS_ENDPOINT);
  const endpoint = chosen.replace(/\/+$/, '');
  return { endpoint, custom: endpoint !== DEFAULT_GCS_ENDPOINT };
}

/** How the initiation requests are authorized; TypeErrors for options that contradict each other. */
export function gcsAuthHeaders(options: GcsCredentialOptions, customEndpoint: boolean): AuthHeaders {
  const given = (['token', 'getToken', 'auth'] as const).filter((name) => options[name] !== undefined);
  if (given.length > 1) throw new TypeError(`Give one of \`token\`, \`getToken\` and \`auth\`, received ${given.map((name) => `\`${name}\``).join(' and ')}`);
  const { token, getToken, auth } = options;
  if (getToken !== undefined && typeof getToken !== 'function') throw new TypeError(`Expected \`getToken\` to be a function, received ${typeof getToken}`);
  if (auth !== undefined && typeof (auth as Partial<GoogleAuthLike> | null)?.getRequestHeaders !== 'function') {
    throw new TypeError('Expected `auth` to be a GoogleAuth or an AuthClient from google-auth-library (with getRequestHeaders)');
  }
  if (options.useAuthWithCustomEndpoint !== undefined && typeof options.useAuthWithCustomEndpoint !== 'boolean') {
    throw new TypeError(`Expected \`useAuthWithCustomEndpoint\` to be a boolean, received ${typeof options.useAuthWithCustomEndpoint}`);
  }
  if (token !== undefined) return async () => bearer(token);
  if (getToken !== undefined) return async () => bearer(await getToken());
  if (auth !== undefined) return (url) => requestHeaders(auth, url);
  if (customEndpoint && options.useAuthWithCustomEndpoint !== true) return async () => ({});
  return async (url) => requestHeaders(await applicationDefaultCredentials(), url);
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let shared: Promise<GoogleAuthLike> | undefined;

/** One GoogleAuth per process, imported on first use: its token is cached and refreshed across sessions. */
function applicationDefaultCredentials(): Promise<GoogleAuthLike> {
  shared ??= importOptional('google-auth-library', () => import('google-auth-library'), 'pass `token`, `getToken` or `auth`').then(
    ({ GoogleAuth }) => new GoogleAuth({ scopes: [STORAGE_SCOPE] }),
  );
  shared.catch(() => (shared = undefined));
  return shared;
}

const NO_ADC = 'Could not load the default credentials';

/** The client's headers (Authorization, x-goog-user-project…), lower-cased; its failures as CredentialsErrors. */
async function requestHeaders(auth: GoogleAuthLike, url: string): Promise<Record<string, string>> {
  let headers: Headers | Record<string, string>;
  try {
    headers = await auth.getRequestHeaders(url);
  } catch (error) {
    throw credentialsError(error);
  }
  const entries: Array<[string, string]> = typeof (headers as Headers).forEach === 'function' && typeof (headers as Headers).get === 'function' ? [...(headers as Headers).entries()] : Object.entries(headers);
  return Object.fromEntries(entries.map(([name, value]) => [name.toLowerCase(), String(value)]));
}

function credentialsError(error: unknown): CredentialsError {
  const message = error instanceof Error ? error.message : String(error);
  if (message.includes(NO_ADC)) {
    const gcloud = process.platform === 'win32' ? '%APPDATA%\\gcloud\\application_default_credentials.json' : '~/.config/gcloud/application_default_credentials.json';
    return new CredentialsError(
      'no Google credentials found. Looked in: GOOGLE_APPLICATION_CREDENTIALS (a service-account key or external account file), ' +
        `gcloud's application default credentials (${gcloud}, or CLOUDSDK_CONFIG), and the GCE/GKE/Cloud Run metadata server ` +
        '(metadata.google.internal, or GCE_METADATA_HOST). Run `gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS ' +
        'to a key file, or pass `token`, `getToken` or `auth`',
      { cause: error },
    );
  }
  if (error instanceof CredentialsError) return error;
  return new CredentialsError(`getting a Google access token failed: ${describeCause(error)}`, { cause: error });
}
