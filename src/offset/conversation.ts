/**
 * What an offset upload says to the server and what it makes of each answer: a step (a chunk,
 * retried with a status query first after any failure), the queries (before the first chunk, on
 * resume, to confirm a final answer) and the cancellation. The protocol puts each request on the
 * wire and translates each answer; the pure core (upload-state.ts) interprets it; what is left
 * here is acting on that meaning.
 */
import { exchange, type Exchanger } from '../core/exchange.js';
import type { CommittedLedger } from '../core/ledger.js';
import type { Lifecycle } from '../core/lifecycle.js';
import { ProtocolError, type ErrorContext } from '../errors.js';
import type { ResolvedOptions } from '../options/index.js';
import type { UploadProtocol, WireRequest } from './protocol.js';
import { isRetryable, sleep, withDeadline, withRetry, type RetryNotice } from '../retry.js';
import { toTransportError, type Transport, type TransportAnswer } from '../transport.js';
import { EXCERPT_CHARS, checkFinalAnswer, describeRequest, digestRefused, noProgress, sessionExpired, statusError, type UploadResult } from '../upload-answers.js';
import type { OffsetSession } from './session.js';
import type { UploadState } from './upload-state.js';
import type { ChunkRequest, Interpretation, StatusQuery, UploadRequest } from './vocabulary.js';

/** What the conversation asks of the driver. */
export interface ConversationHost {
  readonly transport: Transport;
  readonly life: Lifecycle;
  readonly ledger: CommittedLedger;
  readonly session: OffsetSession;
  readonly state: UploadState;
  /** After every acknowledgement: release, progress, room. */
  onCommitted(): void;
  /** Hashes and releases every confirmed byte at once (the final digest needs them). */
  releaseAll(): void;
  /** Emits the offset-0 checkpoint of the session just created and waits until it is saved (and every earlier one). */
  saveFirstCheckpoint(): Promise<void>;
  checkpointsSaved(): Promise<void>;
  onRetry(notice: RetryNotice): void;
  /** The writer may have room again. */
  notifyRoom(): void;
  context(): ErrorContext;
}

export class OffsetConversation implements Exchanger {
  result: UploadResult | undefined;
  /** End of the chunk in flight (0 when none): the bytes the writer need not count as waiting. */
  inFlightEnd = 0;
  /** The final answer's metadata was cut short (see mustConfirm). */
  private resultUnreadable = false;

  constructor(
    private readonly host: ConversationHost,
    private readonly protocol: UploadProtocol,
    private readonly options: ResolvedOptions,
  ) {}

  get transport(): Transport {
    return this.host.transport;
  }

  get life(): Lifecycle {
    return this.host.life;
  }

  get redactedUrl(): string {
    return this.host.session.redactedUrl;
  }

  context(): ErrorContext {
    return this.host.context();
  }

  /**
   * One step: get the committed offset past its current value (or complete), with a fresh retry
   * budget. A failed attempt leads to a status query at the start of the next; if that query
   * shows progress, the step ends so that the next one starts with the whole budget again.
   */
  async step(): Promise<void> {
    const { state } = this.host;
    const committedAtStart = state.bytesCommitted;
    let mustRecover = false;
    let current: ChunkRequest | undefined;
    await withRetry(async () => {
      if (mustRecover) {
        await this.recover();
        mustRecover = false;
        if (state.complete || state.bytesCommitted > committedAtStart) return;
      }
      current = state.nextRequest();
      if (current === undefined) return;
      try {
        await this.sendChunk(current);
      } catch (error) {
        mustRecover = isRetryable(error);
        throw error;
      }
      // The server kept none of the chunk (308 without Range from 0, or a Range that did not
      // move): resend it, but as a retry, so a server that never persists can't loop forever.
      if (!state.complete && state.bytesCommitted === committedAtStart) throw noProgress(current, this);
    }, this.retryRun(() => (current ? `uploading ${describeRequest(current)}` : 'querying the upload status')));
  }

  /**
   * A fresh upload on a protocol that asks first (tus): the server must hold nothing yet (an
   * upload URL that holds bytes is resumed with `resume`, never overwritten), and the answer
   * tells the protocol what the server already knows.
   */
  async queryFirst(): Promise<void> {
    await withRetry(async () => {
      const query = this.host.state.statusQuery();
      const answer = await this.query(query);
      this.apply(this.host.state.interpretQueryAnswer(this.protocol.summarize(answer, query), true), query, answer);
    }, this.retryRun(() => 'querying the upload status before the first chunk'));
    this.host.session.mustQueryFirst = false;
  }

  /** Where a resumed session stands; the answer when the previous process had already finalized it. */
  async queryOnResume(): Promise<TransportAnswer | undefined> {
    const { state } = this.host;
    state.onResumeQuery();
    let finished: TransportAnswer | undefined;
    await withRetry(async () => {
      const query = state.statusQuery();
      const answer = await this.query(query);
      const summary = this.protocol.summarize(answer, query);
      if (summary.outcome !== 'complete') return this.apply(state.interpretQueryAnswer(summary, true), query, answer);
      // The previous process finished but did not live to see the answer.
      finished = answer;
      state.onFinishedBefore();
    }, this.retryRun(() => 'querying the upload status to resume'));
    state.onResumeQueried();
    return finished;
  }

  /**
   * A final answer that could not be checked — its metadata cut short, or without the digests
   * this server reports — is not taken on trust while checksums are on: the server is asked
   * once more (a status query on a finalized session answers with the object's metadata).
   */
  async confirmIfUnverified(): Promise<void> {
    const result = this.result;
    if (!result || result.verified || !this.protocol.reportsDigests) return;
    if (this.options.checksum === false && !this.resultUnreadable) return;
    await withRetry(async () => {
      const query = this.host.state.statusQuery();
      const answer = await this.query(query);
      if (this.protocol.summarize(answer, query).outcome !== 'complete') {
        throw new ProtocolError(`the upload was finalized, but the status query to check it answered ${answer.status} (${this.redactedUrl})`, this.context());
      }
      this.acceptFinal(answer);
    }, this.retryRun(() => 'asking for the finalized object to check its size and digests'));
  }

  /** Checks a finalizing answer against what was written; the result it gives is the stream's. */
  acceptFinal(answer: TransportAnswer): void {
    const stored = this.protocol.storedObject(answer);
    this.result = checkFinalAnswer(answer, stored, this.host.state.bytesWritten, this.host.ledger.wholeDigests(), this);
    this.resultUnreadable = stored.unreadable;
  }

  /** Cancels the upload on the server (DELETE: GCS answers 499, tus 204), once within a deadline. */
  async cancel(url: string): Promise<number> {
    const { headersTimeout, bodyTimeout } = this.options.timeouts;
    try {
      const answer = await withDeadline(headersTimeout + bodyTimeout, 'DELETE', (signal) =>
        this.transport.send({ ...this.request(this.protocol.cancelRequest(), url), signal, maxBodyBytes: EXCERPT_CHARS }),
      );
      return answer.status;
    } catch (error) {
      throw toTransportError(error, `cancelling the session ${this.redactedUrl}`, this.context()) ?? error;
    }
  }

  private async sendChunk(request: ChunkRequest): Promise<void> {
    const { session, ledger } = this.host;
    if (!session.recorded) {
      await session.current();
      await this.host.saveFirstCheckpoint();
    }
    this.inFlightEnd = request.start + request.length;
    try {
      if (request.final) {
        // The final digest covers [0, start): catch up any deferred hashing first. A checkpoint
        // that could not be saved fails the stream before anything is finalized.
        this.host.releaseAll();
        await this.host.checkpointsSaved();
      }
      const body = ledger.view(request.start, request.length);
      const wire = this.protocol.chunkRequest(request, () => ledger.wholeDigests(body));
      const sending = this.send(request, wire, body);
      // The bytes in flight no longer count as waiting: the writer may fill the next chunk now,
      // once the request is dispatched (its refill runs as a long series of microtasks).
      this.host.notifyRoom();
      const answer = await sending;
      const meaning = this.host.state.interpretChunkAnswer(request, this.protocol.summarize(answer, request));
      if (meaning.type === 'check-session') await this.checkSessionAfterAmbiguous(request, answer);
      const refused = meaning.type === 'digest-refused' ? this.protocol.refusedDigest(answer, wire) : undefined;
      if (refused !== undefined) throw digestRefused(answer, request, refused, ledger.wholeDigests(body)[refused], this);
      this.apply(meaning, request, answer);
    } finally {
      this.inFlightEnd = 0;
      this.host.notifyRoom();
    }
  }

  /** Asks where the upload stands, once more after a pause if the answer has no offset. */
  private async recover(): Promise<void> {
    const { state } = this.host;
    const query = state.statusQuery();
    let answer = await this.query(query);
    let meaning = state.interpretQueryAnswer(this.protocol.summarize(answer, query), false);
    if (meaning.type === 'requery') {
      await sleep(this.options.retry.requeryDelay, this.life.signal);
      answer = await this.query(query);
      meaning = state.interpretQueryAnswer(this.protocol.summarize(answer, query), true);
    }
    this.apply(meaning, query, answer);
  }

  /**
   * An ambiguous refusal of a data request (GCS: a 400) is an expired session or a rejected
   * request; a status query can't be malformed by the data, so its answer tells which.
   */
  private async checkSessionAfterAmbiguous(request: ChunkRequest, answer: TransportAnswer): Promise<never> {
    const rejected = statusError(answer, request, false, this);
    const query = this.host.state.statusQuery();
    let queryAnswer: TransportAnswer | undefined;
    try {
      queryAnswer = await this.query(query);
    } catch {
      // The query failed too: report the refusal itself, which is what we know.
    }
    if (queryAnswer && this.host.state.interpretQueryAnswer(this.protocol.summarize(queryAnswer, query), true).type === 'session-expired') {
      throw sessionExpired(queryAnswer, query, this);
    }
    throw rejected;
  }

  private apply(meaning: Interpretation, request: UploadRequest, answer: TransportAnswer): void {
    switch (meaning.type) {
      case 'accepted':
        this.host.onCommitted();
        return;
      case 'complete':
        this.host.releaseAll();
        this.acceptFinal(answer);
        this.host.onCommitted();
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

  private query(query: StatusQuery): Promise<TransportAnswer> {
    return this.send(query, this.protocol.statusQuery(query), undefined);
  }

  private async send(request: UploadRequest, wire: WireRequest, body: Uint8Array[] | undefined): Promise<TransportAnswer> {
    const url = await this.host.session.current();
    this.host.state.onSend(request);
    return exchange(this, { ...this.request(wire, url), signal: this.life.signal, ...(body === undefined ? {} : { body }) }, describeRequest(request));
  }

  private request(wire: WireRequest, url: string) {
    return { method: wire.method, url, headers: { ...this.options.headers, ...wire.headers } };
  }

  private retryRun(describe: () => string) {
    return { policy: this.options.retry, signal: this.life.signal, onRetry: (notice: RetryNotice) => this.host.onRetry(notice), describe, context: () => this.context() };
  }
}
