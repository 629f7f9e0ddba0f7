/**
 * `Content-Range` + `308 Resume Incomplete`: Google Cloud Storage (JSON and XML APIs), Redivis,
 * and any endpoint that speaks the same (docs/PROTOCOL.md).
 */
import { CHUNK_ALIGNMENT, parseRangeHeader } from '../../content-range.js';
import type { UploadProtocol } from '../../offset/protocol.js';
import { classifyStatus, type AnswerSummary } from '../../offset/vocabulary.js';
import { DIGEST_REFUSAL, formatGoogHash, refusedDigest, storedObject } from './digests.js';

/** Google's upload endpoint uses 308 for "Resume Incomplete", not for a permanent redirect. */
const RESUME_INCOMPLETE = 308;

export function createGcsProtocol(): UploadProtocol {
  return {
    chunkAlignment: CHUNK_ALIGNMENT,
    queriesBeforeFirstChunk: false,
    reportsDigests: true,
    chunkRequest(chunk, digests) {
      const googHash = chunk.final ? formatGoogHash(digests()) : undefined;
      return { method: 'PUT', headers: { 'content-range': chunk.contentRange, ...(googHash === undefined ? {} : { 'x-goog-hash': googHash }) } };
    },
    // `bytes */*` unless a total was declared: on GCS a query carrying the total finalizes an
    // upload that holds all its bytes (see README).
    statusQuery: (query) => ({ method: 'PUT', headers: { 'content-range': query.contentRange } }),
    cancelRequest: () => ({ method: 'DELETE', headers: {} }),
    summarize(answer, request): AnswerSummary {
      const { status } = answer;
      const range = answer.headers['range'];
      if (status >= 200 && status < 300) {
        // Redivis: a 2xx to a non-final chunk means "accepted"; honour Range if present.
        if (request.kind === 'chunk' && !request.final) {
          return { status, outcome: 'incomplete', persisted: parseRangeHeader(range) ?? { ok: true, persisted: request.start + request.length } };
        }
        return { status, outcome: 'complete' };
      }
      if (status === RESUME_INCOMPLETE) return { status, outcome: 'incomplete', persisted: parseRangeHeader(range) };
      if ((status === 400 || status === 412) && request.kind === 'chunk' && request.final && DIGEST_REFUSAL.test(answer.body)) {
        return { status, outcome: 'failed', failure: 'digest-refused' };
      }
      // A 400 to a data request: an expired session or a rejected request (the core asks which);
      // to a status query, which the data can't have malformed, an expired session.
      if (status === 400) return { status, outcome: 'failed', failure: request.kind === 'chunk' ? 'ambiguous' : 'gone' };
      return { status, outcome: 'failed', failure: classifyStatus(status) };
    },
    refusedDigest,
    storedObject,
  };
}
