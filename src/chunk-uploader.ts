/**
 * The I/O driver: plan a request (upload-state), send it (transport), interpret the answer,
 * release what the server confirmed (replay-buffer). One request is in flight at a time while the
 * writer fills the next chunk. After any failed attempt the server is asked where it stands
 * before anything is resent: its committed offset is the only truth.
 *
 * Coordination is by awaited promises: the loop awaits data, writers await room; events are only
 * for users.
 */
import {
  AbortedError,
  HttpStatusError,
  ProtocolError,
  SessionExpiredError,
  SizeMismatchError,
  redactUrl,
  type ErrorContext,
  type ResumableUploadError,
} from './errors.js';
import type { ResolvedOptions } from './options.js';
import { ReplayBuffer } from './replay-buffer.js';
import { isRetryable, parseRetryAfter, sleep, withRetry, type RetryNotice } from './retry.js';
import type { Transport, TransportAnswer, TransportRequest } from './transport.js';
import { toTransportError } from './transport.js';
import { UploadState, type ChunkRequest, type Interpretation, type UploadRequest } from './upload-state.js';

export interface UploadProgress {
  readonly bytesWritten: number;
  readonly bytesCommitted: number;
}

export interface RetryEvent {
  /** The attempt that failed, from 1; restarts at 1 whenever the committed offset advances. */
  readonly attempt: number;
  readonly error: Error;
  /** Bytes committed when the attempt failed: where the upload will resume at the earliest. */
  readonly offset: number;
  readonly delayMs: number;
}

export interface UploadResult {
  /** 200 or 201. */
  readonly status: number;
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The answer's body: parsed when it is JSON (GCS object metadata), else the text. */
  readonly body: unknown;
}

export interface UploaderHooks {
  onProgress(progress: UploadProgress): void;
  onRetry(event: RetryEvent): void;
}

/** Enough of an answer body for JSON object metadata; more is never read. */
const MAX_ANSWER_BYTES = 1024 * 1024;
/** Characters of an error body kept in messages and `bodyExcerpt`. */
const EXCERPT_CHARS = 300;

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

export class ChunkUploader {
  readonly state: UploadState;
  readonly buffer = new ReplayBuffer();
  result: UploadResult | undefined;
  /** Highest number of bytes retained at once, for sizing (see README, "Memory"). */
  peakBytesRetained = 0;

  private readonly controller = new AbortController();
  private readonly signal: AbortSignal;
  private readonly redactedUrl: string;
  private inFlightEnd = 0;
  private dataWaiter: Waiter | undefined;
  private roomWaiter: Waiter | undefined;
  private failure: Error | undefined;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly transport: Transport,
    private readonly hooks: UploaderHooks,
  ) {
    this.state = new UploadState(options.chunkSize, options.totalSize);
    this.signal = options.signal ? AbortSignal.any([this.controller.signal, options.signal]) : this.controller.signal;
    this.redactedUrl = redactUrl(options.url);
  }

  /** Takes a written buffer by reference. Throws SizeMismatchError past a declared total. */
  append(chunk: Uint8Array): void {
    const overflow = this.state.onWrite(chunk.byteLength);
    if (overflow !== undefined) throw this.sizeMismatch(overflow);
    this.buffer.append(chunk);
    this.peakBytesRetained = Math.max(this.peakBytesRetained, this.buffer.bytesRetained);
    this.wakeLoop();
  }

  /** Resolves when the writer may hand over more bytes: less than a chunk waits beyond the one in flight. */
  waitForRoom(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (!this.state.isFull(this.inFlightEnd)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.roomWaiter = { resolve, reject };
    });
  }

  /** The writer's end: from now on the next request that takes the rest is the final one. */
  end(): void {
    const shortfall = this.state.onEnd();
    if (shortfall !== undefined) throw this.sizeMismatch(shortfall);
    this.wakeLoop();
  }

  /** The upload loop; resolves with the final answer, rejects with a typed error. Run once. */
  async run(): Promise<UploadResult> {
    try {
      while (!this.state.complete) {
        if (this.state.nextRequest() === undefined) {
          await this.waitForData();
          continue;
        }
        await this.step();
      }
      return this.result as UploadResult;
    } catch (error) {
      this.fail(this.signal.aborted ? this.abortError() : (error as Error));
      throw this.failure;
    }
  }

  /** Aborts the request in flight, any backoff and every waiter. Never sends a request. */
  abort(reason: Error): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
    this.fail(this.abortError());
    this.buffer.clear();
  }

  /** Sends DELETE to the session (GCS answers 499). Bounded by the configured timeouts. */
  async deleteSession(): Promise<number> {
    const signal = AbortSignal.timeout(this.options.timeouts.headersTimeout + this.options.timeouts.bodyTimeout);
    try {
      const answer = await this.transport.send({ ...this.baseRequest('DELETE', signal), maxBodyBytes: EXCERPT_CHARS });
      return answer.status;
    } catch (error) {
      throw toTransportError(error, `cancelling the session ${this.redactedUrl}`, this.context()) ?? error;
    }
  }

  /**
   * One step: get the committed offset past its current value (or complete), with a fresh retry
   * budget. A failed attempt leads to a status query at the start of the next; if that query
   * shows progress, the step ends so that the next one starts with the whole budget again.
   */
  private async step(): Promise<void> {
    const committedAtStart = this.state.bytesCommitted;
    let mustRecover = false;
    let current: ChunkRequest | undefined;
    await withRetry(
      async () => {
        if (mustRecover) {
          await this.recover();
          mustRecover = false;
          if (this.state.complete || this.state.bytesCommitted > committedAtStart) return;
        }
        current = this.state.nextRequest();
        if (current === undefined) return;
        try {
          await this.sendChunk(current);
        } catch (error) {
          mustRecover = isRetryable(error);
          throw error;
        }
        // The server kept none of the chunk (308 without Range from 0, or a Range that did not
        // move): resend it, but as a retry, so a server that never persists can't loop forever.
        if (!this.state.complete && this.state.bytesCommitted === committedAtStart) {
          throw this.noProgress(current);
        }
      },
      {
        policy: this.options.retry,
        signal: this.signal,
        onRetry: (notice) => this.onRetry(notice),
        describe: () => (current ? `uploading ${describeRequest(current)}` : 'querying the upload status'),
        context: () => this.context(),
      },
    );
  }

  private async sendChunk(request: ChunkRequest): Promise<void> {
    this.inFlightEnd = request.start + request.length;
    // The bytes in flight no longer count as waiting: the writer may fill the next chunk now.
    this.notifyRoom();
    try {
      const answer = await this.exchange(request, this.buffer.view(request.start, request.length));
      const meaning = this.state.interpretChunkAnswer(request, this.summarize(answer));
      if (meaning.type === 'check-session') await this.checkSessionAfter400(request, answer);
      this.apply(meaning, request, answer);
    } finally {
      this.inFlightEnd = 0;
      this.notifyRoom();
    }
  }

  /** Asks where the upload stands (PROTOCOL §4), once more after a pause if `Range` is missing. */
  private async recover(): Promise<void> {
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
  private async checkSessionAfter400(request: ChunkRequest, answer: TransportAnswer): Promise<never> {
    const query = this.state.statusQuery();
    let queryAnswer: TransportAnswer | undefined;
    try {
      queryAnswer = await this.exchange(query, undefined);
    } catch {
      // The query failed too: report the 400 itself, which is what we know.
    }
    if (queryAnswer && this.state.interpretQueryAnswer(this.summarize(queryAnswer), true).type === 'session-expired') {
      throw this.sessionExpired(queryAnswer, query);
    }
    throw this.statusError(answer, request, false);
  }

  private apply(meaning: Interpretation, request: UploadRequest, answer: TransportAnswer): void {
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

  private async exchange(request: UploadRequest, body: Uint8Array[] | undefined): Promise<TransportAnswer> {
    this.state.onSend(request);
    const sent: TransportRequest = {
      ...this.baseRequest('PUT', this.signal),
      headers: { ...this.options.headers, 'content-range': request.contentRange },
      ...(body === undefined ? {} : { body }),
      maxBodyBytes: MAX_ANSWER_BYTES,
    };
    try {
      return await this.transport.send(sent);
    } catch (error) {
      if (this.signal.aborted) throw this.abortError();
      throw toTransportError(error, `${describeRequest(request)} to ${this.redactedUrl} failed`, this.context()) ?? error;
    }
  }

  private baseRequest(method: TransportRequest['method'], signal: AbortSignal): TransportRequest {
    return { method, url: this.options.url, headers: { ...this.options.headers }, signal, maxBodyBytes: MAX_ANSWER_BYTES };
  }

  private summarize(answer: TransportAnswer) {
    return { status: answer.status, range: answer.headers['range'] };
  }

  private toResult(answer: TransportAnswer): UploadResult {
    const body = parseBody(answer);
    const size = (body as { size?: unknown } | null)?.size;
    // GCS reports the stored size: a mismatch means a truncated or padded object, never success.
    if (size !== undefined && Number(size) !== this.state.bytesWritten) {
      throw new ProtocolError(
        `server finalized an object of ${String(size)} bytes but ${this.state.bytesWritten} were written (${this.redactedUrl})`,
        this.context(),
      );
    }
    return { status: answer.status, headers: answer.headers, body };
  }

  /** After every acknowledgement, from a chunk's answer or a status query alike. */
  private onCommitted(): void {
    this.buffer.release(this.state.bytesCommitted);
    this.notifyRoom();
    this.hooks.onProgress(this.progress());
  }

  private onRetry(notice: RetryNotice): void {
    this.hooks.onRetry({ ...notice, offset: this.state.bytesCommitted });
  }

  private statusError(answer: TransportAnswer, request: UploadRequest, retryable: boolean, reason?: string): HttpStatusError {
    const excerpt = answer.body.slice(0, EXCERPT_CHARS);
    const why = reason && reason !== `status ${answer.status}` ? ` (${reason})` : '';
    return new HttpStatusError(
      answer.status,
      excerpt,
      retryable,
      `${describeRequest(request)} to ${this.redactedUrl} answered ${answer.status}${why}` +
        (excerpt ? `: ${JSON.stringify(excerpt)}` : ''),
      { ...this.context(), retryAfterMs: parseRetryAfter(answer.headers['retry-after']) },
    );
  }

  private noProgress(request: ChunkRequest): HttpStatusError {
    return new HttpStatusError(
      308,
      '',
      true,
      `${describeRequest(request)} to ${this.redactedUrl}: the server persisted none of it (committed offset stays ${this.state.bytesCommitted})`,
      this.context(),
    );
  }

  private sessionExpired(answer: TransportAnswer, request: UploadRequest): SessionExpiredError {
    return new SessionExpiredError(
      answer.status,
      `the upload session ${this.redactedUrl} is gone or expired (${describeRequest(request)} answered ${answer.status}); ` +
        `${this.state.bytesCommitted} bytes were committed: start a new session`,
      this.context(),
    );
  }

  private sizeMismatch(reason: string): SizeMismatchError {
    return new SizeMismatchError(this.options.totalSize ?? 0, this.state.bytesWritten, `${reason}; the upload was not finalized`, this.context());
  }

  private abortError(): ResumableUploadError {
    const reason: unknown = this.signal.reason;
    if (reason instanceof AbortedError) return reason;
    return new AbortedError(`the upload was aborted after ${this.state.bytesCommitted} committed bytes; it was not finalized`, {
      ...this.context(),
      cause: reason,
    });
  }

  private context(): ErrorContext {
    return { bytesCommitted: this.state.bytesCommitted, url: this.options.url };
  }

  private progress(): UploadProgress {
    return { bytesWritten: this.state.bytesWritten, bytesCommitted: this.state.bytesCommitted };
  }

  private waitForData(): Promise<void> {
    // An abort may land between a wake-up and the next wait: never park after a failure.
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.dataWaiter = { resolve, reject };
    });
  }

  private wakeLoop(): void {
    const waiter = this.dataWaiter;
    this.dataWaiter = undefined;
    waiter?.resolve();
  }

  private notifyRoom(): void {
    if (!this.roomWaiter || this.state.isFull(this.inFlightEnd)) return;
    const waiter = this.roomWaiter;
    this.roomWaiter = undefined;
    waiter.resolve();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of [this.dataWaiter, this.roomWaiter]) waiter?.reject(this.failure);
    this.dataWaiter = undefined;
    this.roomWaiter = undefined;
  }
}

function describeRequest(request: UploadRequest): string {
  if (request.kind === 'query') return `status query (${request.contentRange})`;
  return `${request.final ? 'final request' : 'chunk'} ${request.contentRange}`;
}

function parseBody(answer: TransportAnswer): unknown {
  const type = answer.headers['content-type'] ?? '';
  if (!type.includes('json') || answer.body === '') return answer.body;
  try {
    return JSON.parse(answer.body);
  } catch {
    return answer.body;
  }
}
