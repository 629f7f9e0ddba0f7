/**
 * The sans-I/O heart of the protocol: what to send next and what an answer means.
 * No timers, no sockets, no streams: every decision here is a pure function of the counters, so
 * it is tested by the thousand in milliseconds (test/unit/upload-state.test.ts).
 *
 * Invariants (checked by the tests):
 * - bytesCommitted ≤ bytesSent ≤ bytesWritten, and bytesCommitted never decreases;
 * - every non-final request is exactly `chunkSize` long (a multiple of 256 KiB) and starts at
 *   bytesCommitted, so it is aligned "counted from K+1" after partial persistence too;
 * - only `end()` makes a request final; with a declared total, no non-final request reaches it
 *   (a request that reaches the total *is* the final one for the server).
 */
import { formatContentRange, parseRangeHeader } from './content-range.js';
/** Statuses after which the request is retried after a status query (PROTOCOL §5). */
const RETRYABLE_STATUSES = new Set([408, 429, 500, 502, 503, 504]);
const SESSION_GONE_STATUSES = new Set([404, 410]);
/** Google's upload endpoint uses 308 for "Resume Incomplete", not for a permanent redirect. */
const RESUME_INCOMPLETE = 308;
export class UploadState {
    chunkSize;
    declaredTotal;
    bytesWritten = 0;
    bytesCommitted = 0;
    /** Highest offset (exclusive) any request has carried; the server can't have more. */
    bytesSent = 0;
    ended = false;
    complete = false;
    finalAttempted = false;
    constructor(chunkSize, declaredTotal) {
        this.chunkSize = chunkSize;
        this.declaredTotal = declaredTotal;
    }
    /** Counts written bytes. Returns a reason when the declared total is exceeded. */
    onWrite(length) {
        this.bytesWritten += length;
        if (this.declaredTotal !== undefined && this.bytesWritten > this.declaredTotal) {
            return `${this.bytesWritten} bytes written, more than the declared totalSize ${this.declaredTotal}`;
        }
        return undefined;
    }
    /** Marks the end of the stream. Returns a reason when fewer bytes than declared were written. */
    onEnd() {
        this.ended = true;
        if (this.declaredTotal !== undefined && this.bytesWritten !== this.declaredTotal) {
            return `the stream ended after ${this.bytesWritten} bytes, but totalSize declared ${this.declaredTotal}`;
        }
        return undefined;
    }
    /** Bytes the writer may not yet hand over: waiting beyond the request in flight. */
    isFull(inFlightEnd) {
        if (this.declaredTotal !== undefined && this.bytesWritten >= this.declaredTotal)
            return false;
        const waiting = this.bytesWritten - Math.max(this.bytesCommitted, inFlightEnd);
        return waiting >= this.chunkSize;
    }
    /** The next request to send, or undefined when it must wait for more data (or `end()`). */
    nextRequest() {
        if (this.complete)
            return undefined;
        const start = this.bytesCommitted;
        const available = this.bytesWritten - start;
        if (this.ended) {
            if (available > this.chunkSize)
                return this.chunk(start, this.chunkSize, false);
            return this.chunk(start, available, true);
        }
        if (available < this.chunkSize)
            return undefined;
        if (this.declaredTotal !== undefined && start + this.chunkSize >= this.declaredTotal)
            return undefined;
        return this.chunk(start, this.chunkSize, false);
    }
    /** `bytes *\/*`, or `bytes *\/T` with a declared total (never the written count: see README). */
    statusQuery() {
        return { kind: 'query', contentRange: formatContentRange(0, 0, this.declaredTotal) };
    }
    /** Records that a request is going out, before its answer is known. */
    onSend(request) {
        if (request.kind !== 'chunk')
            return;
        this.bytesSent = Math.max(this.bytesSent, request.start + request.length);
        if (request.final)
            this.finalAttempted = true;
    }
    interpretChunkAnswer(request, answer) {
        const { status } = answer;
        if (status >= 200 && status < 300) {
            if (request.final)
                return this.onComplete();
            // Redivis dialect: a 2xx to a non-final chunk means "accepted"; honour Range if present.
            if (answer.range === undefined)
                return this.advanceTo(request.start + request.length);
            return this.applyRange(answer.range);
        }
        if (status === RESUME_INCOMPLETE) {
            if (answer.range !== undefined)
                return this.applyRange(answer.range);
            // No Range: nothing is persisted. From 0 that is a plain replay; after bytes were confirmed
            // it contradicts the server's earlier answers, so ask it where it stands before resending.
            if (this.bytesCommitted === 0)
                return { type: 'accepted' };
            return { type: 'retryable', reason: '308 without Range after bytes were confirmed' };
        }
        if (status === 400)
            return { type: 'check-session' };
        return classifyFailure(status);
    }
    /**
     * @param isRequery whether this answers the second query after a 308 without `Range`.
     */
    interpretQueryAnswer(answer, isRequery) {
        const { status } = answer;
        if (status >= 200 && status < 300) {
            if (this.finalAttempted)
                return this.onComplete();
            return { type: 'protocol-error', reason: `status query answered ${status} (complete) before the final request was sent` };
        }
        if (status === RESUME_INCOMPLETE) {
            if (answer.range !== undefined)
                return this.applyRange(answer.range);
            if (this.bytesCommitted === 0)
                return { type: 'accepted' };
            if (!isRequery)
                return { type: 'requery' };
            return {
                type: 'protocol-error',
                reason: `status query answered 308 without Range twice after ${this.bytesCommitted} bytes were confirmed and released`,
            };
        }
        // A status query cannot be malformed by the data, so a 400 to it is an expired session.
        if (status === 400)
            return { type: 'session-expired' };
        return classifyFailure(status);
    }
    chunk(start, length, final) {
        const total = final ? this.bytesWritten : this.declaredTotal;
        return { kind: 'chunk', start, length, final, contentRange: formatContentRange(start, length, total) };
    }
    onComplete() {
        this.complete = true;
        this.bytesCommitted = this.bytesWritten;
        return { type: 'complete' };
    }
    applyRange(header) {
        const parsed = parseRangeHeader(header);
        if (parsed === undefined || !parsed.ok) {
            return { type: 'protocol-error', reason: parsed?.reason ?? 'missing Range' };
        }
        return this.advanceTo(parsed.persisted);
    }
    advanceTo(persisted) {
        if (persisted < this.bytesCommitted) {
            return {
                type: 'protocol-error',
                reason: `server reports ${persisted} bytes persisted after confirming ${this.bytesCommitted} (bytes already released)`,
            };
        }
        if (persisted > this.bytesSent) {
            return {
                type: 'protocol-error',
                reason: `server reports ${persisted} bytes persisted but only ${this.bytesSent} were sent`,
            };
        }
        this.bytesCommitted = persisted;
        return { type: 'accepted' };
    }
}
function classifyFailure(status) {
    if (RETRYABLE_STATUSES.has(status))
        return { type: 'retryable', reason: `status ${status}` };
    if (SESSION_GONE_STATUSES.has(status))
        return { type: 'session-expired' };
    // Every other status, 3xx redirects included (never followed: the URI is a credential).
    return { type: 'rejected' };
}
