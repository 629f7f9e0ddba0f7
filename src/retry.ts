/**
 * The only file that knows p-retry. It decides which failures are retried (the classification
 * below), how long to wait (truncated exponential backoff with jitter, at least what a
 * `Retry-After` asked for) and when to give up. p-retry counts attempts, enforces the time
 * budget and stops on abort; the delay is ours because it must honour `Retry-After` and be
 * reported in the `'retry'` event before it starts.
 */
import pRetry from 'p-retry';
import { HttpStatusError, NetworkError, RetriesExhaustedError, TimeoutError, type ErrorContext } from './errors.js';
import type { RetryOptions } from './options/index.js';

/** A `Retry-After` is honoured up to this long; beyond it a server is not taken at its word. */
const RETRY_AFTER_CAP_MS = 60_000;

// ---- The classification table: every "is this worth another try?" is answered here. ----------

/** Statuses retried (after a status query) by every protocol, for uploads and initiation alike. */
const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** What one protocol retries beyond the shared statuses; each adapter contributes its own. */
export interface RetryExtras {
  /** More statuses (tus: 409 offset conflict, 423 locked). */
  readonly statuses?: ReadonlySet<number>;
  /** Error codes the server names in an answer's body (S3: `SlowDown`, `InternalError`…). */
  readonly codes?: ReadonlySet<string>;
}

/** Failures of the connection or of the answer's framing: worth a status query and a retry. */
const SOCKET_FAILURE_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH',
  'ENETDOWN', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_INFO', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'UND_ERR_HEADERS_OVERFLOW',
]);

/** A certificate that can't be trusted (OpenSSL's verdicts as Node names them): never retried. */
const CERTIFICATE_FAILURE_CODES: ReadonlySet<string> = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_DECRYPT_CERT_SIGNATURE', 'CERT_SIGNATURE_FAILURE', 'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_CHAIN_TOO_LONG', 'INVALID_CA', 'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_TLS_CERT_ALTNAME_FORMAT',
]);

/** Whether an answer with this status (and, for S3-like servers, this body code) is worth a retry. */
export function isRetryableStatus(status: number, extras: RetryExtras = {}, bodyCode?: string): boolean {
  if (RETRYABLE_STATUSES.has(status) || extras.statuses?.has(status) === true) return true;
  return bodyCode !== undefined && extras.codes?.has(bodyCode) === true;
}

/**
 * What a thrown transport failure is: `'network'` (retried), `'tls'` (a TLS connection that could
 * not be made or trusted: not retried) or undefined (not a transport failure: an abort, a bug).
 * HPE_*: llhttp could not parse the answer (a broken or hostile server); ERR_SSL_*: the TLS
 * handshake itself failed.
 */
export function classifySocketFailure(code: unknown): 'network' | 'tls' | undefined {
  if (typeof code !== 'string') return undefined;
  if (CERTIFICATE_FAILURE_CODES.has(code) || code.startsWith('ERR_SSL_')) return 'tls';
  if (SOCKET_FAILURE_CODES.has(code) || code.startsWith('HPE_')) return 'network';
  return undefined;
}

export interface RetryNotice {
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  /** Always typed: only ResumableUploadErrors are retried (see isRetryable). */
  readonly error: NetworkError | TimeoutError | HttpStatusError;
  readonly delayMs: number;
}

export interface RetryRun {
  readonly policy: Readonly<Required<RetryOptions>>;
  readonly signal: AbortSignal;
  /** Called before each backoff wait. */
  readonly onRetry: (notice: RetryNotice) => void;
  /** What was being done, for the message when the budget runs out ("uploading bytes 0-99"). */
  readonly describe: () => string;
  readonly context: () => ErrorContext;
}

/** Whether a typed failure is retried: network failures, timeouts and the statuses above. */
export function isRetryable(error: unknown): error is NetworkError | TimeoutError | HttpStatusError {
  if (error instanceof NetworkError || error instanceof TimeoutError) return true;
  return error instanceof HttpStatusError && error.retryable;
}

/** Truncated exponential backoff: minTimeout × factor^(attempt−1) × [1, 2) jitter, capped. */
export function backoffDelay(attempt: number, policy: Readonly<Required<RetryOptions>>, retryAfterMs?: number): number {
  const jitter = policy.randomize ? 1 + Math.random() : 1;
  const exponential = Math.min(policy.minTimeout * policy.factor ** (attempt - 1) * jitter, policy.maxTimeout);
  const serverAsked = Math.min(retryAfterMs ?? 0, RETRY_AFTER_CAP_MS);
  return Math.round(Math.max(exponential, serverAsked));
}

/** Runs `attempt` until it succeeds, fails with a non-retryable error, or the budget runs out. */
export async function withRetry<T>(attempt: (attemptNumber: number) => Promise<T>, run: RetryRun): Promise<T> {
  const started = performance.now();
  let attempts = 0;
  try {
    return await pRetry(
      async (attemptNumber) => {
        attempts = attemptNumber;
        return attempt(attemptNumber);
      },
      {
        retries: run.policy.retries,
        maxRetryTime: run.policy.maxRetryTime,
        // The wait happens in onFailedAttempt (below), so p-retry adds none of its own.
        minTimeout: 0,
        maxTimeout: 0,
        signal: run.signal,
        shouldRetry: ({ error }) => isRetryable(error),
        onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
          const remaining = run.policy.maxRetryTime - (performance.now() - started);
          if (!isRetryable(error) || retriesLeft <= 0 || remaining <= 0) return;
          const retryAfter = error instanceof HttpStatusError ? error.retryAfterMs : undefined;
          const delayMs = Math.min(backoffDelay(attemptNumber, run.policy, retryAfter), remaining);
          run.onRetry({ attempt: attemptNumber, error, delayMs });
          await sleep(delayMs, run.signal);
        },
      },
    );
  } catch (error) {
    if (!isRetryable(error)) throw error;
    const elapsedMs = Math.round(performance.now() - started);
    throw new RetriesExhaustedError(
      attempts,
      elapsedMs,
      `gave up ${run.describe()} after ${attempts} attempts in ${(elapsedMs / 1000).toFixed(1)} s ` +
        `(retries: ${run.policy.retries}, maxRetryTime: ${run.policy.maxRetryTime} ms): ${(error as Error).message}`,
      { ...run.context(), cause: error },
    );
  }
}

/** A wait that ends early, rejecting with the signal's reason, when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs a one-shot request under its own deadline, outside the upload's retry loop (a cancel, an
 * abort): the timer goes away with the answer, so none outlives the call.
 */
export async function withDeadline<T>(ms: number, what: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new Error(`${what} timed out after ${ms} ms`)), ms);
  try {
    return await run(deadline.signal);
  } finally {
    clearTimeout(timer);
  }
}

/** `Retry-After` in seconds or as an HTTP date, in ms from now; undefined when absent or garbage. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d{1,10}$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
