/**
 * What the parts driver lends an adapter for every operation (`PartsCall`): a request built anew
 * for each attempt, sent with the retry policy, the upload's abort signal and a bounded answer; a
 * non-2xx answer becomes the adapter's typed error, a 2xx the adapter reads as an error is
 * retried like a 5xx. Cleaning up (abort) is one attempt within a deadline instead.
 */
import { exchange, type Exchanger } from '../core/exchange.js';
import type { Lifecycle } from '../core/lifecycle.js';
import { ChecksumMismatchError, HttpStatusError, type ErrorContext } from '../errors.js';
import type { ResolvedOptions } from '../options/index.js';
import { withDeadline, withRetry, type RetryNotice } from '../retry.js';
import type { Transport, TransportAnswer } from '../transport.js';
import { EXCERPT_CHARS } from '../upload-answers.js';
import type { OutgoingPart, PartsCall, PartsProtocol, PartsRequest, SendOptions, StoredPart } from './protocol.js';

/**
 * How many more times a part goes after its digest was refused or echoed wrong. Its bytes are
 * still held, so the damage was the network's (a bit flipped past TCP's checksum); a copy sent
 * again replaces what the server kept under that part number. Outside the retry budget and
 * without backoff: a flipped bit is not congestion, and a mismatch that repeats three times in a
 * row is no accident on the wire, so it fails at once instead of after the whole budget.
 */
export const DIGEST_RESENDS = 2;

export interface CallOwner {
  readonly redactedUrl: string;
  context(): ErrorContext;
  onRetry(notice: RetryNotice): void;
}

export class PartsCaller implements PartsCall, Exchanger {
  constructor(
    readonly transport: Transport,
    readonly life: Lifecycle,
    private readonly protocol: PartsProtocol,
    private readonly options: Pick<ResolvedOptions, 'retry' | 'timeouts'>,
    private readonly owner: CallOwner,
  ) {}

  get redactedUrl(): string {
    return this.owner.redactedUrl;
  }

  context(): ErrorContext {
    return this.owner.context();
  }

  send(what: string, build: () => Promise<PartsRequest>, body?: readonly Uint8Array[], options: SendOptions = {}): Promise<TransportAnswer> {
    return this.sendWith(this.life.signal, (attempt) => attempt(this.life.signal), what, build, body, options);
  }

  /**
   * The call that creates the upload: an attempt once sent is read to its end (within the request
   * deadline) even if the upload is aborted meanwhile, so the id of an upload the server did create
   * is known and can be cancelled, not left open (and billed). After the abort no attempt starts
   * and no backoff is waited out.
   */
  forCreation(): PartsCall {
    const { headersTimeout, bodyTimeout } = this.options.timeouts;
    const life = this.life;
    // The retry loop's own signal: the upload's abort, held back while an attempt is out.
    const loop = new AbortController();
    let sending = false;
    life.signal.addEventListener('abort', () => sending || loop.abort(life.abortError()), { once: true });
    const guarded = async (attempt: (signal: AbortSignal) => Promise<TransportAnswer>) => {
      if (life.signal.aborted) throw life.abortError();
      sending = true;
      try {
        return await attempt(AbortSignal.timeout(headersTimeout + bodyTimeout));
      } catch (error) {
        if (life.signal.aborted) loop.abort(life.abortError());
        throw error;
      } finally {
        sending = false;
      }
    };
    const caller = this;
    return {
      send: (what, build, body, options = {}) => this.sendWith(loop.signal, guarded, what, build, body, options),
      sendOnce: (what, build) => this.sendOnce(what, build),
      get redactedUrl() {
        return caller.redactedUrl;
      },
      context: () => this.context(),
    };
  }

  /** `send` with the retry loop's signal and how each attempt gets its own (see forCreation). */
  private sendWith(
    loopSignal: AbortSignal,
    withSignal: (attempt: (signal: AbortSignal) => Promise<TransportAnswer>) => Promise<TransportAnswer>,
    what: string,
    build: () => Promise<PartsRequest>,
    body: readonly Uint8Array[] | undefined,
    options: SendOptions,
  ): Promise<TransportAnswer> {
    return withRetry(
      async () => {
        const request = await build();
        const answer = await withSignal((signal) => this.sendOne(what, request, body, signal));
        if (answer.status < 200 || answer.status >= 300) throw this.protocol.answerError(what, answer, this);
        const error = options.errorIn2xx?.(answer);
        if (error === undefined) return answer;
        throw new HttpStatusError(answer.status, answer.body.slice(0, EXCERPT_CHARS), true, `${what} to ${this.redactedUrl} answered ${answer.status} with an error: ${error}`, this.context());
      },
      {
        policy: this.options.retry,
        signal: loopSignal,
        onRetry: (notice) => this.owner.onRetry(notice),
        describe: () => what,
        context: () => this.context(),
      },
    );
  }

  /** Stores `part`, sent again (at most {@link DIGEST_RESENDS} times) while its digest does not match. */
  async putPart(uploadId: string, part: OutgoingPart): Promise<StoredPart> {
    for (let resends = 0; ; resends++) {
      try {
        return await this.protocol.putPart(this, uploadId, part);
      } catch (error) {
        if (!(error instanceof ChecksumMismatchError) || resends === DIGEST_RESENDS || this.life.signal.aborted) throw error;
      }
    }
  }

  async sendOnce(what: string, build: () => Promise<PartsRequest>): Promise<TransportAnswer> {
    const request = await build();
    const { headersTimeout, bodyTimeout } = this.options.timeouts;
    return withDeadline(headersTimeout + bodyTimeout, what, (signal) => this.sendOne(what, request, undefined, signal));
  }

  private sendOne(what: string, request: PartsRequest, body: readonly Uint8Array[] | undefined, signal: AbortSignal): Promise<TransportAnswer> {
    return exchange(this, { ...request, headers: { ...request.headers }, ...(body === undefined ? {} : { body }), signal }, what);
  }
}
