/**
 * The I/O driver: plan a request (upload-state), send it (transport), interpret the answer,
 * release what the server confirmed (replay-buffer). One request is in flight at a time while the
 * writer fills the next chunk. After any failed attempt the server is asked where it stands
 * before anything is resent: its committed offset is the only truth.
 *
 * Coordination is by awaited promises: the loop awaits data, writers await room; events are only
 * for users.
 */
import { AbortedError, HttpStatusError, ProtocolError, SessionExpiredError, SizeMismatchError, redactUrl, } from './errors.js';
import { ReplayBuffer } from './replay-buffer.js';
import { isRetryable, parseRetryAfter, sleep, withRetry } from './retry.js';
import { toTransportError } from './transport.js';
import { UploadState } from './upload-state.js';
/** Enough of an answer body for JSON object metadata; more is never read. */
const MAX_ANSWER_BYTES = 1024 * 1024;
/** Characters of an error body kept in messages and `bodyExcerpt`. */
const EXCERPT_CHARS = 300;
export class ChunkUploader {
    options;
    transport;
    hooks;
    state;
    buffer = new ReplayBuffer();
    result;
    /** Highest number of bytes retained at once, for sizing (see README, "Memory"). */
    peakBytesRetained = 0;
    controller = new AbortController();
    signal;
    redactedUrl;
    inFlightEnd = 0;
    dataWaiter;
    roomWaiter;
    failure;
    constructor(options, transport, hooks) {
        this.options = options;
        this.transport = transport;
        this.hooks = hooks;
        this.state = new UploadState(options.chunkSize, options.totalSize);
        this.signal = options.signal ? AbortSignal.any([this.controller.signal, options.signal]) : this.controller.signal;
        this.redactedUrl = redactUrl(options.url);
    }
    /** Takes a written buffer by reference. Throws SizeMismatchError past a declared total. */
    append(chunk) {
        const overflow = this.state.onWrite(chunk.byteLength);
        if (overflow !== undefined)
            throw this.sizeMismatch(overflow);
        this.buffer.append(chunk);
        this.peakBytesRetained = Math.max(this.peakBytesRetained, this.buffer.bytesRetained);
        this.wakeLoop();
    }
    /** Resolves when the writer may hand over more bytes: less than a chunk waits beyond the one in flight. */
    waitForRoom() {
        if (this.failure)
            return Promise.reject(this.failure);
        if (!this.state.isFull(this.inFlightEnd))
            return Promise.resolve();
        return new Promise((resolve, reject) => {
            this.roomWaiter = { resolve, reject };
        });
    }
    /** The writer's end: from now on the next request that takes the rest is the final one. */
    end() {
        const shortfall = this.state.onEnd();
        if (shortfall !== undefined)
            throw this.sizeMismatch(shortfall);
        this.wakeLoop();
    }
    /** The upload loop; resolves with the final answer, rejects with a typed error. Run once. */
    async run() {
        try {
            while (!this.state.complete) {
                if (this.state.nextRequest() === undefined) {
                    await this.waitForData();
                    continue;
                }
                await this.step();
            }
            return this.result;
        }
        catch (error) {
            this.fail(this.signal.aborted ? this.abortError() : error);
            throw this.failure;
        }
    }
    /** Aborts the request in flight, any backoff and every waiter. Never sends a request. */
    abort(reason) {
        if (!this.controller.signal.aborted)
            this.controller.abort(reason);
        this.fail(this.abortError());
        this.buffer.clear();
    }
    /** Sends DELETE to the session (GCS answers 499). Bounded by the configured timeouts. */
    async deleteSession() {
        const signal = AbortSignal.timeout(this.options.timeouts.headersTimeout + this.options.timeouts.bodyTimeout);
        try {
            const answer = await this.transport.send({ ...this.baseRequest('DELETE', signal), maxBodyBytes: EXCERPT_CHARS });
            return answer.status;
        }
        catch (error) {
            throw toTransportError(error, `cancelling the session ${this.redactedUrl}`, this.context()) ?? error;
        }
    }
    /**
     * One step: get the committed offset past its current value (or complete), with a fresh retry
     * budget. A failed attempt leads to a status query at the start of the next; if that query
     * shows progress, the step ends so that the next one starts with the whole budget again.
     */
    async step() {
        const committedAtStart = this.state.bytesCommitted;
        let mustRecover = false;
        let current;
        await withRetry(async () => {
            if (mustRecover) {
                await this.recover();
                mustRecover = false;
                if (this.state.complete || this.state.bytesCommitted > committedAtStart)
                    return;
            }
            current = this.state.nextRequest();
            if (current === undefined)
                return;
            try {
                await this.sendChunk(current);
            }
            catch (error) {
                mustRecover = isRetryable(error);
                throw error;
            }
            // The server kept none of the chunk (308 without Range from 0, or a Range that did not
            // move): resend it, but as a retry, so a server that never persists can't loop forever.
            if (!this.state.complete && this.state.bytesCommitted === committedAtStart) {
                throw this.noProgress(current);
            }
        }, {
            policy: this.options.retry,
            signal: this.signal,
            onRetry: (notice) => this.onRetry(notice),
            describe: () => (current ? `uploading ${describeRequest(current)}` : 'querying the upload status'),
            context: () => this.context(),
        });
    }
    async sendChunk(request) {
        this.inFlightEnd = request.start + request.length;
        // The bytes in flight no longer count as waiting: the writer may fill the next chunk now.
        this.notifyRoom();
        try {
            const answer = await this.exchange(request, this.buffer.view(request.start, request.length));
            const meaning = this.state.interpretChunkAnswer(request, this.summarize(answer));
            if (meaning.type === 'check-session')
                await this.checkSessionAfter400(request, answer);
            this.apply(meaning, request, answer);
        }
        finally {
            this.inFlightEnd = 0;
            this.notifyRoom();
        }
    }
    /** Asks where the upload stands (PROTOCOL §4), once more after a pause if `Range` is missing. */
    async recover() {
        const query = this.state.statusQuery();
        let answer = await this.exchange(query, undefined);
        let meaning = this.state.interpretQueryAnswer(this.summarize(answer), false);
        if (meaning.type === 'requery') {
            await sleep(this.options.retry.requeryDelay, this.signal);
            answer = await this.exchange(query, undefined);
            meaning = this.state.interpretQueryAnswer(this.summarize(answer), true);
        }
        this.apply(meaning, query, answer);
    }
    /**
     * A 400 to a data request is an expired session or a rejected request; a status query can't be
     * malformed by the data, so its answer tells which.
     */
    async checkSessionAfter400(request, answer) {
        const query = this.state.statusQuery();
        let queryAnswer;
        try {
            queryAnswer = await this.exchange(query, undefined);
        }
        catch {
            // The query failed too: report the 400 itself, which is what we know.
        }
        if (queryAnswer && this.state.interpretQueryAnswer(this.summarize(queryAnswer), true).type === 'session-expired') {
            throw this.sessionExpired(queryAnswer, query);
        }
        throw this.statusError(answer, request, false);
    }
    apply(meaning, request, answer) {
        switch (meaning.type) {
            case 'accepted':
                this.onCommitted();
                return;
            case 'complete':
                this.result = this.toResult(answer);
                this.onCommitted();
                return;
            case 'retryable':
                throw this.statusError(answer, request, true, meaning.reason);
            case 'session-expired':
                throw this.sessionExpired(answer, request);
            case 'protocol-error':
                throw new ProtocolError(`${meaning.reason} (${describeRequest(request)}, ${this.redactedUrl})`, this.context());
            case 'rejected':
            case 'check-session':
            case 'requery':
                throw this.statusError(answer, request, false);
        }
    }
    async exchange(request, body) {
        this.state.onSend(request);
        const sent = {
            ...this.baseRequest('PUT', this.signal),
            headers: { ...this.options.headers, 'content-range': request.contentRange },
            ...(body === undefined ? {} : { body }),
            maxBodyBytes: MAX_ANSWER_BYTES,
        };
        try {
            return await this.transport.send(sent);
        }
        catch (error) {
            if (this.signal.aborted)
                throw this.abortError();
            throw toTransportError(error, `${describeRequest(request)} to ${this.redactedUrl} failed`, this.context()) ?? error;
        }
    }
    baseRequest(method, signal) {
        return { method, url: this.options.url, headers: { ...this.options.headers }, signal, maxBodyBytes: MAX_ANSWER_BYTES };
    }
    summarize(answer) {
        return { status: answer.status, range: answer.headers['range'] };
    }
    toResult(answer) {
        const body = parseBody(answer);
        const size = body?.size;
        // GCS reports the stored size: a mismatch means a truncated or padded object, never success.
        if (size !== undefined && Number(size) !== this.state.bytesWritten) {
            throw new ProtocolError(`server finalized an object of ${String(size)} bytes but ${this.state.bytesWritten} were written (${this.redactedUrl})`, this.context());
        }
        return { status: answer.status, headers: answer.headers, body };
    }
    /** After every acknowledgement, from a chunk's answer or a status query alike. */
    onCommitted() {
        this.buffer.release(this.state.bytesCommitted);
        this.notifyRoom();
        this.hooks.onProgress(this.progress());
    }
    onRetry(notice) {
        this.hooks.onRetry({ ...notice, offset: this.state.bytesCommitted });
    }
    statusError(answer, request, retryable, reason) {
        const excerpt = answer.body.slice(0, EXCERPT_CHARS);
        const why = reason && reason !== `status ${answer.status}` ? ` (${reason})` : '';
        return new HttpStatusError(answer.status, excerpt, retryable, `${describeRequest(request)} to ${this.redactedUrl} answered ${answer.status}${why}` +
            (excerpt ? `: ${JSON.stringify(excerpt)}` : ''), { ...this.context(), retryAfterMs: parseRetryAfter(answer.headers['retry-after']) });
    }
    noProgress(request) {
        return new HttpStatusError(308, '', true, `${describeRequest(request)} to ${this.redactedUrl}: the server persisted none of it (committed offset stays ${this.state.bytesCommitted})`, this.context());
    }
    sessionExpired(answer, request) {
        return new SessionExpiredError(answer.status, `the upload session ${this.redactedUrl} is gone or expired (${describeRequest(request)} answered ${answer.status}); ` +
            `${this.state.bytesCommitted} bytes were committed: start a new session`, this.context());
    }
    sizeMismatch(reason) {
        return new SizeMismatchError(this.options.totalSize ?? 0, this.state.bytesWritten, `${reason}; the upload was not finalized`, this.context());
    }
    abortError() {
        const reason = this.signal.reason;
        if (reason instanceof AbortedError)
            return reason;
        return new AbortedError(`the upload was aborted after ${this.state.bytesCommitted} committed bytes; it was not finalized`, {
            ...this.context(),
            cause: reason,
        });
    }
    context() {
        return { bytesCommitted: this.state.bytesCommitted, url: this.options.url };
    }
    progress() {
        return { bytesWritten: this.state.bytesWritten, bytesCommitted: this.state.bytesCommitted };
    }
    waitForData() {
        // An abort may land between a wake-up and the next wait: never park after a failure.
        if (this.failure)
            return Promise.reject(this.failure);
        return new Promise((resolve, reject) => {
            this.dataWaiter = { resolve, reject };
        });
    }
    wakeLoop() {
        const waiter = this.dataWaiter;
        this.dataWaiter = undefined;
        waiter?.resolve();
    }
    notifyRoom() {
        if (!this.roomWaiter || this.state.isFull(this.inFlightEnd))
            return;
        const waiter = this.roomWaiter;
        this.roomWaiter = undefined;
        waiter.resolve();
    }
    fail(error) {
        this.failure ??= error;
        for (const waiter of [this.dataWaiter, this.roomWaiter])
            waiter?.reject(this.failure);
        this.dataWaiter = undefined;
        this.roomWaiter = undefined;
    }
}
function describeRequest(request) {
    if (request.kind === 'query')
        return `status query (${request.contentRange})`;
    return `${request.final ? 'final request' : 'chunk'} ${request.contentRange}`;
}
function parseBody(answer) {
    const type = answer.headers['content-type'] ?? '';
    if (!type.includes('json') || answer.body === '')
        return answer.body;
    try {
        return JSON.parse(answer.body);
    }
    catch {
        return answer.body;
    }
}
