/**
 * The S3 multipart driver: parts are independent, so up to `queueSize` go at once while the
 * writer fills the next. Each part is retried on its own (S3 keeps the last complete upload of a
 * part number; there is no partial part to ask about). The committed offset is the end of the
 * longest run of finished parts from part 1: bytes below it are hashed (whole-stream digests),
 * released and checkpointed, exactly as with the offset protocols.
 *
 * Guarantees, as with every protocol: `CompleteMultipartUpload` is sent only from `end()` after
 * every part succeeded — a part that fails for good fails the stream and the upload is aborted
 * (AbortMultipartUpload, unless parts are kept for a resume), never completed without it
 * (aws-sdk-js-v3 issue 2311). A stream that fits in one part is one PutObject. The upload id is
 * checkpointed, and the save awaited, before any part goes; every save is awaited before Complete.
 *
 * Memory: parts in flight are limited to a window of `queueSize` part numbers from the oldest
 * unfinished one, and the writer waits once (queueSize + 1) × the part size is held.
 */
import { createHash, type Hash } from 'node:crypto';
import { makeCheckpoint, resumeCheckpoint } from './checkpoint.js';
import { StreamDigests, type ChecksumOption, type Digests } from './checksum.js';
import {
  AbortedError,
  ChecksumMismatchError,
  HttpStatusError,
  ProtocolError,
  ResumeMismatchError,
  SessionExpiredError,
  SizeMismatchError,
  redactUrl,
  type ErrorContext,
  type ResumableUploadError,
} from './errors.js';
import type { ResolvedOptions, ResolvedS3 } from './options/index.js';
import {
  completeBody,
  MAX_PARTS,
  parsePartsPage,
  parseCompleteResult,
  parseS3Error,
  parseUploadId,
  parseUploadUrl,
  partSizeOf,
  S3_RETRY,
  signRequest,
  uploadUrl,
  type ListedPart,
  type S3ObjectResult,
  type S3Request,
} from './protocols/s3.js';
import { ReplayBuffer } from './replay-buffer.js';
import { isRetryableStatus, withDeadline, withRetry, type RetryNotice } from './retry.js';
import { toTransportError, type Transport, type TransportAnswer } from './transport.js';
import { EXCERPT_CHARS, type UploadResult } from './upload-answers.js';
import { UploadState } from './upload-state.js';
import type { Uploader, UploaderHooks } from './uploader.js';
import { Wakeup } from './wakeup.js';

const MAX_ANSWER_BYTES = 1024 * 1024;
/** S3 error codes that mean "send it again" whatever the status. */
const DIGEST_CODES = new Set(['BadDigest', 'InvalidDigest', 'XAmzContentChecksumMismatch']);
const PLAIN_MD5_ETAG = /^"?([0-9a-f]{32})"?$/i;

interface Part {
  readonly partNumber: number;
  readonly start: number;
  readonly length: number;
  etag?: string;
  crc32c?: string;
  md5Hex?: string;
  done: boolean;
  /** Whether a digest both sides have was compared for this part. */
  verified: boolean;
}

export class PartUploader implements Uploader {
  readonly state: UploadState;
  buffer = new ReplayBuffer();
  result: UploadResult | undefined;
  peakBytesRetained = 0;
  readonly ready: Promise<number>;
  isReady = false;

  private readonly s3: ResolvedS3;
  private readonly controller = new AbortController();
  private readonly signal: AbortSignal;
  private digests: StreamDigests;
  private uploadId: string | undefined;
  private creating: Promise<string> | undefined;
  private readonly parts = new Map<number, Part>();
  /** Parts a crashed process uploaded (from ListParts): checked against the bytes, then kept. */
  private listed = new Map<number, ListedPart>();
  private nextPartNumber = 1;
  private nextPartStart = 0;
  /** The first part not finished: the committed offset is its start. */
  private oldestOpen = 1;
  private readonly inFlight = new Set<Promise<void>>();
  private lastCheckpoint = 0;
  private readonly loopWaiter = new Wakeup();
  private readonly roomWaiter = new Wakeup();
  private failure: Error | undefined;
  private aborting: Promise<number | undefined> | undefined;
  /** `chunkSize`, or a resumed upload's own (its parts were cut with it). */
  private firstPartSize: number;
  /**
   * Resuming from the start found the upload gone: the crashed process may have completed it just
   * before dying. The input is then only hashed, as the parts it would make, and checked against
   * the object when it ends.
   */
  private completedBefore: { gone: SessionExpiredError; parts: PartMd5s; whole: Hash } | undefined;
  /**
   * A part sent with only x-amz-checksum-crc32c came back without it echoed (Ceph RGW ignores
   * flexible checksums): the server checked nothing, so that part is sent again and every later
   * one goes with Content-MD5 too, which every S3 implementation verifies.
   */
  private md5Fallback = false;
  /** The checkpoint naming a new upload could not be saved: nothing can resume it, so it is aborted. */
  private unrecorded = false;
  private settleReady!: { resolve(offset: number): void; reject(error: Error): void };

  constructor(
    private readonly options: ResolvedOptions,
    private readonly transport: Transport,
    private readonly hooks: UploaderHooks,
  ) {
    this.s3 = options.s3 as ResolvedS3;
    this.firstPartSize = options.chunkSize;
    this.state = new UploadState(options.chunkSize, options.totalSize);
    this.signal = options.signal ? AbortSignal.any([this.controller.signal, options.signal]) : this.controller.signal;
    this.digests = new StreamDigests(options.checksum);
    this.ready = new Promise((resolve, reject) => {
      this.settleReady = { resolve, reject };
    });
    this.ready.catch(() => {});
  }

  private get url(): string | undefined {
    return this.uploadId === undefined ? undefined : uploadUrl(this.s3.target, this.uploadId);
  }

  get redactedUrl(): string {
    return redactUrl(this.url ?? `${this.s3.target.origin}${this.s3.target.objectPath}`);
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  private partSize(partNumber = this.nextPartNumber): number {
    return partSizeOf(partNumber, this.firstPartSize);
  }

  append(chunk: Uint8Array): void {
    const overflow = this.state.onWrite(chunk.byteLength);
    if (overflow !== undefined) throw this.sizeMismatch(overflow);
    this.buffer.append(chunk);
    if (this.completedBefore) this.hashRewritten(this.completedBefore);
    this.peakBytesRetained = Math.max(this.peakBytesRetained, this.buffer.bytesRetained);
    this.wakeLoop();
  }

  /** The upload was gone on resume: what is written again is only hashed, then dropped. */
  private hashRewritten(check: NonNullable<PartUploader['completedBefore']>): void {
    const from = this.buffer.releasedOffset;
    const view = this.buffer.view(from, this.buffer.bytesAppended - from);
    this.digests.update(view);
    check.parts.update(view);
    for (const piece of view) check.whole.update(piece);
    this.buffer.release(this.buffer.bytesAppended);
  }

  async appendWithinBudget(chunk: Uint8Array): Promise<void> {
    // Refused at construction (options.ts); kept for the interface.
    this.append(chunk);
    await this.waitForRoom();
  }

  hasRoom(): boolean {
    // Bytes written again over an upload completed before are dropped as they come.
    if (this.completedBefore) return true;
    return this.buffer.bytesRetained < (this.s3.queueSize + 1) * this.partSize();
  }

  waitForRoom(): Promise<void> {
    if (!this.failure && this.hasRoom()) return Promise.resolve();
    return this.roomWaiter.wait(this.failure);
  }

  end(): void {
    const shortfall = this.state.onEnd();
    if (shortfall !== undefined) throw this.sizeMismatch(shortfall);
    this.wakeLoop();
  }

  async run(): Promise<UploadResult> {
    try {
      this.settleReady.resolve(await this.prepare());
      this.isReady = true;
      for (;;) {
        this.launchParts();
        // Ended with every part out and back (or with no part: the whole stream is one PutObject).
        const allOut = this.nextPartStart >= this.state.bytesWritten || this.creating === undefined || this.completedBefore !== undefined;
        if (this.state.ended && allOut && this.inFlight.size === 0) break;
        await this.waitForEvent();
      }
      if (this.failure) throw this.failure;
      if (this.completedBefore) this.result = await this.confirmCompletedBefore(this.completedBefore);
      else this.result = this.uploadId === undefined && this.creating === undefined ? await this.putObject() : await this.complete();
      this.state.complete = true;
      this.state.bytesCommitted = this.state.bytesWritten;
      this.hooks.onProgress({ bytesWritten: this.state.bytesWritten, bytesCommitted: this.state.bytesCommitted });
      return this.result;
    } catch (error) {
      if (!this.failure) this.fail(this.signal.aborted ? this.abortError() : (error as Error));
      this.settleReady.reject(this.failure as Error);
      await Promise.allSettled(this.inFlight);
      if (!this.s3.leavePartsOnError || this.unrecorded) await this.deleteSession().catch(() => undefined);
      throw this.failure;
    }
  }

  abort(reason: Error): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
    this.fail(this.abortError());
    this.buffer.clear();
  }

  /** AbortMultipartUpload (204), once; undefined when no multipart upload was created. */
  deleteSession(): Promise<number | undefined> {
    this.aborting ??= this.abortOnServer();
    return this.aborting;
  }

  private async abortOnServer(): Promise<number | undefined> {
    await this.creating?.catch(() => undefined);
    // Known even when the create failed after it (its checkpoint was not saved).
    const uploadId = this.uploadId;
    if (uploadId === undefined) return undefined;
    const request = await this.sign('DELETE', `${this.s3.target.objectPath}?uploadId=${encodeURIComponent(uploadId)}`, {}, { sseCustomer: false });
    const { headersTimeout, bodyTimeout } = this.options.timeouts;
    const answer = await withDeadline(headersTimeout + bodyTimeout, 'AbortMultipartUpload', (signal) => this.send(request, undefined, 'AbortMultipartUpload', signal));
    return answer.status;
  }

  /** Resuming: the parts already uploaded, from ListParts; the offset the input starts at. */
  private async prepare(): Promise<number> {
    const { resume, checkpointStore, resumeInput } = this.options;
    if (resume === undefined) return 0;
    const checkpoint = await resumeCheckpoint(resume, checkpointStore, this.options.protocol, this.context());
    if (checkpoint === undefined) return 0;
    const parsed = parseUploadUrl(checkpoint.url);
    if (!parsed || parsed.objectPath !== this.s3.target.objectPath || parsed.origin !== this.s3.target.origin) {
      throw new ResumeMismatchError(`the checkpoint is for another object than ${this.redactedUrl}`, this.context());
    }
    this.uploadId = parsed.uploadId;
    this.creating = Promise.resolve(parsed.uploadId);
    if (checkpoint.partSize !== undefined) this.firstPartSize = checkpoint.partSize;
    try {
      this.listed = await this.listParts();
    } catch (error) {
      if (!(error instanceof SessionExpiredError) || resumeInput !== 'from-start') throw error;
      this.completedBefore = { gone: error, parts: new PartMd5s((partNumber) => this.partSize(partNumber)), whole: createHash('md5') };
      return 0;
    }
    if (resumeInput === 'from-start') return 0;
    // From the committed offset: the parts below it are on the server, and their bytes won't come again.
    const inputStart = checkpoint.bytesCommitted;
    while (this.nextPartStart < inputStart) {
      const length = this.partSize();
      const listed = this.listed.get(this.nextPartNumber);
      if (!listed || listed.size !== length) {
        throw new ResumeMismatchError(`part ${this.nextPartNumber} below the checkpoint's offset ${inputStart} is not on the server; resume with resumeInput 'from-start'`, this.context());
      }
      this.parts.set(this.nextPartNumber, { partNumber: this.nextPartNumber, start: this.nextPartStart, length, etag: listed.etag, done: true, verified: false });
      this.nextPartStart += length;
      this.nextPartNumber++;
    }
    if (this.nextPartStart !== inputStart) throw new ResumeMismatchError(`the checkpoint's offset ${inputStart} is not a part boundary`, this.context());
    this.oldestOpen = this.nextPartNumber;
    this.buffer = new ReplayBuffer(inputStart);
    this.state.bytesWritten = inputStart;
    this.state.bytesCommitted = inputStart;
    this.digests = new StreamDigests(this.options.checksum, { offset: inputStart, crc32cState: checkpoint.crc32cState ?? 0 });
    this.lastCheckpoint = inputStart;
    return inputStart;
  }

  /** Every part of the upload (ListParts, page by page). */
  private async listParts(): Promise<Map<number, ListedPart>> {
    const found = new Map<number, ListedPart>();
    let marker: number | undefined = 0;
    while (marker !== undefined) {
      const path = `${this.s3.target.objectPath}?uploadId=${encodeURIComponent(this.uploadId as string)}${marker > 0 ? `&part-number-marker=${marker}` : ''}`;
      const answer = await this.withRetries('ListParts', () => this.sign('GET', path), undefined);
      const page = parsePartsPage(answer.body);
      if (!page) throw new ProtocolError(`ListParts answered ${answer.status} without a ListPartsResult (${this.redactedUrl})`, this.context());
      for (const part of page.parts) found.set(part.partNumber, part);
      marker = page.nextMarker;
    }
    return found;
  }

  /** Starts every part whose bytes are all here, within the window of `queueSize` part numbers. */
  private launchParts(): void {
    if (this.completedBefore) return;
    while (!this.failure && this.nextPartNumber < this.oldestOpen + this.s3.queueSize && this.inFlight.size < this.s3.queueSize) {
      const size = this.partSize();
      const available = this.state.bytesWritten - this.nextPartStart;
      const isLast = this.state.ended && available <= size;
      // Before any part went out, a stream that may still fit in one part waits: then one PutObject.
      const multipartNeeded = this.creating !== undefined || available > size || (this.options.totalSize ?? 0) > size;
      if (!(isLast ? available > 0 && this.creating !== undefined : available >= size && multipartNeeded)) return;
      if (this.nextPartNumber > MAX_PARTS) {
        this.fail(new SizeMismatchError(this.nextPartStart, this.state.bytesWritten, `the stream outgrew S3's ${MAX_PARTS} parts (${this.nextPartStart} bytes); nothing was completed`, this.context()));
        return;
      }
      const part: Part = { partNumber: this.nextPartNumber, start: this.nextPartStart, length: isLast ? available : size, done: false, verified: false };
      this.parts.set(part.partNumber, part);
      this.nextPartNumber++;
      this.nextPartStart += part.length;
      const running = this.sendPart(part).then(
        () => this.onPartDone(part),
        (error: Error) => this.fail(error),
      );
      this.inFlight.add(running);
      void running.finally(() => {
        this.inFlight.delete(running);
        this.wakeLoop();
      });
    }
  }

  private async sendPart(part: Part): Promise<void> {
    const body = this.buffer.view(part.start, part.length);
    let sums = new StreamDigests(this.partChecksum()).digestWith(body);
    if (this.keepListed(part, body, sums)) return;
    const uploadId = await this.ensureUpload();
    const path = `${this.s3.target.objectPath}?partNumber=${part.partNumber}&uploadId=${encodeURIComponent(uploadId)}`;
    const what = `part ${part.partNumber} (bytes ${part.start}-${part.start + part.length - 1})`;
    const send = () => this.withRetries(what, () => this.sign('PUT', path, checksumHeaders(sums)), body);
    let answer = await send();
    if (unverifiedCrc(answer, sums)) {
      this.md5Fallback = true;
      sums = new StreamDigests('both').digestWith(body);
      answer = await send();
    }
    const etag = answer.headers['etag'];
    if (!etag) throw new ProtocolError(`${what} answered ${answer.status} without an ETag (${this.redactedUrl})`, this.context());
    part.etag = etag;
    part.crc32c = sums.crc32c;
    part.verified = this.checkEchoes(what, answer, sums) || sums.md5 !== undefined;
    if (sums.md5 !== undefined) part.md5Hex = base64ToHex(sums.md5);
  }

  /** The digests a part is sent with: the `checksum` option's, with MD5 once the server was seen to ignore CRC32C. */
  private partChecksum(): ChecksumOption {
    return this.md5Fallback && this.options.checksum === 'crc32c' ? 'both' : this.options.checksum;
  }

  /**
   * Signs a request with those of the `headers` option S3 takes on it (S3Headers, protocols/s3.ts),
   * with the credentials current now: temporary ones are refreshed before they expire.
   */
  private async sign(method: S3Request['method'], path: string, own: Record<string, string> = {}, { object = false, sseCustomer = true } = {}): Promise<S3Request> {
    const { everyRequest, sseCustomer: sseC, object: objectHeaders } = this.s3.headers;
    const credentials = await this.s3.credentials();
    return signRequest(this.s3.target, credentials, method, path, { ...everyRequest, ...(sseCustomer ? sseC : {}), ...(object ? objectHeaders : {}), ...own });
  }

  /**
   * A part a crashed process already uploaded is kept when the bytes written again are the same
   * (its ETag is their MD5); otherwise, or when its ETag is not a plain MD5, it is uploaded again.
   */
  private keepListed(part: Part, body: readonly Uint8Array[], sums: Digests): boolean {
    const listed = this.listed.get(part.partNumber);
    if (!listed || listed.size !== part.length) return false;
    const plain = PLAIN_MD5_ETAG.exec(listed.etag)?.[1]?.toLowerCase();
    if (plain === undefined) return false;
    const ours = sums.md5 === undefined ? md5Hex(body) : base64ToHex(sums.md5);
    if (plain !== ours) return false;
    part.etag = listed.etag;
    part.md5Hex = ours;
    part.verified = true;
    return true;
  }

  /** Compares what the server echoed (x-amz-checksum-crc32c, a plain-MD5 ETag) with our digests. */
  private checkEchoes(what: string, answer: TransportAnswer, sums: Digests): boolean {
    let compared = false;
    const echoedCrc = answer.headers['x-amz-checksum-crc32c'];
    if (sums.crc32c !== undefined && echoedCrc !== undefined) {
      if (echoedCrc !== sums.crc32c) throw this.digestMismatch('crc32c', sums.crc32c, echoedCrc, what);
      compared = true;
    }
    const etagMd5 = PLAIN_MD5_ETAG.exec(answer.headers['etag'] ?? '')?.[1]?.toLowerCase();
    if (sums.md5 !== undefined && etagMd5 !== undefined) {
      const ours = base64ToHex(sums.md5);
      if (etagMd5 !== ours) throw this.digestMismatch('md5', ours, etagMd5, what);
      compared = true;
    }
    return compared;
  }

  private ensureUpload(): Promise<string> {
    this.creating ??= this.createUpload();
    return this.creating;
  }

  /**
   * CreateMultipartUpload, then a checkpoint naming the upload, saved before any part goes: a
   * process killed from here on leaves a checkpoint that resumes this upload, never an orphan.
   */
  private async createUpload(): Promise<string> {
    const headers: Record<string, string> = this.digests.usesCrc32c ? { 'x-amz-checksum-algorithm': 'CRC32C' } : {};
    const answer = await this.withRetries('CreateMultipartUpload', () => this.sign('POST', `${this.s3.target.objectPath}?uploads`, headers, { object: true }), undefined);
    const uploadId = parseUploadId(answer.body);
    if (uploadId === undefined) throw new ProtocolError(`CreateMultipartUpload answered ${answer.status} without an UploadId (${this.redactedUrl})`, this.context());
    this.uploadId = uploadId;
    this.emitCheckpoint();
    await this.hooks.checkpointsSaved().catch((error: unknown) => {
      this.unrecorded = true;
      throw error;
    });
    return uploadId;
  }

  /** After every finished part: the committed offset moves over the run of finished parts from part 1. */
  private onPartDone(part: Part): void {
    part.done = true;
    while (this.parts.get(this.oldestOpen)?.done) this.oldestOpen++;
    const committed = this.parts.get(this.oldestOpen - 1);
    const offset = committed ? committed.start + committed.length : this.state.bytesCommitted;
    if (offset > this.state.bytesCommitted) {
      this.state.bytesCommitted = offset;
      this.releaseCommitted();
      this.hooks.onProgress({ bytesWritten: this.state.bytesWritten, bytesCommitted: offset });
    }
    this.notifyRoom();
  }

  /** Hashes and drops the committed bytes still held, then checkpoints the new offset. */
  private releaseCommitted(): void {
    const upTo = Math.min(this.state.bytesCommitted, this.buffer.bytesAppended);
    const from = this.buffer.releasedOffset;
    if (upTo <= from) return;
    this.digests.update(this.buffer.view(from, upTo - from));
    this.buffer.release(upTo);
    if (this.uploadId === undefined || this.digests.offset <= this.lastCheckpoint) return;
    this.lastCheckpoint = this.digests.offset;
    this.emitCheckpoint();
  }

  private emitCheckpoint(): void {
    this.hooks.onCheckpoint(
      makeCheckpoint({
        url: this.url as string,
        protocol: 's3',
        partSize: this.firstPartSize,
        bytesCommitted: this.digests.offset,
        ...(this.digests.usesCrc32c ? { crc32cState: this.digests.crc32cState } : {}),
      }),
    );
  }

  /** A stream that fit in one part: one PutObject. */
  private async putObject(): Promise<UploadResult> {
    const length = this.state.bytesWritten - this.buffer.releasedOffset;
    const body = this.buffer.view(this.buffer.releasedOffset, length);
    // PutObject can't be sent again once a server that ignores CRC32C stored it: Content-MD5 goes with it.
    const sums = new StreamDigests(this.options.checksum === 'crc32c' ? 'both' : this.options.checksum).digestWith(body);
    await this.hooks.checkpointsSaved();
    const answer = await this.withRetries('PutObject', () => this.sign('PUT', this.s3.target.objectPath, checksumHeaders(sums), { object: true }), body);
    const verified = this.checkEchoes('PutObject', answer, sums) || sums.md5 !== undefined;
    this.state.bytesCommitted = this.state.bytesWritten;
    this.releaseCommitted();
    return { status: answer.status, headers: answer.headers, body: this.objectBody(unquote(answer.headers['etag'])), checksums: this.digests.digestWith([]), verified };
  }

  /** `result.body` with S3: the object (Complete's `Location` when it gave one). */
  private objectBody(etag: string | undefined, location?: string): S3ObjectResult {
    return { ...(location === undefined ? {} : { location }), bucket: this.s3.bucket, key: this.s3.key, etag };
  }

  /**
   * CompleteMultipartUpload with every part. Its 200 can carry an `<Error>` (retried like a
   * 5xx). If an earlier attempt completed the upload but its answer was lost, the retry finds
   * no upload (404): the object is then checked (a HEAD: its size and ETag) before success.
   */
  private async complete(): Promise<UploadResult> {
    const uploadId = await this.ensureUpload();
    // A checkpoint that could not be saved fails the stream: then nothing may be completed.
    await this.hooks.checkpointsSaved();
    const parts = [...this.parts.values()].sort((a, b) => a.partNumber - b.partNumber);
    const body = completeBody(parts.map(({ partNumber, etag, crc32c }) => ({ partNumber, etag: etag as string, crc32c })));
    const path = `${this.s3.target.objectPath}?uploadId=${encodeURIComponent(uploadId)}`;
    let attempts = 0;
    const sign = () => {
      attempts++;
      return this.sign('POST', path, { 'content-type': 'application/xml' });
    };
    let answer: TransportAnswer;
    try {
      answer = await this.withRetries('CompleteMultipartUpload', sign, [Buffer.from(body)], { errorIn2xx: true });
    } catch (error) {
      // Only a retry can find the upload gone because an earlier attempt completed it.
      if (!(error instanceof SessionExpiredError) || attempts < 2) throw error;
      answer = await this.checkCompletedObject(error, parts);
    }
    const completed = parseCompleteResult(answer.body);
    // Ceph RGW answers `<ETag></ETag>`: the object itself then tells its ETag and size.
    const etag = completed?.etag || unquote(answer.headers['etag']) || (await this.headObject()).etag;
    const expected = this.expectedEtag(parts, etag);
    if (expected !== undefined && etag !== expected) throw this.digestMismatch('md5', expected, etag as string, 'the completed object (ETag)');
    this.state.bytesCommitted = this.state.bytesWritten;
    this.releaseCommitted();
    const verified = parts.every((part) => part.verified) || expected !== undefined;
    return { status: answer.status, headers: answer.headers, body: this.objectBody(etag, completed?.location), checksums: this.digests.digestWith([]), verified };
  }

  /** HEAD of the completed object: its ETag; a size other than the bytes written is RWS_PROTOCOL. */
  private async headObject(): Promise<{ etag: string | undefined }> {
    const answer = await this.withRetries('HEAD of the completed object', () => this.sign('HEAD', this.s3.target.objectPath), undefined);
    const size = Number(answer.headers['content-length']);
    if (size !== this.state.bytesWritten) {
      throw new ProtocolError(`the completed object holds ${answer.headers['content-length'] ?? 'an unknown number of'} bytes but ${this.state.bytesWritten} were written (${this.redactedUrl})`, this.context());
    }
    return { etag: unquote(answer.headers['etag']) };
  }

  /**
   * The object after a lost Complete answer: it must exist with exactly the bytes written (and,
   * when every part's MD5 is known, the multipart ETag they make).
   */
  private async checkCompletedObject(gone: SessionExpiredError, parts: readonly Part[], wholeMd5Hex = this.streamMd5Hex(), requireEtag = false): Promise<TransportAnswer> {
    const answer = await this.withRetries('checking the completed object', () => this.sign('HEAD', this.s3.target.objectPath), undefined).catch(() => {
      throw gone;
    });
    const total = Number(answer.headers['content-length']);
    const etag = unquote(answer.headers['etag']);
    const expected = this.expectedEtag(parts, etag, wholeMd5Hex);
    if (total !== this.state.bytesWritten || (expected === undefined ? requireEtag : etag !== expected)) throw gone;
    return answer;
  }

  /**
   * Resumed from the start, the upload was gone and the input has ended: success only if the object
   * is exactly what was written again — its size, and its ETag against the MD5s of the parts the
   * input makes (or of the whole input). Anything else (not there, another size or ETag, an ETag
   * that can't be checked) is the SessionExpiredError the resume met.
   */
  private async confirmCompletedBefore(check: NonNullable<PartUploader['completedBefore']>): Promise<UploadResult> {
    const answer = await this.checkCompletedObject(check.gone, check.parts.finish(), check.whole.digest('hex'), true);
    return { status: answer.status, headers: answer.headers, body: this.objectBody(unquote(answer.headers['etag'])), checksums: this.digests.digestWith([]), verified: true };
  }

  private streamMd5Hex(): string | undefined {
    const md5 = this.digests.digestWith([]).md5;
    return md5 === undefined ? undefined : base64ToHex(md5);
  }

  /**
   * What the completed object's ETag must be, when we can tell: S3, MinIO and Ceph give the MD5 of
   * the parts' MD5s with "-N" (needs every part's MD5); some servers give the whole object's MD5
   * (needs the stream's MD5). Undefined when the ETag is neither form or the digests are missing.
   */
  private expectedEtag(parts: readonly Part[], etag: string | undefined, wholeMd5Hex = this.streamMd5Hex()): string | undefined {
    if (etag === undefined) return undefined;
    if (/^[0-9a-f]{32}-\d+$/i.test(etag)) return multipartEtag(parts);
    if (PLAIN_MD5_ETAG.test(etag)) return wholeMd5Hex;
    return undefined;
  }

  /**
   * One S3 request with the retry policy, signed anew for every attempt; a 2xx answer or a typed
   * error. `errorIn2xx`: the answer's 200 can carry an `<Error>` (Complete), retried like a 5xx.
   */
  private withRetries(what: string, sign: () => Promise<S3Request>, body: Uint8Array[] | undefined, { errorIn2xx = false } = {}): Promise<TransportAnswer> {
    return withRetry(
      async () => {
        const answer = await this.send(await sign(), body, what, this.signal);
        if (answer.status >= 200 && answer.status < 300) {
          const error = errorIn2xx ? parseS3Error(answer.body) : undefined;
          if (error === undefined) return answer;
          throw new HttpStatusError(answer.status, answer.body.slice(0, EXCERPT_CHARS), true, `${what} to ${this.redactedUrl} answered ${answer.status} with an error: ${error.code} ${error.message}`, this.context());
        }
        throw this.answerError(what, answer);
      },
      {
        policy: this.options.retry,
        signal: this.signal,
        onRetry: (notice: RetryNotice) => this.hooks.onRetry({ ...notice, offset: this.state.bytesCommitted }),
        describe: () => what,
        context: () => this.context(),
      },
    );
  }

  private answerError(what: string, answer: TransportAnswer): ResumableUploadError {
    const error = parseS3Error(answer.body);
    const code = error?.code ?? '';
    const detail = error ? `${code}: ${error.message}` : JSON.stringify(answer.body.slice(0, EXCERPT_CHARS));
    const message = `${what} to ${this.redactedUrl} answered ${answer.status} ${detail}`;
    if (answer.status === 404 && code !== 'NoSuchBucket') {
      return new SessionExpiredError(answer.status, `${message}: the multipart upload no longer exists (aborted, expired or completed); nothing was completed by this stream`, this.context());
    }
    if (DIGEST_CODES.has(code)) return new ChecksumMismatchError('md5', undefined, undefined, `${message}: the bytes S3 received do not match our digest`, this.context());
    const retryable = isRetryableStatus(answer.status, S3_RETRY, code);
    return new HttpStatusError(answer.status, answer.body.slice(0, EXCERPT_CHARS), retryable, message, this.context());
  }

  private async send(request: S3Request, body: Uint8Array[] | undefined, what: string, signal: AbortSignal): Promise<TransportAnswer> {
    try {
      return await this.transport.send({ ...request, ...(body === undefined ? {} : { body }), signal, maxBodyBytes: MAX_ANSWER_BYTES });
    } catch (error) {
      if (this.signal.aborted && signal === this.signal) throw this.abortError();
      throw toTransportError(error, `${what} to ${this.redactedUrl} failed`, this.context()) ?? error;
    }
  }

  private digestMismatch(algorithm: 'crc32c' | 'md5', ours: string, theirs: string, what: string): ChecksumMismatchError {
    return new ChecksumMismatchError(algorithm, ours, theirs, `${what}: S3 reports ${algorithm} ${theirs}, the bytes sent have ${ours} (${this.redactedUrl}); nothing was completed`, this.context());
  }

  private sizeMismatch(reason: string): SizeMismatchError {
    return new SizeMismatchError(this.options.totalSize ?? 0, this.state.bytesWritten, `${reason}; the upload was not completed`, this.context());
  }

  private abortError(): ResumableUploadError {
    const reason: unknown = this.signal.reason;
    if (reason instanceof AbortedError) return reason;
    return new AbortedError(`the upload was aborted after ${this.state.bytesCommitted} committed bytes; it was not completed`, { ...this.context(), cause: reason });
  }

  context(): ErrorContext {
    const url = this.url;
    return { bytesCommitted: this.state.bytesCommitted, ...(url === undefined ? {} : { url }) };
  }

  private waitForEvent(): Promise<void> {
    return this.loopWaiter.wait(this.failure);
  }

  private wakeLoop(): void {
    this.loopWaiter.wake();
  }

  private notifyRoom(): void {
    if (this.roomWaiter.isWaiting && this.hasRoom()) this.roomWaiter.wake();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    // A part that failed for good stops the others: nothing more is sent, nothing is completed.
    if (!this.controller.signal.aborted) this.controller.abort(this.failure);
    this.loopWaiter.fail(this.failure);
    this.roomWaiter.fail(this.failure);
  }
}

/** Content-MD5 and x-amz-checksum-crc32c of a part, per the `checksum` option: S3 verifies both. */
function checksumHeaders(sums: Digests): Record<string, string> {
  return {
    ...(sums.md5 === undefined ? {} : { 'content-md5': sums.md5 }),
    ...(sums.crc32c === undefined ? {} : { 'x-amz-checksum-crc32c': sums.crc32c, 'x-amz-sdk-checksum-algorithm': 'CRC32C' }),
  };
}

/** The MD5 of each part a stream would be cut into (per the part-size schedule), fed in order. */
class PartMd5s {
  private readonly parts: Part[] = [];
  private hash = createHash('md5');
  private filled = 0;
  private start = 0;

  constructor(private readonly sizeOf: (partNumber: number) => number) {}

  update(pieces: readonly Uint8Array[]): void {
    for (let piece of pieces) {
      while (piece.byteLength > 0) {
        const size = this.sizeOf(this.parts.length + 1);
        const taken = piece.subarray(0, size - this.filled);
        this.hash.update(taken);
        this.filled += taken.byteLength;
        piece = piece.subarray(taken.byteLength);
        if (this.filled === size) this.close();
      }
    }
  }

  /** The parts, the last one closed (a stream ending on a part boundary has no empty part). */
  finish(): Part[] {
    if (this.filled > 0) this.close();
    return this.parts;
  }

  private close(): void {
    this.parts.push({ partNumber: this.parts.length + 1, start: this.start, length: this.filled, md5Hex: this.hash.digest('hex'), done: true, verified: true });
    this.start += this.filled;
    this.filled = 0;
    this.hash = createHash('md5');
  }
}

const base64ToHex = (base64: string) => Buffer.from(base64, 'base64').toString('hex');
const unquote = (etag: string | undefined) => etag?.replace(/"/g, '') || undefined;

/** A part sent with CRC32C alone whose answer does not echo it: the server did not check it. */
function unverifiedCrc(answer: TransportAnswer, sums: Digests): boolean {
  return sums.crc32c !== undefined && sums.md5 === undefined && answer.headers['x-amz-checksum-crc32c'] === undefined;
}

function md5Hex(parts: readonly Uint8Array[]): string {
  const digest = createHash('md5');
  for (const part of parts) digest.update(part);
  return digest.digest('hex');
}

/** S3's ETag of a multipart object: MD5 of the parts' MD5s, "-N"; undefined unless every part's MD5 is known. */
function multipartEtag(parts: readonly Part[]): string | undefined {
  if (parts.length === 0 || parts.some((part) => part.md5Hex === undefined)) return undefined;
  const digest = createHash('md5');
  for (const part of parts) digest.update(Buffer.from(part.md5Hex as string, 'hex'));
  return `${digest.digest('hex')}-${parts.length}`;
}
