/**
 * `protocol: 'gcs-multipart'`: GCS XML API multipart upload as a parts adapter. Initiate
 * (`POST ?uploads`), parts in parallel (`PUT ?partNumber=N&uploadId=…` with `x-goog-hash`),
 * list the parts of a crashed upload (`GET ?uploadId=…`, page by page), complete
 * (`POST ?uploadId=…` with the part list), cancel (`DELETE ?uploadId=…`).
 *
 * Integrity: GCS checks each part's `x-goog-hash` and echoes the part's CRC32C and MD5, which are
 * compared with ours. A multipart object has a CRC32C but no MD5 (GCS documents it), so the whole
 * stream is checked by CRC32C alone: the completion's `x-goog-hash`, else a HEAD of the object.
 */
import type { ChecksumOption, Digests } from '../../checksum.js';
import { ChecksumMismatchError, HttpStatusError, ProtocolError, SessionExpiredError, type ResumableUploadError } from '../../errors.js';
import type { ListedPart, OutgoingPart, PartsCall, PartsProtocol, PartsRequest, StoredPart, WrittenObject } from '../../parts/protocol.js';
import { isRetryableStatus } from '../../retry.js';
import type { TransportAnswer } from '../../transport.js';
import { EXCERPT_CHARS, type UploadResult } from '../../upload-answers.js';
import type { ResolvedOptions } from '../../options/index.js';
import { completeBody, parsePartsPage, parseS3Error as parseXmlError, parseUploadId } from '../s3/xml.js';
import type { ResolvedGcsMultipart } from './options.js';
import { answerDigests, compareDigests, DIGEST_CODES, etagMd5Hex, GCS_MULTIPART_LIMITS, GCS_MULTIPART_RETRY, hashHeader, parseUploadUrl, uploadUrl, type GcsObjectResult } from './wire.js';

/** The registry's factory (protocols/index.ts): the adapter for `options.gcsMultipart`. */
export function createGcsMultipartParts(options: ResolvedOptions): PartsProtocol {
  return createGcsMultipartProtocol(options.gcs as ResolvedGcsMultipart);
}

export function createGcsMultipartProtocol(gcs: ResolvedGcsMultipart): PartsProtocol {
  return new GcsMultipartProtocol(gcs);
}

class GcsMultipartProtocol implements PartsProtocol {
  readonly limits = GCS_MULTIPART_LIMITS;
  readonly targetUrl: string;
  readonly leavePartsOnError: boolean;

  constructor(private readonly gcs: ResolvedGcsMultipart) {
    this.targetUrl = gcs.objectUrl;
    this.leavePartsOnError = gcs.leavePartsOnError;
  }

  partChecksum(option: ChecksumOption): ChecksumOption {
    return option;
  }

  sessionUrl(uploadId: string): string {
    return uploadUrl(this.gcs.objectUrl, uploadId);
  }

  parseSessionUrl(url: string): string | undefined {
    return parseUploadUrl(this.gcs.objectUrl, url);
  }

  async create(call: PartsCall): Promise<string> {
    const answer = await call.send('initiating the multipart upload', () => this.request('POST', `${this.gcs.objectUrl}?uploads`, this.gcs.objectHeaders));
    const uploadId = parseUploadId(answer.body);
    if (uploadId === undefined) throw new ProtocolError(`initiating the multipart upload at ${call.redactedUrl} answered ${answer.status} without an UploadId`, call.context());
    return uploadId;
  }

  async putPart(call: PartsCall, uploadId: string, part: OutgoingPart): Promise<StoredPart> {
    const what = `part ${part.partNumber} (bytes ${part.start}-${part.start + part.length - 1})`;
    const url = `${this.gcs.objectUrl}?partNumber=${part.partNumber}&uploadId=${encodeURIComponent(uploadId)}`;
    const answer = await call.send(what, () => this.request('PUT', url, hashHeader(part.digests)), part.body);
    const etag = answer.headers['etag'];
    if (!etag) throw new ProtocolError(`${what} to ${call.redactedUrl} answered ${answer.status} without an ETag`, call.context());
    const echo = this.checkEcho(call, what, answer, part.digests);
    const { crc32c, md5 } = part.digests;
    return {
      partNumber: part.partNumber,
      start: part.start,
      length: part.length,
      tag: etag,
      ...(md5 === undefined ? {} : { md5Hex: Buffer.from(md5, 'base64').toString('hex') }),
      ...(crc32c === undefined ? {} : { crc32c }),
      // A digest sent is checked by GCS before it stores the part (400 BadDigest otherwise).
      verified: echo === 'matched' || Object.keys(part.digests).length > 0,
    };
  }

  async listParts(call: PartsCall, uploadId: string): Promise<ReadonlyMap<number, ListedPart>> {
    const found = new Map<number, ListedPart>();
    let marker: number | undefined = 0;
    while (marker !== undefined) {
      const url = `${uploadUrl(this.gcs.objectUrl, uploadId)}${marker > 0 ? `&part-number-marker=${marker}` : ''}`;
      const answer = await call.send('listing the parts', () => this.request('GET', url));
      const page = parsePartsPage(answer.body);
      if (!page) throw new ProtocolError(`listing the parts of ${call.redactedUrl} answered ${answer.status} without a ListPartsResult`, call.context());
      for (const { partNumber, size, etag } of page.parts) {
        const md5Hex = etagMd5Hex(etag);
        found.set(partNumber, { partNumber, size, tag: etag, ...(md5Hex === undefined ? {} : { md5Hex }) });
      }
      if (page.nextMarker !== undefined && page.nextMarker <= marker) throw new ProtocolError(`listing the parts of ${call.redactedUrl} did not advance past part ${marker}`, call.context());
      marker = page.nextMarker;
    }
    return found;
  }

  /**
   * Completes, then checks the object's CRC32C against the stream's. Only a retry can find the
   * upload gone because an earlier attempt completed it (its answer lost): then the object itself
   * is checked, never assumed.
   */
  async complete(call: PartsCall, uploadId: string, parts: readonly StoredPart[], whole: Digests): Promise<UploadResult> {
    const body = completeBody(parts.map(({ partNumber, tag }) => ({ partNumber, etag: tag })));
    const size = parts.reduce((sum, part) => sum + part.length, 0);
    let attempts = 0;
    const build = () => {
      attempts++;
      return this.request('POST', uploadUrl(this.gcs.objectUrl, uploadId), { 'content-type': 'application/xml' });
    };
    let answer: TransportAnswer;
    try {
      answer = await call.send('completing the multipart upload', build, [Buffer.from(body)], { errorIn2xx: (reply) => describeXmlError(reply.body) });
    } catch (error) {
      if (!(error instanceof SessionExpiredError) || attempts < 2) throw error;
      return this.confirmObject(call, size, whole, error);
    }
    const verified = await this.checkCompleted(call, answer, size, whole);
    return this.result(answer, whole, verified || parts.every((part) => part.verified));
  }

  async abort(call: PartsCall, uploadId: string): Promise<number> {
    const answer = await call.sendOnce('cancelling the multipart upload', () => this.request('DELETE', uploadUrl(this.gcs.objectUrl, uploadId)));
    return answer.status;
  }

  /** One PUT of the object with the stream's digests, which GCS checks before storing it. */
  async putWhole(call: PartsCall, body: readonly Uint8Array[], whole: Digests): Promise<UploadResult> {
    const answer = await call.send('uploading the object', () => this.request('PUT', this.gcs.objectUrl, { ...this.gcs.objectHeaders, ...hashHeader(whole) }), body);
    const echo = this.checkEcho(call, 'the uploaded object', answer, whole);
    return this.result(answer, whole, echo === 'matched' || Object.keys(whole).length > 0);
  }

  async confirmCompleted(call: PartsCall, written: WrittenObject, gone: ResumableUploadError): Promise<UploadResult> {
    return this.confirmObject(call, written.size, written.digests, gone);
  }

  answerError(what: string, answer: TransportAnswer, call: PartsCall): ResumableUploadError {
    const error = parseXmlError(answer.body);
    const code = error?.code ?? '';
    const detail = error ? `${code}: ${error.message}` : JSON.stringify(answer.body.slice(0, EXCERPT_CHARS));
    const message = `${what} to ${call.redactedUrl} answered ${answer.status} ${detail}`;
    if (answer.status === 404 && code !== 'NoSuchBucket') {
      return new SessionExpiredError(answer.status, `${message}: the multipart upload no longer exists (cancelled or completed); nothing was completed by this stream`, call.context());
    }
    if (DIGEST_CODES.has(code)) return new ChecksumMismatchError('md5', undefined, undefined, `${message}: the bytes GCS received do not match the x-goog-hash sent`, call.context());
    return new HttpStatusError(answer.status, answer.body.slice(0, EXCERPT_CHARS), isRetryableStatus(answer.status, GCS_MULTIPART_RETRY, code), message, call.context());
  }

  /**
   * The completed object's CRC32C (the completion's `x-goog-hash`, else a HEAD's) against the
   * stream's: whether it was compared. Without a CRC32C of ours the HEAD still checks the size.
   */
  private async checkCompleted(call: PartsCall, answer: TransportAnswer, size: number, whole: Digests): Promise<boolean> {
    let reported = answerDigests(answer).crc32c;
    if (reported === undefined || whole.crc32c === undefined) {
      const head = await this.head(call);
      checkSize(call, head, size);
      reported = answerDigests(head).crc32c;
    }
    if (whole.crc32c === undefined || reported === undefined) return false;
    if (reported !== whole.crc32c) throw this.mismatch(call, 'the completed object', 'crc32c', whole.crc32c, reported);
    return true;
  }

  /** The object must exist with exactly the bytes written (size and CRC32C); otherwise `gone`. */
  private async confirmObject(call: PartsCall, size: number, whole: Digests, gone: ResumableUploadError): Promise<UploadResult> {
    const head = await this.head(call).catch(() => {
      throw gone;
    });
    const reported = answerDigests(head).crc32c;
    if (Number(head.headers['content-length']) !== size || whole.crc32c === undefined || reported !== whole.crc32c) throw gone;
    return this.result(head, whole, true);
  }

  private head(call: PartsCall): Promise<TransportAnswer> {
    return call.send('checking the completed object (HEAD)', () => this.request('HEAD', this.gcs.objectUrl));
  }

  /** A digest the answer reports that differs from ours is a ChecksumMismatchError. */
  private checkEcho(call: PartsCall, what: string, answer: TransportAnswer, ours: Digests): 'matched' | 'unchecked' {
    const outcome = compareDigests(answer, ours);
    if (typeof outcome === 'object') throw this.mismatch(call, what, outcome.name, outcome.ours, outcome.theirs);
    return outcome;
  }

  private mismatch(call: PartsCall, what: string, algorithm: 'crc32c' | 'md5', ours: string, theirs: string): ChecksumMismatchError {
    return new ChecksumMismatchError(algorithm, ours, theirs, `${what}: GCS reports ${algorithm} ${theirs}, the bytes written have ${ours} (${call.redactedUrl})`, call.context());
  }

  private result(answer: TransportAnswer, whole: Digests, verified: boolean): UploadResult {
    const body: GcsObjectResult = { bucket: this.gcs.bucket, name: this.gcs.name, etag: answer.headers['etag']?.replace(/"/g, '') || undefined };
    return { status: answer.status, headers: answer.headers, body, checksums: whole, verified };
  }

  private request(method: PartsRequest['method'], url: string, own: Record<string, string> = {}): Promise<PartsRequest> {
    return this.gcs.authorize(method, url, { ...this.gcs.everyRequest, ...own });
  }
}

function checkSize(call: PartsCall, head: TransportAnswer, size: number): void {
  const stored = Number(head.headers['content-length']);
  if (stored !== size) {
    throw new ProtocolError(`the completed object holds ${head.headers['content-length'] ?? 'an unknown number of'} bytes but ${size} were written (${call.redactedUrl})`, { ...call.context(), storedSize: stored });
  }
}

/** A 200 whose body is an `<Error>` (as S3 documents for its Complete): its description. */
function describeXmlError(body: string): string | undefined {
  const error = parseXmlError(body);
  return error === undefined ? undefined : `${error.code} ${error.message}`;
}
