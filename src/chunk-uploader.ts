/**
 * The I/O driver: plan a request (upload-state), put it on the wire (the protocol, then the
 * transport), interpret the answer, release what the server confirmed (replay-buffer) and hash
 * it (checksum). One request is in flight at a time while the writer fills the next chunk. After
 * any failed attempt the server is asked where it stands before anything is resent (an answer
 * that reports an offset, such as a 308 that kept nothing, is that account): its committed
 * offset is the only truth.
 *
 * Coordination is by awaited promises: the loop awaits data, writers await room; events are only
 * for users.
 */
import { makeCheckpoint, resumeCheckpoint, type Checkpoint } from './checkpoint.js';
import { StreamDigests } from './checksum.js';
import {
  AbortedError,
  ChecksumMismatchError,
  ProtocolError,
  ResumeMismatchError,
  SessionExpiredError,
  SizeMismatchError,
  redactUrl,
  type ErrorContext,
  type ResumableUploadError,
} from './errors.js';
import { refuseInsecureHttp, validateUrl, type ResolvedOptions } from './options.js';
import type { UploadProtocol, WireRequest } from './protocol.js';
import { ReplayBuffer } from './replay-buffer.js';
import { isRetryable, sleep, withDeadline, withRetry, type RetryNotice } from './retry.js';
import { EXCERPT_CHARS, checkFinalAnswer, describeRequest, noProgress, sessionExpired, statusError, type UploadResult } from './upload-answers.js';
import { toTransportError, type Transport, type TransportAnswer, type TransportRequest } from './transport.js';
import type { Uploader, UploaderHooks, UploadProgress } from './uploader.js';
import { Wakeup } from './wakeup.js';
import { MAX_ANSWER_BYTES } from './core/lifecycle.js';
import { UploadState, type ChunkRequest, type Interpretation, type StatusQuery, type UploadRequest } from './upload-state.js';

/** Bytes hashed per turn of the event loop when hashing confirmed bytes in the background. */
const RELEASE_SLICE = 1024 * 1024;
/** New sessions a session factory may be asked for after the previous one was gone. */
const MAX_SESSION_RESTARTS = 3;

export class ChunkUploader implements Uploader {
  readonly state: UploadState;
  buffer = new ReplayBuffer();
  result: UploadResult | undefined;
  /** Highest number of bytes retained at once, for sizing (see README, "Memory"). */
  peakBytesRetained = 0;
  /** Settles once a resumed upload knows where the server stands (at once otherwise). */
  readonly ready: Promise<number>;
  isReady = false;

  /** A fresh upload on a protocol that asks where it stands before its first chunk (tus). */
  private mustQueryFirst: boolean;
  private readonly controller = new AbortController();
  private readonly signal: AbortSignal;
  private url: string | undefined;
  /** The session factory's pending answer, started at the first write (see startSession). */
  private creating: Promise<string> | undefined;
  private startedEarly = false;
  private digests: StreamDigests;
  /** From-start resume: the checkpoint's CRC32C that the re-written prefix must reproduce. */
  private verifyPrefix: { offset: number; crc32cState: number } | undefined;
  private resumedAnswer: TransportAnswer | undefined;
  private restarts = 0;
  /** Offset of the last checkpoint: a new one only when the server confirmed more. */
  private lastCheckpoint = 0;
  /** Whether a crash from now on can be resumed: a checkpoint of this session was saved. */
  private resumable = false;
  /** Bytes reserved from the shared memory budget, in whole chunks. */
  private reserved = 0;
  /** The deferred hashing and release of confirmed bytes (see onCommitted). */
  private releaseTimer: NodeJS.Immediate | undefined;
  private inFlightEnd = 0;
  private readonly dataWaiter = new Wakeup();
  private readonly roomWaiter = new Wakeup();
  private failure: Error | undefined;
  private settleReady!: { resolve(offset: number): void; reject(error: Error): void };

  constructor(
    private readonly options: ResolvedOptions,
    private readonly protocol: UploadProtocol,
    private readonly transport: Transport,
    private readonly hooks: UploaderHooks,
  ) {
    this.state = new UploadState(options.chunkSize, options.totalSize);
    this.mustQueryFirst = this.protocol.queriesBeforeFirstChunk;
    this.signal = options.signal ? AbortSignal.any([this.controller.signal, options.signal]) : this.controller.signal;
    this.url = options.url;
    this.digests = new StreamDigests(options.checksum);
    this.ready = new Promise((resolve, reject) => {
      this.settleReady = { resolve, reject };
    });
    this.ready.catch(() => {}); // observed through run(); never an unhandled rejection
  }

  get redactedUrl(): string {
    return this.url === undefined ? '<session not created yet>' : redactUrl(this.url);
  }

  /** Takes a written buffer by reference. Throws SizeMismatchError past a declared total. */
  append(chunk: Uint8Array): void {
    const overflow = this.state.onWrite(chunk.byteLength);
    if (overflow !== undefined) throw this.sizeMismatch(overflow);
    const start = this.buffer.bytesAppended;
    this.buffer.append(chunk);
    if (this.url === undefined) this.startSession();
    // A resumed stream written from byte 0 again: what the server already has is hashed, checked
    // and dropped at once (all of it when the previous process had finished the upload).
    if (start < this.state.bytesCommitted || this.resumedAnswer) this.releaseCommitted();
    this.peakBytesRetained = Math.max(this.peakBytesRetained, this.buffer.bytesRetained);
    this.wakeLoop();
  }

  /** The loop's failure, if it failed. */
  get failed(): Error | undefined {
    return this.failure;
  }

  /**
   * With a shared memory budget: hands the write over in parts that fit this stream's reservation,
   * reserving whole chunks as needed (and waiting while the budget is exhausted).
   */
  async appendWithinBudget(chunk: Uint8Array): Promise<void> {
    const budget = this.options.memoryBudget as NonNullable<ResolvedOptions['memoryBudget']>;
    let offset = 0;
    while (offset < chunk.byteLength) {
      const room = this.reserved - this.buffer.bytesRetained;
      if (room <= 0) {
        await budget.acquire(this.options.chunkSize, this.signal);
        this.reserved += this.options.chunkSize;
        continue;
      }
      const part = chunk.subarray(offset, offset + room);
      this.append(part);
      offset += part.byteLength;
      await this.waitForRoom();
    }
  }

  /** Gives back whole chunks of the reservation that the bytes still held no longer need. */
  private returnBudget(all = false): void {
    const budget = this.options.memoryBudget;
    if (!budget) return;
    const chunk = this.options.chunkSize;
    const keep = all ? 0 : Math.ceil(this.buffer.bytesRetained / chunk) * chunk;
    if (this.reserved <= keep) return;
    budget.release(this.reserved - keep);
    this.reserved = keep;
  }

  /** Resolves when the writer may hand over more bytes: less than a chunk waits beyond the one in flight. */
  waitForRoom(): Promise<void> {
    if (!this.failure && this.hasRoom()) return Promise.resolve();
    return this.roomWaiter.wait(this.failure);
  }

  /** Room for the writer; always, when a resumed upload was already complete (bytes are only hashed). */
  hasRoom(): boolean {
    const unreleased = Math.max(0, this.confirmedHeld - this.buffer.releasedOffset);
    return this.resumedAnswer !== undefined || !this.state.isFull(this.inFlightEnd, unreleased);
  }

  /** Offset up to which held bytes are confirmed (all of them when a resume found the upload done). */
  private get confirmedHeld(): number {
    return this.resumedAnswer ? this.buffer.bytesAppended : Math.min(this.state.bytesCommitted, this.buffer.bytesAppended);
  }

  /** The writer's end: from now on the next request that takes the rest is the final one. */
  end(): void {
    const shortfall = this.state.onEnd();
    if (shortfall !== undefined) throw this.sizeMismatch(shortfall);
    if (this.resumedAnswer) {
      // Resumed after the previous process finished: check what was written again against it.
      this.state.bytesCommitted = this.state.bytesWritten;
      try {
        this.result = checkFinalAnswer(this.resumedAnswer, this.state.bytesWritten, this.digests.digestWith([]), this);
      } catch (error) {
        // The loop waits for the end and nothing aborts a complete upload: it must learn of this.
        this.fail(error as Error);
        throw error;
      }
    } else if (this.state.bytesWritten < this.state.bytesCommitted) {
      throw new ResumeMismatchError(
        `the input ended after ${this.state.bytesWritten} bytes, but the server already holds ${this.state.bytesCommitted}; nothing was finalized`,
        this.context(),
      );
    }
    this.wakeLoop();
  }

  /** The upload loop; resolves with the final answer, rejects with a typed error. Run once. */
  async run(): Promise<UploadResult> {
    try {
      this.settleReady.resolve(await this.prepare());
      this.isReady = true;
      while (!this.state.complete || (this.resumedAnswer && !this.state.ended)) {
        if (this.state.complete || this.state.nextRequest() === undefined) {
          await this.waitForData();
          continue;
        }
        try {
          if (this.mustQueryFirst) await this.queryFirst();
          await this.step();
        } catch (error) {
          if (!this.restartSession(error)) throw error;
        }
      }
      if (this.mustConfirm()) await this.confirmResult();
      return this.result as UploadResult;
    } catch (error) {
      this.fail(this.signal.aborted ? this.abortError() : (error as Error));
      this.settleReady.reject(this.failure as Error);
      throw this.failure;
    }
  }

  /**
   * A final answer that could not be checked — its metadata cut short, or without the digests
   * this server reports — is not taken on trust while checksums are on: the server is asked
   * once more (a status query on a finalized session answers with the object's metadata).
   */
  private mustConfirm(): boolean {
    const result = this.result;
    if (!result || result.verified || !this.protocol.reportsDigests) return false;
    const unreadable = (result.headers['content-type'] ?? '').includes('json') && typeof result.body === 'string';
    return this.options.checksum !== false || unreadable;
  }

  private async confirmResult(): Promise<void> {
    await withRetry(async () => {
      const query = this.state.statusQuery();
      const answer = await this.query(query);
      if (this.protocol.summarize(answer, query).outcome !== 'complete') {
        throw new ProtocolError(`the upload was finalized, but the status query to check it answered ${answer.status} (${this.redactedUrl})`, this.context());
      }
      this.result = checkFinalAnswer(answer, this.state.bytesWritten, this.digests.digestWith([]), this);
    }, this.retryRun(() => 'asking for the finalized object to check its size and digests'));
  }

  /** Aborts the request in flight, any backoff and every waiter. Never sends a request. */
  abort(reason: Error): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
    this.fail(this.abortError());
    this.buffer.clear();
  }

  /** Cancels the upload on the server (DELETE: GCS answers 499, tus 204); undefined when no session was created. */
  async deleteSession(): Promise<number | undefined> {
    // A session being created as the stream is cancelled is deleted once it exists.
    if (this.url === undefined && this.creating) await this.creating.catch(() => undefined);
    if (this.url === undefined) return undefined;
    const url = this.url;
    const { headersTimeout, bodyTimeout } = this.options.timeouts;
    try {
      const answer = await withDeadline(headersTimeout + bodyTimeout, 'DELETE', (signal) =>
        this.transport.send({ ...this.baseRequest(this.protocol.cancelRequest(), signal, url), maxBodyBytes: EXCERPT_CHARS }),
      );
      return answer.status;
    } catch (error) {
      throw toTransportError(error, `cancelling the session ${this.redactedUrl}`, this.context()) ?? error;
    }
  }

  /**
   * Resuming: load the checkpoint, then ask the server where the session stands before anything
   * is sent. Returns the offset the input must start at (0 for a fresh upload).
   */
  private async prepare(): Promise<number> {
    const { resume, checkpointStore, resumeInput } = this.options;
    if (resume === undefined) return 0;
    const checkpoint = await resumeCheckpoint(resume, checkpointStore, this.options.protocol, this.context());
    if (checkpoint === undefined) {
      if (this.url === undefined && this.options.sessionFactory === undefined) {
        throw new TypeError('`resume: true` found no checkpoint in the store, and no `url` was given for a fresh upload');
      }
      return 0;
    }
    this.url = refuseInsecureHttp(validateUrl(checkpoint.url), this.options.allowInsecureHttp, 'resume.url');
    this.resumable = true;
    const inputStart = resumeInput === 'from-committed' ? checkpoint.bytesCommitted : 0;
    if (inputStart > 0 && this.digests.usesCrc32c && checkpoint.crc32cState === undefined) {
      throw new ResumeMismatchError('the checkpoint has no crc32cState, so the CRC32C cannot continue from its offset', this.context());
    }
    this.buffer = new ReplayBuffer(inputStart);
    this.state.bytesWritten = inputStart;
    this.digests = new StreamDigests(this.options.checksum, { offset: inputStart, crc32cState: inputStart > 0 ? (checkpoint.crc32cState ?? 0) : 0 });
    if (inputStart === 0 && checkpoint.bytesCommitted > 0 && checkpoint.crc32cState !== undefined && this.digests.usesCrc32c) {
      this.verifyPrefix = { offset: checkpoint.bytesCommitted, crc32cState: checkpoint.crc32cState };
    }
    await this.queryOnResume(checkpoint);
    return resumeInput === 'from-committed' ? inputStart : this.state.bytesCommitted;
  }

  private async queryOnResume(checkpoint: Checkpoint): Promise<void> {
    // The crashed process may have sent anything: the server's answer bounds what was sent.
    this.state.bytesSent = Number.MAX_SAFE_INTEGER;
    this.mustQueryFirst = false;
    await withRetry(async () => {
      const query = this.state.statusQuery();
      const answer = await this.query(query);
      const summary = this.protocol.summarize(answer, query);
      if (summary.outcome === 'complete') {
        // The previous process finished but did not live to see the answer.
        this.resumedAnswer = answer;
        this.state.complete = true;
        return;
      }
      this.apply(this.state.interpretQueryAnswer(summary, true), query, answer);
    }, this.retryRun(() => 'querying the upload status to resume'));
    this.state.bytesSent = this.state.bytesCommitted;
    if (!this.state.complete && this.state.bytesCommitted < checkpoint.bytesCommitted) {
      throw new ResumeMismatchError(
        `the server holds ${this.state.bytesCommitted} bytes, fewer than the ${checkpoint.bytesCommitted} the checkpoint recorded`,
        this.context(),
      );
    }
  }

  /**
   * A fresh upload on a protocol that asks first (tus): the server must hold nothing yet (an
   * upload URL that holds bytes is resumed with `resume`, never overwritten), and the answer
   * tells the protocol what the server already knows.
   */
  private async queryFirst(): Promise<void> {
    await withRetry(async () => {
      const query = this.state.statusQuery();
      const answer = await this.query(query);
      this.apply(this.state.interpretQueryAnswer(this.protocol.summarize(answer, query), true), query, answer);
    }, this.retryRun(() => 'querying the upload status before the first chunk'));
    this.mustQueryFirst = false;
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
          throw noProgress(current, this);
        }
      },
      this.retryRun(() => (current ? `uploading ${describeRequest(current)}` : 'querying the upload status')),
    );
  }

  private retryRun(describe: () => string) {
    return {
      policy: this.options.retry,
      signal: this.signal,
      onRetry: (notice: RetryNotice) => this.hooks.onRetry({ ...notice, offset: this.state.bytesCommitted }),
      describe,
      context: () => this.context(),
    };
  }

  private async sendChunk(request: ChunkRequest): Promise<void> {
    if (!this.resumable) await this.saveFirstCheckpoint();
    this.inFlightEnd = request.start + request.length;
    try {
      if (request.final) {
        // The final digest covers [0, start): catch up any deferred hashing first. A checkpoint
        // that could not be saved fails the stream before anything is finalized.
        this.releaseCommitted();
        await this.hooks.checkpointsSaved();
      }
      const body = this.buffer.view(request.start, request.length);
      const wire = this.protocol.chunkRequest(request, () => this.digests.digestWith(body));
      const sending = this.exchange(request, wire, body);
      // The bytes in flight no longer count as waiting: the writer may fill the next chunk now,
      // once the request is dispatched (its refill runs as a long series of microtasks).
      this.notifyRoom();
      const answer = await sending;
      const meaning = this.state.interpretChunkAnswer(request, this.protocol.summarize(answer, request));
      if (meaning.type === 'check-session') await this.checkSessionAfter400(request, answer);
      if (meaning.type === 'digest-refused' && wire.headers['x-goog-hash'] !== undefined) throw this.digestRefused(request, answer);
      this.apply(meaning, request, answer);
    } finally {
      this.inFlightEnd = 0;
      this.notifyRoom();
    }
  }

  /**
   * Before the first byte of a session leaves: a checkpoint at offset 0, saved. A process killed
   * after the server kept bytes it never acknowledged can then always be resumed (the resume asks
   * the server, which may hold more than the checkpoint says), instead of starting again on a
   * session that holds bytes, which no server accepts.
   */
  private async saveFirstCheckpoint(): Promise<void> {
    const url = this.url ?? (await this.session());
    this.hooks.onCheckpoint(
      makeCheckpoint({ url, protocol: this.options.protocol, bytesCommitted: 0, ...(this.digests.usesCrc32c ? { crc32cState: 0 } : {}) }),
    );
    await this.hooks.checkpointsSaved();
    this.resumable = true;
  }

  /** Asks where the upload stands, once more after a pause if the answer has no offset. */
  private async recover(): Promise<void> {
    const query = this.state.statusQuery();
    let answer = await this.query(query);
    let meaning = this.state.interpretQueryAnswer(this.protocol.summarize(answer, query), false);
    if (meaning.type === 'requery') {
      await sleep(this.options.retry.requeryDelay, this.signal);
      answer = await this.query(query);
      meaning = this.state.interpretQueryAnswer(this.protocol.summarize(answer, query), true);
    }
    this.apply(meaning, query, answer);
  }

  /**
   * A 400 to a data request is an expired session or a rejected request; a status query can't be
   * malformed by the data, so its answer tells which.
   */
  private async checkSessionAfter400(request: ChunkRequest, answer: TransportAnswer): Promise<never> {
    const rejected = statusError(answer, request, false, this);
    const query = this.state.statusQuery();
    let queryAnswer: TransportAnswer | undefined;
    try {
      queryAnswer = await this.query(query);
    } catch {
      // The query failed too: report the 400 itself, which is what we know.
    }
    if (queryAnswer && this.state.interpretQueryAnswer(this.protocol.summarize(queryAnswer, query), true).type === 'session-expired') {
      throw sessionExpired(queryAnswer, query, this);
    }
    throw rejected;
  }

  /** The server refused to finalize: the digests we sent are not those of the bytes it received. */
  private digestRefused(request: ChunkRequest, answer: TransportAnswer): ChecksumMismatchError {
    const rejected = statusError(answer, request, false, this);
    const algorithm = /md5/i.test(answer.body) && !/crc32c/i.test(answer.body) ? 'md5' : 'crc32c';
    const ours = this.digests.digestWith(this.buffer.view(request.start, request.length))[algorithm];
    return new ChecksumMismatchError(
      algorithm,
      ours,
      undefined,
      `the server refused the object: the bytes it received do not match our ${algorithm} ${ours} ` +
        `(${describeRequest(request)} answered ${answer.status}: ${JSON.stringify(rejected.bodyExcerpt)}); nothing was finalized`,
      { ...this.context(), cause: rejected },
    );
  }

  private apply(meaning: Interpretation, request: UploadRequest, answer: TransportAnswer): void {
    switch (meaning.type) {
      case 'accepted':
        this.onCommitted();
        return;
      case 'complete':
        this.releaseCommitted();
        this.result = checkFinalAnswer(answer, this.state.bytesWritten, this.digests.digestWith([]), this);
        this.onCommitted();
        return;
      case 'retryable':
        throw statusError(answer, request, true, this, meaning.reason);
      case 'session-expired':
        throw sessionExpired(answer, request, this);
      case 'protocol-error':
        throw new ProtocolError(`${meaning.reason} (${describeRequest(request)}, ${this.redactedUrl})`, this.context());
      case 'rejected':
      case 'check-session':
      case 'digest-refused':
      case 'requery':
        throw statusError(answer, request, false, this);
    }
  }

  /**
   * After every acknowledgement, from a chunk's answer or a status query alike. The confirmed
   * bytes are hashed and released *after* the next request is on its way (in slices, see
   * releaseSoon; a final request catches up first): hashing right here would leave the connection
   * idle while the CPU hashes, which costs most when the network is the limit. Until released
   * they count against the writer's room (hasRoom), so the memory bound holds.
   */
  private onCommitted(): void {
    if (this.state.complete) this.releaseCommitted();
    else this.releaseSoon();
    this.notifyRoom();
    this.hooks.onProgress(this.progress());
  }

  /**
   * Hashes confirmed bytes a slice per turn of the event loop: one long hash (40 ms of MD5 for a
   * 16 MiB chunk) would keep undici from feeding the socket meanwhile.
   */
  private releaseSoon(): void {
    this.releaseTimer ??= setImmediate(() => {
      this.releaseTimer = undefined;
      try {
        this.releaseCommitted(RELEASE_SLICE);
      } catch (error) {
        // The re-written input differs from the checkpoint: stop the request in flight too.
        this.fail(error as Error);
        this.controller.abort(error);
        return;
      }
      this.notifyRoom();
      if (this.buffer.releasedOffset < this.confirmedHeld) this.releaseSoon();
    });
  }

  private onReleased(): void {
    const committed = this.state.bytesCommitted;
    if (committed <= this.lastCheckpoint || this.state.complete || this.url === undefined || this.digests.offset !== committed) return;
    this.lastCheckpoint = committed;
    this.hooks.onCheckpoint(
      makeCheckpoint({ url: this.url, protocol: this.options.protocol, bytesCommitted: committed, ...(this.digests.usesCrc32c ? { crc32cState: this.digests.crc32cState } : {}) }),
    );
  }

  /** Hashes and drops held bytes the server has confirmed: all of them, or at most `maxBytes`. */
  private releaseCommitted(maxBytes = Number.POSITIVE_INFINITY): void {
    let from = this.buffer.releasedOffset;
    const upTo = Math.min(this.confirmedHeld, from + maxBytes);
    if (upTo <= from) return;
    const check = this.verifyPrefix;
    if (check && from < check.offset && check.offset <= upTo) {
      this.digests.update(this.buffer.view(from, check.offset - from));
      from = check.offset;
      this.verifyPrefix = undefined;
      if (this.digests.crc32cState !== check.crc32cState) {
        throw new ResumeMismatchError(
          `the input written again differs from the bytes uploaded before: CRC32C of its first ${check.offset} bytes ` +
            `does not match the checkpoint; nothing more was sent`,
          this.context(),
        );
      }
    }
    // Always through the digests, even with `checksum: false`: their offset is what checkpoints
    // are cut at (they then only count).
    this.digests.update(this.buffer.view(from, upTo - from));
    this.buffer.release(upTo);
    this.returnBudget();
    this.onReleased();
  }

  /** A session factory may replace a gone session while every byte from 0 is still held. */
  private restartSession(error: unknown): boolean {
    const canRestart =
      error instanceof SessionExpiredError &&
      this.options.sessionFactory !== undefined &&
      this.options.resume === undefined &&
      this.buffer.releasedOffset === 0 &&
      this.restarts < MAX_SESSION_RESTARTS;
    if (!canRestart) return false;
    this.restarts++;
    this.state.restart();
    this.mustQueryFirst = this.protocol.queriesBeforeFirstChunk;
    this.lastCheckpoint = 0;
    this.resumable = false;
    this.url = undefined;
    this.creating = undefined;
    return true;
  }

  private query(query: StatusQuery): Promise<TransportAnswer> {
    return this.exchange(query, this.protocol.statusQuery(query), undefined);
  }

  private async exchange(request: UploadRequest, wire: WireRequest, body: Uint8Array[] | undefined): Promise<TransportAnswer> {
    const url = this.url ?? (await this.session());
    this.state.onSend(request);
    const sent: TransportRequest = { ...this.baseRequest(wire, this.signal, url), ...(body === undefined ? {} : { body }) };
    try {
      return await this.transport.send(sent);
    } catch (error) {
      if (this.signal.aborted) throw this.abortError();
      throw toTransportError(error, `${describeRequest(request)} to ${this.redactedUrl} failed`, this.context()) ?? error;
    }
  }

  /**
   * Asks the session factory for a session as soon as the first byte is written, so that its
   * round trip overlaps the filling of the first chunk instead of preceding its sending (every
   * stream needs a session, an empty one too). A failure surfaces where the session is needed:
   * at the first request, whose retry asks the factory again.
   */
  private startSession(): void {
    // Once: after a failure, it is the first request's retries that ask again, not every write.
    if (this.startedEarly || this.options.sessionFactory === undefined || this.failure) return;
    this.startedEarly = true;
    this.session().catch(() => undefined);
  }

  private session(): Promise<string> {
    if (this.url !== undefined) return Promise.resolve(this.url);
    if (this.creating === undefined) {
      const creating = this.createSession();
      this.creating = creating;
      // Failed: the next request asks again.
      creating.then(
        () => undefined,
        () => {
          if (this.creating === creating) this.creating = undefined;
        },
      );
    }
    return this.creating;
  }

  private async createSession(): Promise<string> {
    const factory = this.options.sessionFactory;
    if (!factory) throw new TypeError('no session URI and no session factory');
    this.url = refuseInsecureHttp(validateUrl(await factory()), this.options.allowInsecureHttp);
    return this.url;
  }

  private baseRequest(wire: WireRequest, signal: AbortSignal, url: string): TransportRequest {
    return { method: wire.method, url, headers: { ...this.options.headers, ...wire.headers }, signal, maxBodyBytes: MAX_ANSWER_BYTES };
  }

  private sizeMismatch(reason: string): SizeMismatchError {
    return new SizeMismatchError(this.options.totalSize ?? 0, this.state.bytesWritten, `${reason}; the upload was not finalized`, this.context());
  }

  private abortError(): ResumableUploadError {
    const reason: unknown = this.signal.reason;
    if (reason instanceof AbortedError || reason instanceof ResumeMismatchError) return reason;
    return new AbortedError(`the upload was aborted after ${this.state.bytesCommitted} committed bytes; it was not finalized`, {
      ...this.context(),
      cause: reason,
    });
  }

  context(): ErrorContext {
    return { bytesCommitted: this.state.bytesCommitted, ...(this.url === undefined ? {} : { url: this.url }) };
  }

  private progress(): UploadProgress {
    return { bytesWritten: this.state.bytesWritten, bytesCommitted: this.state.bytesCommitted };
  }

  private waitForData(): Promise<void> {
    return this.dataWaiter.wait(this.failure);
  }

  private wakeLoop(): void {
    this.dataWaiter.wake();
  }

  private notifyRoom(): void {
    if (this.roomWaiter.isWaiting && this.hasRoom()) this.roomWaiter.wake();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    if (this.releaseTimer) clearImmediate(this.releaseTimer);
    this.releaseTimer = undefined;
    this.returnBudget(true);
    this.dataWaiter.fail(this.failure);
    this.roomWaiter.fail(this.failure);
  }
}
