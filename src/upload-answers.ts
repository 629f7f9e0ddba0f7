/**
 * What the uploader makes of answers, with no I/O: the checks on the final answer (size and
 * digests must be those of the bytes written) and the typed errors for unwelcome statuses, each
 * message carrying the request, the status and the redacted session URI.
 */
import { findMismatch, type Digests } from './checksum.js';
import { ChecksumMismatchError, HttpStatusError, ProtocolError, SessionExpiredError, type ErrorContext } from './errors.js';
import type { StoredObject } from './offset/protocol.js';
import { parseRetryAfter } from './retry.js';
import type { TransportAnswer } from './transport.js';
import type { ChunkRequest, UploadRequest } from './offset/vocabulary.js';

export interface UploadResult {
  /** 200 or 201. */
  readonly status: number;
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The answer's body: parsed when it is JSON (GCS object metadata), else the text. */
  readonly body: unknown;
  /** The stream's own digests of everything written (per the `checksum` option). */
  readonly checksums: Digests;
  /** Whether the server reported a digest and every digest both sides have matched. */
  readonly verified: boolean;
}

/** Where an error happened: the session (redacted for messages) and the context errors carry. */
export interface ErrorSite {
  readonly redactedUrl: string;
  context(): ErrorContext;
}

/** Characters of an error body kept in messages and `bodyExcerpt`. */
export const EXCERPT_CHARS = 300;

/** A request as messages name it, in no protocol's words: each protocol asks for the offset its own way. */
export function describeRequest(request: UploadRequest): string {
  if (request.kind === 'query') return 'status query';
  return `${request.final ? 'final request' : 'chunk'} ${request.contentRange}`;
}

export function parseBody(answer: TransportAnswer): unknown {
  const type = answer.headers['content-type'] ?? '';
  if (!type.includes('json') || answer.body === '') return answer.body;
  try {
    return JSON.parse(answer.body);
  } catch {
    return answer.body;
  }
}

/**
 * The final answer, checked against the stored object the protocol read from it: a size that
 * differs from the bytes written is a truncated or padded object, a digest that differs a corrupt
 * one — never success.
 */
export function checkFinalAnswer(answer: TransportAnswer, stored: StoredObject, bytesWritten: number, ours: Digests, site: ErrorSite): UploadResult {
  const { body, size } = stored;
  const storedSize = size === undefined || !Number.isSafeInteger(Number(size)) ? undefined : Number(size);
  const context = { ...site.context(), ...(storedSize === undefined ? {} : { storedSize }) };
  if (size !== undefined && Number(size) !== bytesWritten) {
    throw new ProtocolError(`server finalized an object of ${String(size)} bytes but ${bytesWritten} were written (${site.redactedUrl})`, context);
  }
  const theirs = stored.digests;
  const mismatch = findMismatch(ours, theirs);
  if (mismatch) {
    throw new ChecksumMismatchError(
      mismatch.name,
      mismatch.ours,
      mismatch.theirs,
      `the stored object's ${mismatch.name} is ${mismatch.theirs}, but the bytes written have ${mismatch.ours} (${site.redactedUrl})`,
      context,
    );
  }
  const verified = (ours.crc32c !== undefined && theirs.crc32c !== undefined) || (ours.md5 !== undefined && theirs.md5 !== undefined);
  return { status: answer.status, headers: answer.headers, body, checksums: ours, verified };
}

export function statusError(answer: TransportAnswer, request: UploadRequest, retryable: boolean, site: ErrorSite, reason?: string): HttpStatusError {
  const excerpt = answer.body.slice(0, EXCERPT_CHARS);
  const why = reason && reason !== `status ${answer.status}` ? ` (${reason})` : '';
  return new HttpStatusError(
    answer.status,
    excerpt,
    retryable,
    `${describeRequest(request)} to ${site.redactedUrl} answered ${answer.status}${why}` + (excerpt ? `: ${JSON.stringify(excerpt)}` : ''),
    { ...site.context(), retryAfterMs: parseRetryAfter(answer.headers['retry-after']) },
  );
}

/** The server kept none of a chunk: a retryable condition, so it spends the retry budget. */
export function noProgress(request: ChunkRequest, site: ErrorSite): HttpStatusError {
  const committed = site.context().bytesCommitted ?? 0;
  return new HttpStatusError(
    308,
    '',
    true,
    `${describeRequest(request)} to ${site.redactedUrl}: the server persisted none of it (committed offset stays ${committed})`,
    site.context(),
  );
}

/** The server refused to finalize: the digests we sent (`ours`) are not those of the bytes it received. */
export function digestRefused(answer: TransportAnswer, request: ChunkRequest, algorithm: 'crc32c' | 'md5', ours: string | undefined, site: ErrorSite): ChecksumMismatchError {
  const rejected = statusError(answer, request, false, site);
  return new ChecksumMismatchError(
    algorithm,
    ours,
    undefined,
    `the server refused the object: the bytes it received do not match our ${algorithm} ${ours} ` +
      `(${describeRequest(request)} answered ${answer.status}: ${JSON.stringify(rejected.bodyExcerpt)}); nothing was finalized`,
    { ...site.context(), cause: rejected },
  );
}

export function sessionExpired(answer: TransportAnswer, request: UploadRequest, site: ErrorSite): SessionExpiredError {
  const committed = site.context().bytesCommitted ?? 0;
  return new SessionExpiredError(
    answer.status,
    `the upload session ${site.redactedUrl} is gone or expired (${describeRequest(request)} answered ${answer.status}); ` +
      `${committed} bytes were committed: start a new session`,
    site.context(),
  );
}
