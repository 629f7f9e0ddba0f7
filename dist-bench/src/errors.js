/**
 * Typed errors. Every error the stream produces is a {@link ResumableUploadError} with a literal
 * string `code`, the number of bytes the server had confirmed when it failed, and the original
 * error as `cause`. The session URI is a credential: messages only ever carry its redacted form
 * (see {@link redactUrl}); the full URI is kept on a non-enumerable `url` property so that a
 * caller can resume, while `console.log(err)` and `util.inspect(err)` do not print it.
 */
export class ResumableUploadError extends Error {
    /** Bytes the server had confirmed as persisted when the error happened. */
    bytesCommitted;
    constructor(message, context = {}) {
        super(message, context.cause === undefined ? undefined : { cause: context.cause });
        this.name = new.target.name;
        this.bytesCommitted = context.bytesCommitted;
        Object.defineProperty(this, 'url', { value: context.url, enumerable: false, writable: false });
    }
}
/** The session is gone (404, 410) or expired (400 to a status query): start a new session. */
export class SessionExpiredError extends ResumableUploadError {
    status;
    code = 'RWS_SESSION_EXPIRED';
    constructor(status, message, context = {}) {
        super(message, context);
        this.status = status;
    }
}
/**
 * The server answered an unexpected status. `retryable` ones (408, 429, 5xx) are retried after a
 * status query and only surface as the `cause` of a {@link RetriesExhaustedError}; the others
 * (401, 403, 412, a 400 that is not an expiry, any 3xx) fail the stream at once.
 */
export class HttpStatusError extends ResumableUploadError {
    status;
    bodyExcerpt;
    retryable;
    code = 'RWS_HTTP_STATUS';
    constructor(status, 
    /** At most a few hundred characters of the answer's body. */
    bodyExcerpt, retryable, message, context = {}) {
        super(message, context);
        this.status = status;
        this.bodyExcerpt = bodyExcerpt;
        this.retryable = retryable;
        this.retryAfterMs = context.retryAfterMs;
    }
    /** What the answer's `Retry-After` asked for, in ms. */
    retryAfterMs;
}
/** A retryable failure kept happening until the retry budget (count or time) ran out. */
export class RetriesExhaustedError extends ResumableUploadError {
    attempts;
    elapsedMs;
    code = 'RWS_RETRIES_EXHAUSTED';
    constructor(attempts, elapsedMs, message, context = {}) {
        super(message, context);
        this.attempts = attempts;
        this.elapsedMs = elapsedMs;
    }
}
/**
 * The server broke the protocol: garbage `Range`, an offset beyond what was sent, an offset that
 * went backwards past bytes already released, or a completion before the final request.
 */
export class ProtocolError extends ResumableUploadError {
    code = 'RWS_PROTOCOL';
}
/** The stream's length disagrees with the declared `totalSize`. Nothing was finalized. */
export class SizeMismatchError extends ResumableUploadError {
    expected;
    actual;
    code = 'RWS_SIZE_MISMATCH';
    constructor(expected, actual, message, context = {}) {
        super(message, context);
        this.expected = expected;
        this.actual = actual;
    }
}
/** The upload was aborted by the caller: `signal`, `cancel()` or `destroy()`. */
export class AbortedError extends ResumableUploadError {
    code = 'RWS_ABORTED';
}
/** A request failed on the network (reset, refused, closed before an answer). Retried. */
export class NetworkError extends ResumableUploadError {
    code = 'RWS_NETWORK';
}
/** A request stalled past `timeouts.headersTimeout` or `timeouts.bodyTimeout`. Retried. */
export class TimeoutError extends ResumableUploadError {
    code = 'RWS_TIMEOUT';
}
/**
 * The session URI with every query value and any user-info replaced by `…`, safe for messages
 * and logs: `https://host/upload/storage/v1/b/bkt/o?uploadType=…&upload_id=…`.
 */
export function redactUrl(url) {
    let parsed;
    try {
        parsed = new URL(String(url));
    }
    catch {
        return '<invalid url>';
    }
    const keys = [...parsed.searchParams.keys()];
    const query = keys.length === 0 ? '' : `?${keys.map((key) => `${encodeURIComponent(key)}=…`).join('&')}`;
    const userInfo = parsed.username || parsed.password ? '…@' : '';
    return `${parsed.protocol}//${userInfo}${parsed.host}${parsed.pathname}${query}`;
}
