/**
 * The `azure` option of `protocol: 'azure'` and its eager validation: where the credential comes
 * from (a SAS in `url`, Shared Key, or a Microsoft Entra `TokenCredential`), and which of the
 * `headers` option go on which request. A wrong option is a TypeError naming it; a secret is never
 * echoed.
 */
import { DEFAULT_QUEUE_SIZE } from '../../options/defaults.js';
import type { ProtocolOptionsHook } from '../../options/protocol-hook.js';
import { cachedToken, defaultAzureCredential, type AzureAuth, type AzureTokenCredential } from './auth.js';
import { AZURE_LIMITS, parseBlobUrl, UPLOAD_PARAM, type BlobTarget } from './wire.js';

export interface AzureOptions {
  /**
   * The storage account, for Shared Key. @default the account in `url` (`ACCOUNT.blob.…`, or the
   * first path segment for an emulator such as Azurite)
   */
  accountName?: string;
  /** The account key (base64, as the portal shows it): every request is signed with Shared Key. */
  accountKey?: string;
  /**
   * A Microsoft Entra `TokenCredential` (`DefaultAzureCredential`, `ManagedIdentityCredential`…
   * from @azure/identity, or any object with `getToken(scopes)`): a `Bearer` token for
   * `https://storage.azure.com/.default` on every request, fetched again 5 minutes before it expires.
   * @default with neither a SAS in `url` nor `accountKey`: `DefaultAzureCredential` from the
   * optional package @azure/identity
   */
  credential?: AzureTokenCredential;
  /** The blob's Content-Type (`x-ms-blob-content-type`). */
  contentType?: string;
}

/** The `headers` option sorted by the requests that take them. */
export interface AzureHeaders {
  /** Properties, metadata, tier, tags and conditions of the blob: Put Block List or Put Blob. */
  readonly commit: Readonly<Record<string, string>>;
  /** A lease and the encryption scope or customer key: every request that touches the blob. */
  readonly everyRequest: Readonly<Record<string, string>>;
}

export interface ResolvedAzure {
  readonly target: BlobTarget;
  readonly auth: AzureAuth;
  readonly headers: AzureHeaders;
  /** Blocks in flight: the top-level `queueSize`. */
  readonly queueSize: number;
}

const COMMIT_HEADERS = new Set([
  'x-ms-blob-cache-control',
  'x-ms-blob-content-type',
  'x-ms-blob-content-encoding',
  'x-ms-blob-content-language',
  'x-ms-blob-content-disposition',
  'x-ms-access-tier',
  'x-ms-tags',
  'x-ms-legal-hold',
  'x-ms-immutability-policy-until-date',
  'x-ms-immutability-policy-mode',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'x-ms-if-tags',
]);
const EVERY_REQUEST_HEADERS = new Set(['x-ms-lease-id', 'x-ms-encryption-scope', 'x-ms-encryption-key', 'x-ms-encryption-key-sha256', 'x-ms-encryption-algorithm']);

/** Sorts lower-cased `headers`; one no request of an upload takes from the caller is a TypeError naming it, never dropped. */
export function placeAzureHeaders(headers: Readonly<Record<string, string>>, contentType: string | undefined): AzureHeaders {
  const commit: Record<string, string> = {};
  const everyRequest: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (COMMIT_HEADERS.has(name) || (name.startsWith('x-ms-meta-') && name.length > 'x-ms-meta-'.length)) commit[name] = value;
    else if (EVERY_REQUEST_HEADERS.has(name)) everyRequest[name] = value;
    else {
      throw new TypeError(
        `\`headers\` may not set ${JSON.stringify(name)} with \`protocol: 'azure'\`: no request of a block blob upload takes it from the caller ` +
          `(accepted: x-ms-meta-*, ${[...COMMIT_HEADERS, ...EVERY_REQUEST_HEADERS].join(', ')}; the content type also as \`azure.contentType\`)`,
      );
    }
  }
  if (contentType !== undefined) {
    if (commit['x-ms-blob-content-type'] !== undefined) throw new TypeError('`azure.contentType` and `headers` "x-ms-blob-content-type" both set the blob\'s Content-Type: give one');
    commit['x-ms-blob-content-type'] = contentType;
  }
  return { commit, everyRequest };
}

function expectText(name: string, value: unknown, secret = false): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') {
    const received = secret || typeof value !== 'string' ? (value === '' ? 'an empty string' : typeof value) : JSON.stringify(value);
    throw new TypeError(`Expected \`${name}\` to be a non-empty string, received ${received}`);
  }
  return value;
}

function validateKey(value: unknown): Buffer | undefined {
  const text = expectText('azure.accountKey', value, true);
  if (text === undefined) return undefined;
  const key = Buffer.from(text, 'base64');
  if (key.length === 0 || key.toString('base64').replace(/=+$/, '') !== text.replace(/=+$/, '')) {
    throw new TypeError('Expected `azure.accountKey` to be the account key in base64 (as the Azure portal shows it), received a string that is not base64');
  }
  return key;
}

function validateCredential(value: unknown): AzureTokenCredential | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || typeof (value as AzureTokenCredential).getToken !== 'function') {
    throw new TypeError(`Expected \`azure.credential\` to be a TokenCredential (an object with getToken(scopes)), received ${value === null ? 'null' : typeof value}`);
  }
  return value as AzureTokenCredential;
}

/** One credential: the URL's SAS, a key or a TokenCredential; none given: DefaultAzureCredential. */
function resolveAuth(target: BlobTarget, azure: Record<string, unknown>): AzureAuth {
  const key = validateKey(azure['accountKey']);
  const credential = validateCredential(azure['credential']);
  const account = expectText('azure.accountName', azure['accountName']);
  const given = [target.hasSas && 'a SAS in `url`', key && '`azure.accountKey`', credential && '`azure.credential`'].filter(Boolean);
  if (given.length > 1) throw new TypeError(`\`protocol: 'azure'\` takes one credential, received ${given.join(' and ')}`);
  if (account !== undefined && key === undefined) throw new TypeError('`azure.accountName` only applies with `azure.accountKey` (Shared Key)');
  if (key) return { kind: 'shared-key', account: account ?? target.account, key };
  if (target.hasSas) return { kind: 'sas' };
  return { kind: 'token', token: cachedToken(credential ?? defaultAzureCredential()) };
}

const AZURE_FIELDS: ReadonlySet<string> = new Set(['accountName', 'accountKey', 'credential', 'contentType']);

/**
 * The `azure` option with the blob's `url` (already checked as an http(s) URL, and refused over
 * plain http except to loopback; a checkpoint's URL loses the upload id it carries) and the
 * top-level `queueSize`: the target, the credential, the headers and the blocks in flight.
 */
export function validateAzure(value: unknown, url: string, headers: Readonly<Record<string, string>>, queueSize = DEFAULT_QUEUE_SIZE): ResolvedAzure {
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw new TypeError(`Expected \`azure\` to be an object, received ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  }
  const azure = (value ?? {}) as Record<string, unknown>;
  const unknown = Object.keys(azure).filter((name) => !AZURE_FIELDS.has(name));
  if (unknown.length > 0) throw new TypeError(`Unknown \`azure\` option ${unknown.map((name) => `\`azure.${name}\``).join(', ')}: expected ${[...AZURE_FIELDS].join(', ')}`);
  const target = parseBlobUrl(withoutUploadId(url));
  if (!target) {
    throw new TypeError('Expected `url` to be a blob URL with a container and a blob name: `https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB`, or `http://127.0.0.1:PORT/ACCOUNT/CONTAINER/BLOB` for an emulator');
  }
  const contentType = expectText('azure.contentType', azure['contentType']);
  return { target, auth: resolveAuth(target, azure), headers: placeAzureHeaders(headers, contentType), queueSize };
}

/** The blob URL of a checkpoint (its SAS kept byte for byte), without the upload id the stream put there. */
function withoutUploadId(url: string): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has(UPLOAD_PARAM)) return url;
  const query = parsed.search.slice(1).split('&').filter((pair) => pair.split('=')[0] !== UPLOAD_PARAM).join('&');
  return `${parsed.origin}${parsed.pathname}${query === '' ? '' : `?${query}`}`;
}

/** `chunkSize` with Azure: the first block's size, from 1 byte to 4000 MiB. */
export function checkAzureChunkSize(size: number): number {
  if (size < AZURE_LIMITS.minPartSize || size > AZURE_LIMITS.maxPartSize) {
    throw new RangeError(`Expected \`chunkSize\` (the first Azure block size) to be from 1 byte to 4000 MiB, received ${size}`);
  }
  return size;
}

/** `protocol: 'azure'` in the options: the blob is named by `url`, so `azure` is optional. */
export const AZURE_OPTIONS: ProtocolOptionsHook<ResolvedAzure> = {
  protocol: 'azure',
  shape: '{ accountName, accountKey } or { credential }',
  takesUrl: true,
  checkChunkSize: checkAzureChunkSize,
  validate: (value, context) => validateAzure(value, context.url as string, context.headers, context.queueSize),
};
