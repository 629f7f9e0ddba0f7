/**
 * The generic parts driver: parts are independent, so up to `queueSize` go at once while the
 * writer fills the next, each retried on its own. What a part is and when it goes is the pure
 * plan's (plan.ts); how it looks on the wire is the adapter's (protocol.ts); the committed prefix
 * (end of the run of finished parts from part 1) is hashed, released and checkpointed by the
 * shared ledger, exactly as with the offset protocols.
 *
 * Guarantees, as with every protocol: the upload is completed only from `end()` after every part
 * succeeded — a part that fails for good fails the stream and the upload is aborted (unless parts
 * are kept for a resume), never completed without it. A stream that
 * fits in one part is one whole PUT. The upload id is checkpointed, and the save awaited, before
 * any part goes; every save is awaited before the completion.
 *
 * Memory: at most `queueSize` parts are held (in flight, or stored ahead of an earlier part and
 * not yet forgotten), and the writer waits once (queueSize + 1) × the part size is held.
 */
import { makeCheckpoint, type Checkpoint } from '../checkpoint.js';
import { StreamDigests, crcFromDigests } from '../checksum.js';
import { CommittedLedger, type LedgerMark } from '../core/ledger.js';
import { Lifecycle } from '../core/lifecycle.js';
import { SkeletonDriver } from '../core/skeleton-driver.js';
import { SessionExpiredError, SizeMismatchError, redactUrl, type ErrorContext } from '../errors.js';
import type { ResolvedOptions } from '../options/index.js';
import type { RetryNotice } from '../retry.js';
import type { Transport } from '../transport.js';
import type { UploadResult } from '../upload-answers.js';
import type { Uploader, UploaderHooks } from '../uploader.js';
import { PartsCaller } from './call.js';
import { RewriteCheck } from './part-md5s.js';
import { PartPlan, type PlannedPart } from './plan.js';
import type { ListedPart, PartsProtocol, StoredPart } from './protocol.js';
import { adoptCommitted, keptListed, listStored, loadResumed } from './resume.js';
import { PartsSession } from './session.js';


export class PartsDriver extends SkeletonDriver implements Uploader {
  result: UploadResult | undefined;
  private plan: PartPlan;
  protected readonly life: Lifecycle;
  protected readonly ledger: CommittedLedger;
  private readonly call: PartsCaller;
  private readonly session: PartsSession;
  private readonly stored = new Map<number, StoredPart>();
  /** Parts a crashed process stored (listed on resume): checked against the bytes, then kept. */
  private listed: ReadonlyMap<number, ListedPart> = new Map();
  private readonly inFlight = new Set<Promise<void>>();
  /** The verify-only strategy, chosen once on resume: the upload was gone, the input is only hashed. */
  private rewrite: RewriteCheck | undefined;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly protocol: PartsProtocol,
    transport: Transport,
    private readonly hooks: UploaderHooks,
  ) {
    super();
    this.plan = this.planFrom(options.chunkSize);
    this.life = new Lifecycle({ signal: options.signal, finalVerb: 'completed', context: () => this.context() });
    this.ledger = new CommittedLedger(options.checksum, (mark) => this.hooks.onCheckpoint(this.checkpointAt(mark)));
    this.call = new PartsCaller(transport, this.life, protocol, options, this);
    this.session = new PartsSession(protocol, this.call, () => this.onCreated());
  }

  get state(): PartPlan {
    return this.plan;
  }

  get redactedUrl(): string {
    return redactUrl(this.session.url ?? this.protocol.targetUrl);
  }

  context(): ErrorContext {
    const url = this.session.url;
    return { bytesCommitted: this.plan.bytesCommitted, ...(url === undefined ? {} : { url }) };
  }

  onRetry(notice: RetryNotice): void {
    this.hooks.onRetry({ ...notice, offset: this.plan.bytesCommitted });
  }

  append(chunk: Uint8Array): void {
    const overflow = this.plan.onWrite(chunk.byteLength);
    if (overflow !== undefined) throw this.sizeMismatch(overflow);
    this.ledger.append(chunk);
    this.rewrite?.absorb(this.ledger);
    this.life.wakeLoop();
  }

  async appendWithinBudget(chunk: Uint8Array): Promise<void> {
    // A memory budget is refused at construction for parts protocols; kept for the interface.
    this.append(chunk);
    await this.waitForRoom();
  }

  hasRoom(): boolean {
    // Bytes written again over an upload found gone are dropped as they come.
    return this.rewrite !== undefined || this.ledger.buffer.bytesRetained < this.plan.retainLimit;
  }

  waitForRoom(): Promise<void> {
    return this.life.waitForRoom(this.hasRoom());
  }

  end(): void {
    const shortfall = this.plan.onEnd();
    if (shortfall !== undefined) throw this.sizeMismatch(shortfall);
    this.life.wakeLoop();
  }

  async run(): Promise<UploadResult> {
    try {
      this.life.markReady(await this.prepare());
      await this.sendParts();
      this.result = await this.finish();
      this.plan.onComplete();
      this.hooks.onProgress({ bytesWritten: this.plan.bytesWritten, bytesCommitted: this.plan.bytesCommitted });
      return this.result;
    } catch (error) {
      const failure = this.life.failWith(error);
      await Promise.allSettled(this.inFlight);
      if (!this.leavePartsOnError || this.session.unrecorded) await this.deleteSession().catch(() => undefined);
      throw failure;
    }
  }

  abort(reason: Error): void {
    this.life.abort(reason);
    this.ledger.clear();
  }

  deleteSession(): Promise<number | undefined> {
    return this.session.abortOnServer();
  }

  private get leavePartsOnError(): boolean {
    return this.protocol.leavePartsOnError ?? (this.options.checkpointStore !== undefined || this.options.resume !== undefined);
  }

  private planFrom(firstPartSize: number): PartPlan {
    return new PartPlan(this.protocol.limits, firstPartSize, this.options.queueSize, this.options.totalSize);
  }

  /** Resuming: the upload's parts (listed) and the strategy; the offset the input starts at. */
  private async prepare(): Promise<number> {
    const resumed = await loadResumed(this.options, this.protocol, this.call);
    if (resumed === undefined) return 0;
    const { checkpoint, uploadId } = resumed;
    this.session.resumed(uploadId);
    this.plan = this.planFrom(checkpoint.partSize ?? this.options.chunkSize);
    this.plan.resumed();
    const listed = await listStored(this.protocol, this.call, uploadId, this.options.resumeInput);
    if (listed instanceof SessionExpiredError) {
      this.rewrite = new RewriteCheck(listed, (partNumber) => this.plan.sizeOf(partNumber));
      return 0;
    }
    this.listed = listed;
    if (this.options.resumeInput === 'from-start') return 0;
    adoptCommitted(this.plan, listed, this.stored, this.call, checkpoint.bytesCommitted);
    this.ledger.resumeAt(checkpoint.bytesCommitted, checkpoint.crc32cState ?? 0);
    return checkpoint.bytesCommitted;
  }

  /** Sends parts as their bytes come, until the writer ended and every part is back. */
  private async sendParts(): Promise<void> {
    for (;;) {
      if (!this.rewrite) this.launchParts();
      if (this.plan.ended && (this.rewrite !== undefined || this.plan.allBack)) break;
      await this.life.waitForEvent();
    }
    if (this.life.failed) throw this.life.failed;
  }

  /** Starts every part the plan allows now. */
  private launchParts(): void {
    while (!this.life.failed) {
      const next = this.plan.next();
      if (next.kind === 'wait') return;
      if (next.kind === 'too-many') {
        const { nextStart } = this.plan;
        this.fail(new SizeMismatchError(nextStart, this.plan.bytesWritten, `the stream outgrew the protocol's ${this.protocol.limits.maxParts} parts (${nextStart} bytes); nothing was completed`, this.context()));
        return;
      }
      this.launch(next.part);
    }
  }

  private launch(part: PlannedPart): void {
    this.plan.sent(part);
    const running = this.sendPart(part).then(
      (stored) => this.onStored(stored),
      (error: Error) => this.fail(error),
    );
    this.inFlight.add(running);
    void running.finally(() => {
      this.inFlight.delete(running);
      this.plan.returned();
      this.life.wakeLoop();
    });
  }

  private async sendPart(part: PlannedPart): Promise<StoredPart> {
    const body = this.ledger.view(part.start, part.length);
    const digests = new StreamDigests(this.protocol.partChecksum(this.options.checksum)).digestWith(body);
    // The stream's CRC32C is combined from the parts' on release: their bytes are hashed once.
    this.ledger.knowCrc32c(part.start, part.length, crcFromDigests(digests));
    const kept = keptListed(this.listed.get(part.partNumber), part, body, digests);
    if (kept) return kept;
    const uploadId = await this.session.ensure();
    return this.call.putPart(uploadId, { ...part, body, digests });
  }

  /** After every stored part: the committed offset moves over the run of finished parts from part 1. */
  private onStored(stored: StoredPart): void {
    this.stored.set(stored.partNumber, stored);
    if (this.plan.finished(stored)) {
      this.releaseCommitted();
      this.hooks.onProgress({ bytesWritten: this.plan.bytesWritten, bytesCommitted: this.plan.bytesCommitted });
    } else if (this.ledger.forget(stored.start, stored.length)) this.plan.forgot(stored);
    this.life.notifyRoom(this.hasRoom());
  }

  private releaseCommitted(): void {
    this.ledger.release(this.plan.bytesCommitted);
    if (this.session.uploadId !== undefined) this.ledger.checkpoint();
  }

  private async onCreated(): Promise<void> {
    this.ledger.checkpoint(true);
    await this.hooks.checkpointsSaved();
  }

  private checkpointAt(mark: LedgerMark): Checkpoint {
    return makeCheckpoint({ url: this.session.url as string, protocol: this.options.protocol, partSize: this.plan.firstPartSize, ...mark });
  }

  /** Completion, the whole PUT, or (verify-only) the check of an object completed before. */
  private async finish(): Promise<UploadResult> {
    if (this.rewrite) return this.protocol.confirmCompleted(this.call, this.rewrite.written(this.plan.bytesWritten, this.ledger.wholeDigests()), this.rewrite.gone);
    const held = this.ledger.view(this.ledger.buffer.releasedOffset, this.plan.bytesWritten - this.ledger.buffer.releasedOffset);
    const whole = this.ledger.wholeDigests(held);
    if (!this.plan.multipart) {
      await this.hooks.checkpointsSaved();
      return this.afterFinal(await this.protocol.putWhole(this.call, held, whole));
    }
    const uploadId = await this.session.ensure();
    // A checkpoint that could not be saved fails the stream: then nothing may be completed.
    await this.hooks.checkpointsSaved();
    const parts = [...this.stored.values()].sort((a, b) => a.partNumber - b.partNumber);
    return this.afterFinal(await this.protocol.complete(this.call, uploadId, parts, whole));
  }

  private afterFinal(result: UploadResult): UploadResult {
    this.plan.onComplete();
    this.releaseCommitted();
    return result;
  }

  private sizeMismatch(reason: string): SizeMismatchError {
    return new SizeMismatchError(this.options.totalSize ?? 0, this.plan.bytesWritten, `${reason}; the upload was not completed`, this.context());
  }

  /** A part that failed for good stops the others: nothing more is sent, nothing is completed. */
  private fail(error: Error): void {
    this.life.fail(error);
    this.life.cancelInFlight(this.life.failed as Error);
  }
}
