/**
 * The offset driver (GCS, tus): plan a request (upload-state), put it on the wire and act on the
 * answer (conversation.ts), release what the server confirmed and hash it (the shared ledger),
 * checkpoint it. One request is in flight at a time while the writer fills the next chunk. After
 * any failed attempt the server is asked where it stands before anything is resent: its
 * committed offset is the only truth.
 *
 * Coordination is by awaited promises (the shared lifecycle): the loop awaits data, writers
 * await room; events are only for users.
 */
import { makeCheckpoint } from '../checkpoint.js';
import { CommittedLedger, type LedgerMark } from '../core/ledger.js';
import { Lifecycle } from '../core/lifecycle.js';
import { SkeletonDriver } from '../core/skeleton-driver.js';
import { SizeMismatchError, type ErrorContext } from '../errors.js';
import type { ResolvedOptions } from '../options/index.js';
import type { UploadProtocol } from './protocol.js';
import type { RetryNotice } from '../retry.js';
import type { Transport } from '../transport.js';
import type { UploadResult } from '../upload-answers.js';
import type { Uploader, UploaderHooks } from '../uploader.js';
import { BudgetShare } from './budget.js';
import { OffsetConversation } from './conversation.js';
import { Uploading, VerifyingFinished, type Course } from './courses.js';
import { prepare, type PrefixCheck } from './resume.js';
import { OffsetSession } from './session.js';
import { UploadState } from './upload-state.js';

/** Bytes hashed per turn of the event loop when hashing confirmed bytes in the background. */
const RELEASE_SLICE = 1024 * 1024;

export class OffsetDriver extends SkeletonDriver implements Uploader {
  readonly state: UploadState;
  readonly life: Lifecycle;
  readonly ledger: CommittedLedger;
  readonly session: OffsetSession;
  readonly talk: OffsetConversation;
  private course: Course;
  private readonly budget: BudgetShare | undefined;
  /** From-start resume: the prefix the input written again must reproduce, until checked. */
  private prefix: PrefixCheck | undefined;
  /** The deferred hashing and release of confirmed bytes (see onCommitted). */
  private releaseTimer: NodeJS.Immediate | undefined;

  constructor(
    readonly options: ResolvedOptions,
    protocol: UploadProtocol,
    readonly transport: Transport,
    private readonly hooks: UploaderHooks,
  ) {
    super();
    this.state = new UploadState(options.chunkSize, options.totalSize);
    this.life = new Lifecycle({ signal: options.signal, finalVerb: 'finalized', context: () => this.context() });
    this.ledger = new CommittedLedger(options.checksum, (mark) => this.hooks.onCheckpoint(this.checkpointAt(mark)));
    this.session = new OffsetSession({ ...options, queriesBeforeFirstChunk: protocol.queriesBeforeFirstChunk });
    this.talk = new OffsetConversation(this, protocol, options);
    this.course = new Uploading(this);
    this.budget = options.memoryBudget && new BudgetShare(options.memoryBudget, options.chunkSize);
  }

  get resuming(): boolean {
    return this.options.resume !== undefined;
  }

  get result(): UploadResult | undefined {
    return this.talk.result;
  }

  get redactedUrl(): string {
    return this.session.redactedUrl;
  }

  context(): ErrorContext {
    const { url } = this.session;
    return { bytesCommitted: this.state.bytesCommitted, ...(url === undefined ? {} : { url }) };
  }

  /** Takes a written buffer by reference. Throws SizeMismatchError past a declared total. */
  append(chunk: Uint8Array): void {
    const overflow = this.state.onWrite(chunk.byteLength);
    if (overflow !== undefined) throw this.sizeMismatch(overflow);
    const start = this.ledger.buffer.bytesAppended;
    this.ledger.append(chunk);
    if (!this.life.failed) this.session.startEarly();
    if (this.course.releasesAtOnce(start)) this.releaseCommitted();
    this.life.wakeLoop();
  }

  /** With a shared memory budget: hands the write over in parts that fit this stream's reservation. */
  async appendWithinBudget(chunk: Uint8Array): Promise<void> {
    const budget = this.budget as BudgetShare;
    await budget.append(chunk, () => this.ledger.buffer.bytesRetained, (part) => this.append(part), () => this.waitForRoom(), this.life.signal);
  }

  /** Resolves when the writer may hand over more bytes: less than a chunk waits beyond the one in flight. */
  waitForRoom(): Promise<void> {
    return this.life.waitForRoom(this.hasRoom());
  }

  hasRoom(): boolean {
    return this.course.hasRoom();
  }

  /** The writer's end: from now on the next request that takes the rest is the final one. */
  end(): void {
    const shortfall = this.state.onEnd();
    if (shortfall !== undefined) throw this.sizeMismatch(shortfall);
    this.course.onEnd();
    this.life.wakeLoop();
  }

  /** The upload loop; resolves with the final answer, rejects with a typed error. Run once. */
  async run(): Promise<UploadResult> {
    try {
      const prepared = await prepare(this);
      this.prefix = prepared.prefix;
      if (prepared.finished) this.course = new VerifyingFinished(this, prepared.finished);
      this.life.markReady(prepared.readyAt);
      await this.course.drive();
      await this.talk.confirmIfUnverified();
      return this.talk.result as UploadResult;
    } catch (error) {
      const failure = this.life.failWith(error);
      this.stop();
      throw failure;
    }
  }

  /** Aborts the request in flight, any backoff and every waiter. Never sends a request. */
  abort(reason: Error): void {
    this.life.abort(reason);
    this.stop();
    this.ledger.clear();
  }

  fail(error: Error): void {
    this.life.fail(error);
    this.stop();
  }

  /** Cancels the upload on the server; undefined when no session was created. */
  async deleteSession(): Promise<number | undefined> {
    // A session being created as the stream is cancelled is deleted once it exists.
    const url = await this.session.settled();
    return url === undefined ? undefined : this.talk.cancel(url);
  }

  /**
   * Before the first byte of a session leaves: a checkpoint at offset 0, saved. A process killed
   * after the server kept bytes it never acknowledged can then always be resumed (the resume asks
   * the server, which may hold more than the checkpoint says), instead of starting again on a
   * session that holds bytes, which no server accepts.
   */
  async saveFirstCheckpoint(): Promise<void> {
    this.ledger.checkpoint(true);
    await this.hooks.checkpointsSaved();
    this.session.recorded = true;
  }

  checkpointsSaved(): Promise<void> {
    return this.hooks.checkpointsSaved();
  }

  onRetry(notice: RetryNotice): void {
    this.hooks.onRetry({ ...notice, offset: this.state.bytesCommitted });
  }

  /**
   * After every acknowledgement, from a chunk's answer or a status query alike. The confirmed
   * bytes are hashed and released *after* the next request is on its way (in slices, see
   * releaseSoon; a final request catches up first): hashing right here would leave the connection
   * idle while the CPU hashes, which costs most when the network is the limit. Until released
   * they count against the writer's room (hasRoom), so the memory bound holds.
   */
  onCommitted(): void {
    if (this.state.complete) this.releaseAll();
    else this.releaseSoon();
    this.notifyRoom();
    this.hooks.onProgress({ bytesWritten: this.state.bytesWritten, bytesCommitted: this.state.bytesCommitted });
  }

  notifyRoom(): void {
    this.life.notifyRoom(this.hasRoom());
  }

  releaseAll(): void {
    this.releaseCommitted(Number.POSITIVE_INFINITY);
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
        this.life.cancelInFlight(error as Error);
        return;
      }
      this.notifyRoom();
      if (this.ledger.buffer.releasedOffset < this.course.confirmedHeld()) this.releaseSoon();
    });
  }

  /** Hashes and drops held bytes the server has confirmed: all of them, or at most `maxBytes`. */
  private releaseCommitted(maxBytes = Number.POSITIVE_INFINITY): void {
    const upTo = Math.min(this.course.confirmedHeld(), this.ledger.buffer.releasedOffset + maxBytes);
    if (upTo <= this.ledger.buffer.releasedOffset) return;
    if (this.prefix?.checked(this.ledger, upTo)) this.prefix = undefined;
    // Always through the digests, even with `checksum: false`: their offset is what checkpoints
    // are cut at (they then only count).
    this.ledger.release(upTo);
    this.budget?.giveBack(this.ledger.buffer.bytesRetained);
    // A checkpoint once every committed byte is hashed, never after the upload completed.
    if (!this.state.complete && this.session.url !== undefined && this.ledger.digests.offset === this.state.bytesCommitted) this.ledger.checkpoint();
  }

  private checkpointAt(mark: LedgerMark) {
    return makeCheckpoint({ url: this.session.url as string, protocol: this.options.protocol, ...mark });
  }

  private sizeMismatch(reason: string): SizeMismatchError {
    return new SizeMismatchError(this.options.totalSize ?? 0, this.state.bytesWritten, `${reason}; the upload was not finalized`, this.context());
  }

  /** After a failure: no more background hashing, and the whole budget share back. */
  private stop(): void {
    if (this.releaseTimer) clearImmediate(this.releaseTimer);
    this.releaseTimer = undefined;
    this.budget?.giveBack(0, true);
  }
}
