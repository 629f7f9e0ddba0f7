/**
 * Azure Block Blobs behind the parts seam: a part is a block (Put Block, in parallel), completion
 * is Put Block List, listing is Get Block List, and a stream that fits in one block is one Put
 * Blob. An upload is only a random prefix that every block id of the stream carries: no request
 * creates it, and none can delete it — Azure offers no call that drops staged blocks without
 * touching the blob, so they stay until the next commit to that blob discards them or Azure
 * expires them (7 days). `abort` therefore sends nothing.
 *
 * Integrity: each block carries `Content-MD5`, which Azure checks before storing it (the
 * `checksum` option's CRC32C has no Azure counterpart: any checksum but `false` means MD5 here).
 * The commit stores the stream's MD5 as the blob's Content-MD5 when the stream computed one, and a
 * HEAD after it checks the size (and that MD5).
 */
import { createHash } from 'node:crypto';
import type { ChecksumOption, Digests } from '../../checksum.js';
import { ChecksumMismatchError, HttpStatusError, ProtocolError, SessionExpiredError, type ResumableUploadError } from '../../errors.js';
import type { ListedPart, OutgoingPart, PartsCall, PartsProtocol, PartsRequest, StoredPart, WrittenObject } from '../../parts/protocol.js';
import { isRetryableStatus } from '../../retry.js';
import type { TransportAnswer } from '../../transport.js';
import { EXCERPT_CHARS, type UploadResult } from '../../upload-answers.js';
import { authorize } from './auth.js';
import type { ResolvedAzure } from './options.js';
import { AZURE_LIMITS, blockId, blockListBody, isUploadId, newUploadId, parseAzureError, parseBlockId, parseBlockLists, UPLOAD_PARAM, withQuery } from './wire.js';

/**
 * Error codes that mean the bytes Azure received are not the ones whose digest was sent (InvalidMd5:
 * the Content-MD5 we computed arrived unreadable). The parts driver sends such a block again.
 */
const DIGEST_CODES = new Set(['Md5Mismatch', 'Crc64Mismatch', 'InvalidMd5']);
/** Azurite answers a wrong block MD5 with InvalidOperation and this message, not Azure's Md5Mismatch. */
const AZURITE_MD5_MISMATCH = /contentMD5 doesn't match/i;
/**
 * Put Block List names a block Azure no longer has: it expired (7 days after it was staged), or a
 * commit to the same blob by someone else discarded it. The upload is gone.
 */
const GONE_CODES = new Set(['InvalidBlockList', 'BlobNotFound']);

/** `result.body` of an Azure upload. */
export interface AzureBlobResult {
  readonly container: string;
  readonly blob: string;
  /** Without quotes. */
  readonly etag: string | undefined;
}

export function createAzureProtocol(azure: ResolvedAzure): PartsProtocol {
  return new AzureBlockBlobs(azure);
}

class AzureBlockBlobs implements PartsProtocol {
  readonly limits = AZURE_LIMITS;
  readonly targetUrl: string;

  constructor(private readonly azure: ResolvedAzure) {
    this.targetUrl = azure.target.url;
  }

  partChecksum(option: ChecksumOption): ChecksumOption {
    // Content-MD5 is what Azure checks; the CRC32C, when the stream keeps one, is the block's own
    // for the stream's digest: combined, not hashed again, and a block stored ahead can be forgotten.
    if (option === false) return false;
    return option === 'md5' ? 'md5' : 'both';
  }

  sessionUrl(uploadId: string): string {
    return withQuery(this.targetUrl, { [UPLOAD_PARAM]: uploadId });
  }

  /** The upload id of a checkpoint for this blob; its SAS may differ (a fresh one for the resume). */
  parseSessionUrl(url: string): string | undefined {
    const parsed = new URL(url);
    const target = new URL(this.targetUrl);
    const uploadId = parsed.searchParams.get(UPLOAD_PARAM) ?? '';
    return parsed.origin === target.origin && parsed.pathname === target.pathname && isUploadId(uploadId) ? uploadId : undefined;
  }

  async create(): Promise<string> {
    return newUploadId();
  }

  async putPart(call: PartsCall, uploadId: string, part: OutgoingPart): Promise<StoredPart> {
    const id = blockId(uploadId, part.partNumber, part.digests.md5);
    const headers = { ...this.azure.headers.everyRequest, ...(part.digests.md5 === undefined ? {} : { 'content-md5': part.digests.md5 }) };
    const url = withQuery(this.targetUrl, { comp: 'block', blockid: id });
    const answer = await call.send(`Put Block ${part.partNumber}`, () => this.build('PUT', url, headers, part.length), part.body);
    this.checkEcho(call, `Put Block ${part.partNumber}`, answer, part.digests.md5);
    const md5Hex = part.digests.md5 === undefined ? undefined : base64ToHex(part.digests.md5);
    return { partNumber: part.partNumber, start: part.start, length: part.length, tag: id, ...(md5Hex === undefined ? {} : { md5Hex }), verified: md5Hex !== undefined };
  }

  /**
   * The blocks of `uploadId` staged and not committed (Get Block List, which is never paged), each
   * with the MD5 its id carries. Other uploads' blocks are ignored; a blob without any block is an
   * upload that staged none yet.
   * This upload's blocks among the committed ones mean it was completed: the upload is gone.
   */
  async listParts(call: PartsCall, uploadId: string): Promise<ReadonlyMap<number, ListedPart>> {
    const url = withQuery(this.targetUrl, { comp: 'blocklist', blocklisttype: 'all' });
    let answer: TransportAnswer;
    try {
      answer = await call.send('Get Block List', () => this.build('GET', url, this.azure.headers.everyRequest));
    } catch (error) {
      if (error instanceof SessionExpiredError && error.status === 404) return new Map();
      throw error;
    }
    const lists = answer.bodyTruncated ? undefined : parseBlockLists(answer.body);
    if (!lists) throw new ProtocolError(`Get Block List answered ${answer.status} without a readable <BlockList>${answer.bodyTruncated ? ' (too long to read)' : ''} (${call.redactedUrl})`, call.context());
    if (lists.committed.some((block) => parseBlockId(block.name, uploadId) !== undefined)) {
      throw new SessionExpiredError(404, `the upload's blocks are already committed to ${call.redactedUrl}: it was completed`, call.context());
    }
    const found = new Map<number, ListedPart>();
    for (const block of lists.uncommitted) {
      const parsed = parseBlockId(block.name, uploadId);
      if (parsed === undefined) continue;
      const { partNumber, md5Hex } = parsed;
      found.set(partNumber, { partNumber, size: block.size, tag: block.name, ...(md5Hex === undefined ? {} : { md5Hex }) });
    }
    return found;
  }

  /**
   * Put Block List of `parts`, each as `<Latest>`: a retry after a lost answer finds the blocks
   * committed and commits them again, so it succeeds rather than finding them gone. The HEAD after
   * it checks the blob's size, and its Content-MD5 when the stream's MD5 was stored.
   */
  async complete(call: PartsCall, _uploadId: string, parts: readonly StoredPart[], whole: Digests): Promise<UploadResult> {
    const body = Buffer.from(blockListBody(parts.map((part) => part.tag)));
    const headers = { ...this.azure.headers.everyRequest, ...this.azure.headers.commit, 'content-type': 'application/xml', ...(whole.md5 === undefined ? {} : { 'x-ms-blob-content-md5': whole.md5 }) };
    const size = parts.reduce((sum, part) => sum + part.length, 0);
    const url = withQuery(this.targetUrl, { comp: 'blocklist' });
    const answer = await call.send('Put Block List', () => this.build('PUT', url, headers, body.byteLength), [body]);
    const mismatch = this.objectMismatch(call, await this.headBlob(call), size, whole.md5);
    if (mismatch) throw mismatch;
    return this.result(answer, whole, parts.every((part) => part.verified));
  }

  async abort(): Promise<number> {
    // Nothing deletes staged blocks alone (Delete Blob would delete a committed blob of that name).
    return 204;
  }

  /** Put Blob: replaces the blob whole, with the stream's MD5 (computed here if the stream computed none), which Azure checks and stores. */
  async putWhole(call: PartsCall, body: readonly Uint8Array[], whole: Digests): Promise<UploadResult> {
    const checked = whole.md5 !== undefined || whole.crc32c !== undefined;
    const md5 = whole.md5 ?? (checked ? md5Base64(body) : undefined);
    const headers = { ...this.azure.headers.everyRequest, ...this.azure.headers.commit, 'x-ms-blob-type': 'BlockBlob', ...(md5 === undefined ? {} : { 'content-md5': md5 }) };
    const length = body.reduce((sum, piece) => sum + piece.byteLength, 0);
    const answer = await call.send('Put Blob', () => this.build('PUT', this.targetUrl, headers, length), body);
    this.checkEcho(call, 'Put Blob', answer, md5);
    return this.result(answer, whole, md5 !== undefined);
  }

  /** The blob exists with the size and the Content-MD5 of `written`; without a stored MD5 nothing proves its bytes, so it is `gone`. */
  async confirmCompleted(call: PartsCall, written: WrittenObject, gone: ResumableUploadError): Promise<UploadResult> {
    const head = await this.headBlob(call).catch(() => {
      throw gone;
    });
    const md5 = Buffer.from(written.md5Hex, 'hex').toString('base64');
    if (head.headers['content-md5'] === undefined || this.objectMismatch(call, head, written.size, md5) !== undefined) throw gone;
    return this.result(head, written.digests, true);
  }

  answerError(what: string, answer: TransportAnswer, call: PartsCall): ResumableUploadError {
    const error = parseAzureError(answer.headers, answer.body);
    const code = error?.code ?? '';
    const detail = error ? `${code}: ${error.message}` : JSON.stringify(answer.body.slice(0, EXCERPT_CHARS));
    const message = `${what} to ${call.redactedUrl} answered ${answer.status} ${detail}`;
    if (GONE_CODES.has(code)) return new SessionExpiredError(answer.status, `${message}: the blocks of this upload are gone (expired, or discarded by another commit to the blob); nothing was committed by this stream`, call.context());
    if (DIGEST_CODES.has(code) || (code === 'InvalidOperation' && AZURITE_MD5_MISMATCH.test(error?.message ?? ''))) {
      return new ChecksumMismatchError('md5', undefined, undefined, `${message}: the bytes Azure received do not match our digest`, call.context());
    }
    return new HttpStatusError(answer.status, answer.body.slice(0, EXCERPT_CHARS), isRetryableStatus(answer.status), message, call.context());
  }

  /** A request signed (or given its token) for this attempt. */
  private async build(method: PartsRequest['method'], url: string, headers: Readonly<Record<string, string>>, contentLength = 0): Promise<PartsRequest> {
    return { method, url, headers: await authorize(this.azure.auth, { method, url, headers, contentLength }) };
  }

  private headBlob(call: PartsCall): Promise<TransportAnswer> {
    return call.send('HEAD of the committed blob', () => this.build('HEAD', this.targetUrl, this.azure.headers.everyRequest));
  }

  /** What is wrong with the blob HEAD describes, if anything: its size, or its Content-MD5 against `md5`. */
  private objectMismatch(call: PartsCall, head: TransportAnswer, size: number, md5: string | undefined): ResumableUploadError | undefined {
    const stored = head.headers['content-md5'];
    if (Number(head.headers['content-length']) !== size) {
      return new ProtocolError(`the committed blob holds ${head.headers['content-length'] ?? 'an unknown number of'} bytes but ${size} were written (${call.redactedUrl})`, call.context());
    }
    if (md5 === undefined || stored === md5) return undefined;
    return new ChecksumMismatchError('md5', md5, stored, `the committed blob's Content-MD5 is ${stored ?? 'missing'}, the bytes written have ${md5} (${call.redactedUrl})`, call.context());
  }

  /** An echoed Content-MD5 (Azure echoes the one it checked) must be ours. */
  private checkEcho(call: PartsCall, what: string, answer: TransportAnswer, md5: string | undefined): void {
    const echoed = answer.headers['content-md5'];
    if (md5 === undefined || echoed === undefined || echoed === md5) return;
    throw new ChecksumMismatchError('md5', md5, echoed, `${what}: Azure reports MD5 ${echoed}, the bytes sent have ${md5} (${call.redactedUrl}); nothing was committed`, call.context());
  }

  private result(answer: TransportAnswer, whole: Digests, verified: boolean): UploadResult {
    const body: AzureBlobResult = { container: this.azure.target.container, blob: this.azure.target.blob, etag: answer.headers['etag']?.replace(/"/g, '') || undefined };
    return { status: answer.status, headers: answer.headers, body, checksums: whole, verified };
  }
}

const base64ToHex = (base64: string) => Buffer.from(base64, 'base64').toString('hex');

function md5Base64(pieces: readonly Uint8Array[]): string {
  const hash = createHash('md5');
  for (const piece of pieces) hash.update(piece);
  return hash.digest('base64');
}
