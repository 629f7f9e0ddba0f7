/**
 * Typed errors. Every error the stream produces is a {@link ResumableUploadError} with a literal
 * string `code`, the number of bytes the server had confirmed when it failed, and the original
 * error as `cause`. The session URI is a credential: messages only ever carry its redacted form
 * (see {@link redactUrl}); the full URI is kept on a non-enumerable `url` property so that a
 * caller can resume, while `console.log(err)` and `util.inspect(err)` do not print it.
 */

/** Every `code` a {@link ResumableUploadError} can carry. */
export type ResumableUploadErrorCode =
  | 'RWS_SESSION_EXPIRED'
  | 'RWS_HTTP_STATUS'
  | 'RWS_RETRIES_EXHAUSTED'
  | 'RWS_PROTOCOL'
  | 'RWS_SIZE_MISMATCH'
  | 'RWS_ABORTED'
  | 'RWS_NETWORK'
  | 'RWS_TIMEOUT'
  | 'RWS_TLS'
  | 'RWS_CHECKSUM_MISMATCH'
  | 'RWS_RESUME_MISMATCH'
  | 'RWS_CHECKPOINT'
  | 'RWS_CREDENTIALS';

export interface ErrorContext {
  /** Bytes the server had confirmed as persisted when the error happened. */
  bytesCommitted?: number;
  /** The session URI (kept non-enumerable; never put in a message). */
  url?: string;
  /** See {@link ResumableUploadError.storedSize}. */
  storedSize?: number;
  cause?: unknown;
}

export abstract class ResumableUploadError extends Error {
  abstract readonly code: ResumableUploadErrorCode;
  /** Bytes the server had confirmed as persisted when the error happened. */
  readonly bytesCommitted: number | undefined;
  /** The full session URI, for resuming. Non-enumerable: never printed by `util.inspect`. */
  declare readonly url: string | undefined;
  /**
   * Set when the server answered with a finalized object that is not the bytes written (a
   * session finalized earlier with other data, or a truncated or corrupt object): the size it
   * reports. Such a session takes no more data; `bytesCommitted` then counts the stream's own
   * bytes, not what the server holds.
   */
  readonly storedSize: number | undefined;

  constructor(message: string, context: ErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = new.target.name;
    this.bytesCommitted = context.bytesCommitted;
    this.storedSize = context.storedSize;
    Object.defineProperty(this, 'url', { value: context.url, enumerable: false, writable: false });
  }
}

/** The session is gone (404, 410) or expired (400 to a status query): start a new session. */
export class SessionExpiredError extends ResumableUploadError {
  readonly code = 'RWS_SESSION_EXPIRED' as const;
  constructor(
    readonly status: number,
    message: string,
    context: ErrorContext = {},
  ) {
    super(message, context);
  }
}

/**
 * The server answered an unexpected status. `retryable` ones (408, 429, 5xx) are retried after a
 * status query and only surface as the `cause` of a {@link RetriesExhaustedError}; the others
 * (401, 403, 412, a 400 that is not an expiry, any 3xx) fail the stream at once.
 */
export class HttpStatusError extends ResumableUploadError {
  readonly code = 'RWS_HTTP_STATUS' as const;
  constructor(
    readonly status: number,
    /** At most a few hundred characters of the answer's body. */
    readonly bodyExcerpt: string,
    readonly retryable: boolean,
    message: string,
    context: ErrorContext & { retryAfterMs?: number | undefined } = {},
  ) {
    super(message, context);
    this.retryAfterMs = context.retryAfterMs;
  }
  /** What the answer's `Retry-After` asked for, in ms. */
  readonly retryAfterMs: number | undefined;
}

/** A retryable failure kept happening until the retry budget (count or time) ran out. */
export class RetriesExhaustedError extends ResumableUploadError {
  readonly code = 'RWS_RETRIES_EXHAUSTED' as const;
  constructor(
    readonly attempts: number,
    readonly elapsedMs: number,
    message: string,
    context: ErrorContext = {},
  ) {
    super(message, context);
  }
}

/**
 * The server broke the protocol: garbage `Range`, an offset beyond what was sent, an offset that
 * went backwards past bytes already released, or a completion before the final request.
 */
export class ProtocolError extends ResumableUploadError {
  readonly code = 'RWS_PROTOCOL' as const;
}

/** The stream's length disagrees with the declared `totalSize`. Nothing was finalized. */
export class SizeMismatchError extends ResumableUploadError {
  readonly code = 'RWS_SIZE_MISMATCH' as const;
  constructor(
    readonly expected: number,
    readonly actual: number,
    message: string,
    context: ErrorContext = {},
  ) {
    super(message, context);
  }
}

/** The upload was aborted by the caller: `signal`, `cancel()` or `destroy()`. */
export class AbortedError extends ResumableUploadError {
  readonly code = 'RWS_ABORTED' as const;
}

/** A request failed on the network (reset, refused, closed before an answer). Retried. */
export class NetworkError extends ResumableUploadError {
  readonly code = 'RWS_NETWORK' as const;
}

/**
 * The TLS connection could not be trusted (self-signed, expired or not-yet-valid certificate, a
 * name that does not match the host, an unknown CA) or not made at all (no TLS at that address).
 * Not retried: the same certificate will be refused again. `tlsCode` is Node's code for it.
 */
export class TlsError extends ResumableUploadError {
  readonly code = 'RWS_TLS' as const;
  constructor(
    readonly tlsCode: string,
    message: string,
    context: ErrorContext = {},
  ) {
    super(message, context);
  }
}

/** A request stalled past `timeouts.headersTimeout` or `timeouts.bodyTimeout`. Retried. */
export class TimeoutError extends ResumableUploadError {
  readonly code = 'RWS_TIMEOUT' as const;
}

/**
 * The stored object's digest differs from the stream's (or the server refused the final request
 * because the `X-Goog-Hash` we sent did not match what it received).
 */
export class ChecksumMismatchError extends ResumableUploadError {
  readonly code = 'RWS_CHECKSUM_MISMATCH' as const;
  constructor(
    readonly algorithm: 'crc32c' | 'md5',
    readonly expected: string | undefined,
    readonly reported: string | undefined,
    message: string,
    context: ErrorContext = {},
  ) {
    super(message, context);
  }
}

/**
 * Resuming is impossible with this input: the bytes written again differ from those uploaded
 * before (CRC32C of the prefix), the input is shorter than what the server holds, or the server
 * holds less than the checkpoint recorded.
 */
export class ResumeMismatchError extends ResumableUploadError {
  readonly code = 'RWS_RESUME_MISMATCH' as const;
}

/** The checkpoint store failed to load or save. The upload stops: durability was asked for. */
export class CheckpointError extends ResumableUploadError {
  readonly code = 'RWS_CHECKPOINT' as const;
}

/**
 * No credentials could be had: none found where the provider chain looked (the message says
 * where, and what to run), a credential provider failed, or the optional package that finds them
 * is not installed. Not retried here: the providers retry their own endpoints.
 */
export class CredentialsError extends ResumableUploadError {
  readonly code = 'RWS_CREDENTIALS' as const;
}

/**
 * The session URI with every query value and any user-info replaced by `…`, and every path
 * segment that looks like a generated id (16+ characters with a digit: a tus upload id lives in
 * the path) cut to its first 4 characters, safe for messages and logs:
 * `https://host/upload/storage/v1/b/bkt/o?uploadType=…&upload_id=…`, `https://host/files/59a5…`.
 */
const ID_LIKE = /^(?=[^/]*\d)[\w.~+=%-]{16,}$/;

export function redactUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    return '<invalid url>';
  }
  const keys = [...parsed.searchParams.keys()];
  const query = keys.length === 0 ? '' : `?${keys.map((key) => `${encodeURIComponent(key)}=…`).join('&')}`;
  const userInfo = parsed.username || parsed.password ? '…@' : '';
  const path = parsed.pathname
    .split('/')
    .map((segment) => (ID_LIKE.test(segment) ? `${segment.slice(0, 4)}…` : segment))
    .join('/');
  return `${parsed.protocol}//${userInfo}${parsed.host}${path}${query}`;
}
