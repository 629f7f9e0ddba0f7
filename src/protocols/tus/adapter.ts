/**
 * tus 1.0 (https://tus.io/protocols/resumable-upload): core protocol with the creation,
 * creation-defer-length and termination extensions. Bytes go in `PATCH` requests with
 * `Upload-Offset`; `HEAD` asks the offset; the length is sent with the last `PATCH`
 * (`Upload-Length`) unless the server already knows it; `DELETE` terminates.
 *
 * The upload URL comes from {@link createTusUpload} (or your own creation request).
 */
import { SizeMismatchError } from '../../errors.js';
import type { UploadProtocol } from '../../offset/protocol.js';
import type { RetryExtras } from '../../retry.js';
import { parseBody } from '../../upload-answers.js';
import { classifyStatus, type AnswerSummary, type FailureKind, type PersistedOffset } from '../../offset/vocabulary.js';

export const TUS_VERSION = '1.0.0';
const TUS_HEADERS = { 'tus-resumable': TUS_VERSION } as const;
/** tus's part of the classification table: 409, our Upload-Offset is not the server's (ask it, then resend); 423, another request holds the upload's lock. */
const TUS_RETRY: RetryExtras = { statuses: new Set([409, 423]) };
const OFFSET_PATTERN = /^\d{1,16}$/;

export function createTusProtocol(): UploadProtocol {
  /** The length the server holds for the upload, once an answer told it (HEAD, or a final PATCH's 2xx). */
  let serverLength: number | undefined;

  return {
    chunkAlignment: 1,
    queriesBeforeFirstChunk: true,
    reportsDigests: false,
    chunkRequest(chunk) {
      const end = chunk.start + chunk.length;
      const headers: Record<string, string> = {
        ...TUS_HEADERS,
        'content-type': 'application/offset+octet-stream',
        'upload-offset': String(chunk.start),
      };
      if (chunk.final) {
        if (serverLength !== undefined && serverLength !== end) {
          throw new SizeMismatchError(serverLength, end, `the tus upload was created with Upload-Length ${serverLength}, but the stream ended after ${end} bytes; the upload was not finalized`);
        }
        // Sent once: a server that knows the length refuses it again (400).
        if (serverLength === undefined) headers['upload-length'] = String(end);
      }
      return { method: 'PATCH', headers };
    },
    statusQuery: () => ({ method: 'HEAD', headers: { ...TUS_HEADERS } }),
    cancelRequest: () => ({ method: 'DELETE', headers: { ...TUS_HEADERS } }),
    summarize(answer, request): AnswerSummary {
      const { status, headers } = answer;
      if (status < 200 || status >= 300) return { status, outcome: 'failed', ...failure(status) };
      const offset = parseOffset(headers['upload-offset'], 'Upload-Offset');
      if (request.kind === 'query') {
        const length = parseOffset(headers['upload-length'], 'Upload-Length');
        if (length?.ok) serverLength = length.persisted;
        if (offset?.ok && length?.ok && offset.persisted === length.persisted) return { status, outcome: 'complete' };
        return { status, outcome: 'incomplete', persisted: offset ?? { ok: false, reason: `HEAD answered ${status} without Upload-Offset` } };
      }
      const end = request.start + request.length;
      if (request.final) serverLength = end;
      if (offset === undefined) return { status, outcome: 'incomplete', persisted: { ok: false, reason: `PATCH answered ${status} without Upload-Offset` } };
      // The final PATCH declared the length: the upload is complete once the offset reaches it.
      if (request.final && offset.ok && offset.persisted === end) return { status, outcome: 'complete' };
      return { status, outcome: 'incomplete', persisted: offset };
    },
    // tus sends and reports no digest.
    refusedDigest: () => undefined,
    // The offset of a complete upload is its size: without checking it, resuming an upload
    // finished with other data would pass for success.
    storedObject: (answer) => ({ body: parseBody(answer), size: answer.headers['upload-offset'], digests: {}, unreadable: false }),
  };
}

function failure(status: number): { failure: FailureKind; reason?: string } {
  if (status === 409) return { failure: 'retryable', reason: '409 Upload-Offset conflict' };
  return { failure: classifyStatus(status, TUS_RETRY) };
}

function parseOffset(value: string | undefined, name: string): PersistedOffset | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (!OFFSET_PATTERN.test(trimmed) || !Number.isSafeInteger(Number(trimmed))) {
    return { ok: false, reason: `unparseable ${name} ${JSON.stringify(value.slice(0, 64))}` };
  }
  return { ok: true, persisted: Number(trimmed) };
}
