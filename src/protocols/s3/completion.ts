/**
 * How an S3 upload ends: CompleteMultipartUpload (its 200 can carry an `<Error>`, retried like a
 * 5xx), PutObject for a stream that fits in one part, and the checks of the object itself (HEAD)
 * when an answer was lost or says too little. Success is never assumed: the object must have
 * exactly the bytes written and, when we can tell, the ETag they make.
 */
import type { Digests } from '../../checksum.js';
import { ProtocolError, SessionExpiredError, type ResumableUploadError } from '../../errors.js';
import type { PartsCall, StoredPart, WrittenObject } from '../../parts/protocol.js';
import type { TransportAnswer } from '../../transport.js';
import type { UploadResult } from '../../upload-answers.js';
import { base64ToHex, checkEchoes, checksumHeaders, digestMismatch, expectedEtag, md5Base64, unquote } from './etag.js';
import type { S3Signer } from './signer.js';
import { completeBody, parseCompleteResult, parseS3Error, type S3ObjectResult } from './xml.js';

const md5HexOf = (digests: Digests) => (digests.md5 === undefined ? undefined : base64ToHex(digests.md5));

/** A 200 that is an `<Error>` (Complete): its description, to be retried like a 5xx. */
function errorIn2xx(answer: TransportAnswer): string | undefined {
  const error = parseS3Error(answer.body);
  return error === undefined ? undefined : `${error.code} ${error.message}`;
}

function objectBody(signer: S3Signer, etag: string | undefined, location?: string): S3ObjectResult {
  return { ...(location === undefined ? {} : { location }), bucket: signer.s3.bucket, key: signer.s3.key, etag };
}

/**
 * CompleteMultipartUpload with every part. If an earlier attempt completed the upload but its
 * answer was lost, the retry finds no upload (404): the object is then checked before success.
 */
export async function completeUpload(signer: S3Signer, call: PartsCall, uploadId: string, parts: readonly StoredPart[], whole: Digests): Promise<UploadResult> {
  const body = completeBody(parts.map(({ partNumber, tag, crc32c }) => ({ partNumber, etag: tag, crc32c })));
  const size = parts.reduce((sum, part) => sum + part.length, 0);
  const partMd5s = parts.map((part) => part.md5Hex);
  let attempts = 0;
  const build = () => {
    attempts++;
    return signer.sign('POST', signer.uploadPath(uploadId), { 'content-type': 'application/xml' });
  };
  let answer: TransportAnswer;
  try {
    answer = await call.send('CompleteMultipartUpload', build, [Buffer.from(body)], { errorIn2xx });
  } catch (error) {
    // Only a retry can find the upload gone because an earlier attempt completed it.
    if (!(error instanceof SessionExpiredError) || attempts < 2) throw error;
    answer = await checkObject(signer, call, error, { size, partMd5s, wholeMd5Hex: md5HexOf(whole), requireEtag: false });
  }
  const completed = parseCompleteResult(answer.body);
  // Ceph RGW answers `<ETag></ETag>`: the object itself then tells its ETag and size.
  const etag = completed?.etag || unquote(answer.headers['etag']) || (await headObject(signer, call, size));
  const expected = expectedEtag(etag, partMd5s, md5HexOf(whole));
  if (expected !== undefined && etag !== expected) throw digestMismatch(call, 'md5', expected, etag as string, 'the completed object (ETag)');
  const verified = parts.every((part) => part.verified) || expected !== undefined;
  return { status: answer.status, headers: answer.headers, body: objectBody(signer, etag, completed?.location), checksums: whole, verified };
}

/** A stream that fit in one part: one PutObject. */
export async function putObject(signer: S3Signer, call: PartsCall, body: readonly Uint8Array[], whole: Digests): Promise<UploadResult> {
  // PutObject can't be sent again once a server that ignores CRC32C stored it: Content-MD5 goes with it.
  const sums = whole.crc32c !== undefined && whole.md5 === undefined ? { ...whole, md5: md5Base64(body) } : whole;
  const answer = await call.send('PutObject', () => signer.sign('PUT', signer.objectPath, checksumHeaders(sums), { object: true }), body);
  const verified = checkEchoes(call, 'PutObject', answer, sums) || sums.md5 !== undefined;
  return { status: answer.status, headers: answer.headers, body: objectBody(signer, unquote(answer.headers['etag'])), checksums: whole, verified };
}

/**
 * Resumed from the start, the upload was gone and the input has ended: success only if the
 * object is exactly what was written again — its size, and its ETag against the MD5s of the
 * parts the input makes (or of the whole input). Anything else is the error the resume met.
 */
export async function confirmObject(signer: S3Signer, call: PartsCall, written: WrittenObject, gone: ResumableUploadError): Promise<UploadResult> {
  const answer = await checkObject(signer, call, gone, { size: written.size, partMd5s: written.partMd5Hex, wholeMd5Hex: written.md5Hex, requireEtag: true });
  return { status: answer.status, headers: answer.headers, body: objectBody(signer, unquote(answer.headers['etag'])), checksums: written.digests, verified: true };
}

interface ObjectCheck {
  readonly size: number;
  readonly partMd5s: ReadonlyArray<string | undefined>;
  readonly wholeMd5Hex: string | undefined;
  /** Whether an ETag that can't be checked fails the check. */
  readonly requireEtag: boolean;
}

/** HEAD of the object: it must hold `size` bytes and (when it can be told) the ETag they make; otherwise `gone`. */
async function checkObject(signer: S3Signer, call: PartsCall, gone: ResumableUploadError, check: ObjectCheck): Promise<TransportAnswer> {
  const answer = await call.send('checking the completed object', () => signer.sign('HEAD', signer.objectPath)).catch(() => {
    throw gone;
  });
  const etag = unquote(answer.headers['etag']);
  const expected = expectedEtag(etag, check.partMd5s, check.wholeMd5Hex);
  if (Number(answer.headers['content-length']) !== check.size || (expected === undefined ? check.requireEtag : etag !== expected)) throw gone;
  return answer;
}

/** HEAD of the completed object: its ETag; a size other than the bytes written is RWS_PROTOCOL. */
async function headObject(signer: S3Signer, call: PartsCall, size: number): Promise<string | undefined> {
  const answer = await call.send('HEAD of the completed object', () => signer.sign('HEAD', signer.objectPath));
  if (Number(answer.headers['content-length']) !== size) {
    throw new ProtocolError(`the completed object holds ${answer.headers['content-length'] ?? 'an unknown number of'} bytes but ${size} were written (${call.redactedUrl})`, call.context());
  }
  return unquote(answer.headers['etag']);
}
