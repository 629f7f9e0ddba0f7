/**
 * S3 multipart as a parts protocol (parts/protocol.ts): CreateMultipartUpload, UploadPart,
 * ListParts, CompleteMultipartUpload, AbortMultipartUpload and PutObject, with S3's error codes.
 * The generic parts driver (parts/driver.ts) decides what happens; this file only says how it
 * looks on the wire and what S3's answers mean.
 */
import { StreamDigests, type ChecksumOption, type Digests } from '../../checksum.js';
import { ChecksumMismatchError, HttpStatusError, ProtocolError, SessionExpiredError, type ResumableUploadError } from '../../errors.js';
import type { ResolvedOptions, ResolvedS3 } from '../../options/index.js';
import type { ListedPart, OutgoingPart, PartsCall, PartsProtocol, StoredPart, WrittenObject } from '../../parts/protocol.js';
import { isRetryableStatus } from '../../retry.js';
import type { TransportAnswer } from '../../transport.js';
import { EXCERPT_CHARS, type UploadResult } from '../../upload-answers.js';
import { completeUpload, confirmObject, putObject } from './completion.js';
import { base64ToHex, checkEchoes, checksumHeaders, plainMd5, unverifiedCrc } from './etag.js';
import { S3Signer } from './signer.js';
import { parseUploadUrl, S3_LIMITS, S3_RETRY, uploadUrl } from './wire.js';
import { parsePartsPage, parseS3Error, parseUploadId } from './xml.js';

/** S3 error codes that mean "send it again" whatever the status: the bytes arrived damaged. */
const DIGEST_CODES = new Set(['BadDigest', 'InvalidDigest', 'XAmzContentChecksumMismatch']);

export class S3Parts implements PartsProtocol {
  readonly limits = S3_LIMITS;
  readonly leavePartsOnError: boolean;
  private readonly signer: S3Signer;
  /**
   * A part sent with only x-amz-checksum-crc32c came back without it echoed (Ceph RGW ignores
   * flexible checksums): the server checked nothing, so that part is sent again and every later
   * one goes with Content-MD5 too, which every S3 implementation verifies.
   */
  private md5Fallback = false;

  constructor(
    private readonly s3: ResolvedS3,
    private readonly checksum: ChecksumOption,
  ) {
    this.signer = new S3Signer(s3);
    this.leavePartsOnError = s3.leavePartsOnError;
  }

  get targetUrl(): string {
    return `${this.s3.target.origin}${this.s3.target.objectPath}`;
  }

  partChecksum(option: ChecksumOption): ChecksumOption {
    return this.md5Fallback && option === 'crc32c' ? 'both' : option;
  }

  sessionUrl(uploadId: string): string {
    return uploadUrl(this.s3.target, uploadId);
  }

  parseSessionUrl(url: string): string | undefined {
    const parsed = parseUploadUrl(url);
    if (!parsed || parsed.objectPath !== this.s3.target.objectPath || parsed.origin !== this.s3.target.origin) return undefined;
    return parsed.uploadId;
  }

  async create(call: PartsCall): Promise<string> {
    const usesCrc32c = this.checksum === 'crc32c' || this.checksum === 'both';
    const headers: Record<string, string> = usesCrc32c ? { 'x-amz-checksum-algorithm': 'CRC32C' } : {};
    const answer = await call.send('CreateMultipartUpload', () => this.signer.sign('POST', `${this.signer.objectPath}?uploads`, headers, { object: true }));
    const uploadId = parseUploadId(answer.body);
    if (uploadId === undefined) throw new ProtocolError(`CreateMultipartUpload answered ${answer.status} without an UploadId (${call.redactedUrl})`, call.context());
    return uploadId;
  }

  async putPart(call: PartsCall, uploadId: string, part: OutgoingPart): Promise<StoredPart> {
    const path = this.signer.uploadPath(uploadId, `partNumber=${part.partNumber}&`);
    const what = `part ${part.partNumber} (bytes ${part.start}-${part.start + part.length - 1})`;
    let sums: Digests = part.digests;
    const send = () => call.send(what, () => this.signer.sign('PUT', path, checksumHeaders(sums)), part.body);
    let answer = await send();
    if (unverifiedCrc(answer, sums)) {
      this.md5Fallback = true;
      sums = new StreamDigests('both').digestWith(part.body);
      answer = await send();
    }
    const etag = answer.headers['etag'];
    if (!etag) throw new ProtocolError(`${what} answered ${answer.status} without an ETag (${call.redactedUrl})`, call.context());
    const verified = checkEchoes(call, what, answer, sums) || sums.md5 !== undefined;
    const { partNumber, start, length } = part;
    return { partNumber, start, length, tag: etag, crc32c: sums.crc32c, verified, ...(sums.md5 === undefined ? {} : { md5Hex: base64ToHex(sums.md5) }) };
  }

  async listParts(call: PartsCall, uploadId: string): Promise<ReadonlyMap<number, ListedPart>> {
    const found = new Map<number, ListedPart>();
    let marker: number | undefined = 0;
    while (marker !== undefined) {
      const path = this.signer.uploadPath(uploadId) + (marker > 0 ? `&part-number-marker=${marker}` : '');
      const answer = await call.send('ListParts', () => this.signer.sign('GET', path));
      const page = parsePartsPage(answer.body);
      if (!page) throw new ProtocolError(`ListParts answered ${answer.status} without a ListPartsResult (${call.redactedUrl})`, call.context());
      for (const { partNumber, size, etag } of page.parts) found.set(partNumber, { partNumber, size, tag: etag, md5Hex: plainMd5(etag) });
      marker = page.nextMarker;
    }
    return found;
  }

  complete(call: PartsCall, uploadId: string, parts: readonly StoredPart[], whole: Digests): Promise<UploadResult> {
    return completeUpload(this.signer, call, uploadId, parts, whole);
  }

  async abort(call: PartsCall, uploadId: string): Promise<number> {
    const answer = await call.sendOnce('AbortMultipartUpload', () => this.signer.sign('DELETE', this.signer.uploadPath(uploadId), {}, { sseCustomer: false }));
    return answer.status;
  }

  putWhole(call: PartsCall, body: readonly Uint8Array[], whole: Digests): Promise<UploadResult> {
    return putObject(this.signer, call, body, whole);
  }

  confirmCompleted(call: PartsCall, written: WrittenObject, gone: ResumableUploadError): Promise<UploadResult> {
    return confirmObject(this.signer, call, written, gone);
  }

  answerError(what: string, answer: TransportAnswer, call: PartsCall): ResumableUploadError {
    const error = parseS3Error(answer.body);
    const code = error?.code ?? '';
    const detail = error ? `${code}: ${error.message}` : JSON.stringify(answer.body.slice(0, EXCERPT_CHARS));
    const message = `${what} to ${call.redactedUrl} answered ${answer.status} ${detail}`;
    if (answer.status === 404 && code !== 'NoSuchBucket') {
      return new SessionExpiredError(answer.status, `${message}: the multipart upload no longer exists (aborted, expired or completed); nothing was completed by this stream`, call.context());
    }
    if (DIGEST_CODES.has(code)) return new ChecksumMismatchError('md5', undefined, undefined, `${message}: the bytes S3 received do not match our digest`, call.context());
    return new HttpStatusError(answer.status, answer.body.slice(0, EXCERPT_CHARS), isRetryableStatus(answer.status, S3_RETRY, code), message, call.context());
  }
}

/** The registry's factory: S3 reads its own resolved options (`options.s3`). */
export function createS3Parts(options: ResolvedOptions): S3Parts {
  return new S3Parts(options.s3 as ResolvedS3, options.checksum);
}
