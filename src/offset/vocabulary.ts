/**
 * The vocabulary of the offset protocols: the requests the core plans (a chunk, a status query)
 * and an answer as a protocol translates it (`AnswerSummary`), then as the core reads it
 * (`Interpretation`). Shared by the pure core (upload-state.ts), the seam (protocol.ts) and the
 * adapters (protocols/gcs, protocols/tus).
 */
import { isRetryableStatus, type RetryExtras } from '../retry.js';

export interface ChunkRequest {
  readonly kind: 'chunk';
  readonly start: number;
  readonly length: number;
  readonly final: boolean;
  /** `bytes a-b/*` (`/N` when final or declared): GCS's header, and every protocol's label in messages. */
  readonly contentRange: string;
}

export interface StatusQuery {
  readonly kind: 'query';
  readonly contentRange: string;
}

export type UploadRequest = ChunkRequest | StatusQuery;

/** An offset an answer reports: parsed, or why it could not be. */
export type PersistedOffset = { readonly ok: true; readonly persisted: number } | { readonly ok: false; readonly reason: string };

/**
 * Why a request failed, as far as the protocol can tell from the answer alone: `retryable`
 * (408, 429, 5xx…), `gone` (the session no longer exists), `ambiguous` (GCS: a 400 to a data
 * request is an expired session or a rejected request; a status query tells which),
 * `digest-refused` (the server refused to finalize: the digests sent differ from the bytes it
 * received), `rejected`.
 */
export type FailureKind = 'retryable' | 'gone' | 'ambiguous' | 'digest-refused' | 'rejected';

/**
 * An answer in the core's vocabulary; each protocol translates its wire answers into it
 * (protocol.ts). `complete`: the server finalized the object. `incomplete`: it holds `persisted`
 * bytes (undefined when the answer did not say).
 */
export type AnswerSummary =
  | { readonly status: number; readonly outcome: 'complete' }
  | { readonly status: number; readonly outcome: 'incomplete'; readonly persisted: PersistedOffset | undefined }
  | { readonly status: number; readonly outcome: 'failed'; readonly failure: FailureKind; readonly reason?: string };

/**
 * What an answer means. `accepted`: counters updated, plan the next request. `complete`: the
 * object is finalized. `requery`: a status query answered 308 without `Range` after bytes were
 * confirmed: wait a little and ask once more (docs/PROTOCOL.md §4). `check-session`: a 400 to a data
 * request is either an expired session or a rejected request; a status query tells which.
 */
export type Interpretation =
  | { readonly type: 'accepted' }
  | { readonly type: 'complete' }
  | { readonly type: 'requery' }
  | { readonly type: 'check-session' }
  | { readonly type: 'digest-refused' }
  | { readonly type: 'retryable'; readonly reason: string }
  | { readonly type: 'session-expired' }
  | { readonly type: 'rejected' }
  | { readonly type: 'protocol-error'; readonly reason: string };

/** Statuses after which the request is retried after a status query. */
const SESSION_GONE_STATUSES: ReadonlySet<number> = new Set([404, 410]);

/** The shared reading of a status: retryable (retry.ts decides, with the protocol's extras), gone, or rejected. */
export function classifyStatus(status: number, extras?: RetryExtras): FailureKind {
  if (isRetryableStatus(status, extras)) return 'retryable';
  if (SESSION_GONE_STATUSES.has(status)) return 'gone';
  // Every other status, 3xx redirects included (never followed: the URI is a credential).
  return 'rejected';
}
