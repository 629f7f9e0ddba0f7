/**
 * The seam between the generic parts driver (parts/driver.ts) and one multipart wire protocol
 * (S3, GCS XML multipart, Azure Block Blobs). The driver decides *what* happens: how the stream
 * is cut into parts (parts/plan.ts), how many go at once, retries, the committed prefix, hashing,
 * release, checkpoints, when to complete and when to abort. An adapter decides only *how it
 * looks on the wire*: each operation's request and what its answer means, and how the finished
 * object is checked against the bytes written.
 *
 * An adapter never loops, sleeps or retries: it builds requests and hands them to the driver's
 * {@link PartsCall}, which applies the retry policy, the deadlines, the abort signal and the
 * redaction. So a new parts protocol is one folder under protocols/ implementing this interface
 * plus one line in the registry (protocols/index.ts).
 */
import type { ChecksumOption, Digests } from '../checksum.js';
import type { ErrorContext, ResumableUploadError } from '../errors.js';
import type { TransportAnswer, TransportRequest } from '../transport.js';
import type { UploadResult } from '../upload-answers.js';

/** A complete request but for its body and signal: URL, method, and every header (signed, authorized). */
export interface PartsRequest {
  readonly method: TransportRequest['method'];
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface SendOptions {
  /**
   * A 2xx answer that still reports a failure (S3's Complete can answer 200 with an `<Error>`):
   * the error's description, to be retried like a 5xx; undefined when the answer is a success.
   */
  readonly errorIn2xx?: (answer: TransportAnswer) => string | undefined;
}

/** What the driver lends an adapter for every operation. */
export interface PartsCall {
  /**
   * Sends the request `build()` makes — called anew for every attempt, so signatures and tokens
   * are fresh — with the retry policy; resolves with a 2xx answer, rejects with a typed error
   * (non-2xx answers go through {@link PartsProtocol.answerError}).
   */
  send(what: string, build: () => Promise<PartsRequest>, body?: readonly Uint8Array[], options?: SendOptions): Promise<TransportAnswer>;
  /** One attempt within a deadline, whatever the status (cleaning up: abort, delete). */
  sendOnce(what: string, build: () => Promise<PartsRequest>): Promise<TransportAnswer>;
  /** The upload's URL with every credential redacted, for messages. */
  readonly redactedUrl: string;
  context(): ErrorContext;
}

/** A part the driver hands the adapter: its bytes and the digests the `checksum` option asks for. */
export interface OutgoingPart {
  /** From 1. */
  readonly partNumber: number;
  /** Stream offset of its first byte. */
  readonly start: number;
  readonly length: number;
  /** The part's bytes, by reference (never copied). */
  readonly body: readonly Uint8Array[];
  /** The part's own digests, per {@link PartsProtocol.partChecksum}. */
  readonly digests: Digests;
}

/** What the driver keeps of a stored part until the upload is completed. */
export interface StoredPart {
  readonly partNumber: number;
  readonly start: number;
  readonly length: number;
  /** What completion names the part by (S3 and GCS: its ETag; Azure: its block id). */
  readonly tag: string;
  /** Hex MD5 of the part's bytes when known (ETag arithmetic). */
  readonly md5Hex?: string;
  /** Base64 CRC32C of the part's bytes when known (S3's Complete lists them). */
  readonly crc32c?: string;
  /** Whether the server checked a digest of this part's bytes. */
  readonly verified: boolean;
}

/** A part a crashed process left on the server, as listing tells it. */
export interface ListedPart {
  readonly partNumber: number;
  readonly size: number;
  readonly tag: string;
  /** Hex MD5 of its bytes when the listing tells it (a plain-MD5 ETag); otherwise it is sent again. */
  readonly md5Hex?: string;
}

/** The stream as written, for checking an object found already complete on resume. */
export interface WrittenObject {
  readonly size: number;
  /** The whole stream's digests (per the `checksum` option). */
  readonly digests: Digests;
  /** Hex MD5 of every part the stream makes, in order (per the part-size schedule). */
  readonly partMd5Hex: readonly string[];
  /** Hex MD5 of the whole stream. */
  readonly md5Hex: string;
}

/** The protocol's limits, from its own documentation: the part plan is cut within them. */
export interface PartLimits {
  readonly minPartSize: number;
  readonly maxPartSize: number;
  readonly maxParts: number;
  /** Largest object; the part-size schedule grows so that `maxParts` parts reach it. */
  readonly maxObjectSize: number;
}

export interface PartsProtocol {
  readonly limits: PartLimits;
  /**
   * Whether a failed stream leaves its parts on the server for a resume instead of aborting the
   * upload (S3: `s3.leavePartsOnError`); when absent, whether the stream can resume at all (a
   * checkpoint store or `resume` is given).
   */
  readonly leavePartsOnError?: boolean;
  /** The object's URL, credentials included: redacted by the driver before any message. */
  readonly targetUrl: string;
  /** The digests each part is sent with, given the `checksum` option (S3 may add MD5 once the server ignored CRC32C). */
  partChecksum(option: ChecksumOption): ChecksumOption;
  /** A checkpoint's URL for upload `uploadId` (credentials included; the checkpoint file is private). */
  sessionUrl(uploadId: string): string;
  /** The upload id in a checkpoint's URL; undefined when the URL is for another object. */
  parseSessionUrl(url: string): string | undefined;
  /** Starts a multipart upload; its id (Azure: made up locally, no request). */
  create(call: PartsCall): Promise<string>;
  /**
   * Stores one part (retried by the driver's `call`); throws ChecksumMismatchError when the server
   * refused its digest or echoed another one. The driver then sends the part again, a bounded number
   * of times (parts/call.ts): storing a part number again must replace what was stored under it.
   */
  putPart(call: PartsCall, uploadId: string, part: OutgoingPart): Promise<StoredPart>;
  /** Every part already stored for `uploadId`, every page; SessionExpiredError when the upload is gone. */
  listParts(call: PartsCall, uploadId: string): Promise<ReadonlyMap<number, ListedPart>>;
  /**
   * Completes the upload from `parts` (in order, every one stored) and checks the object against
   * `whole`, the stream's digests: a mismatch is a ChecksumMismatchError. A lost answer (the
   * upload gone on a retry) is resolved by checking the object, never by assuming success.
   */
  complete(call: PartsCall, uploadId: string, parts: readonly StoredPart[], whole: Digests): Promise<UploadResult>;
  /** Cancels the upload on the server; the status answered. */
  abort(call: PartsCall, uploadId: string): Promise<number>;
  /** A stream that fits in one part: one request with every byte and the stream's digests. */
  putWhole(call: PartsCall, body: readonly Uint8Array[], whole: Digests): Promise<UploadResult>;
  /**
   * Resumed from the start, the upload was gone (`gone`): the crashed process may have completed
   * it. Resolves when the object is exactly `written`; otherwise rejects with `gone`.
   */
  confirmCompleted(call: PartsCall, written: WrittenObject, gone: ResumableUploadError): Promise<UploadResult>;
  /** The typed error for a non-2xx answer to `what`: SessionExpiredError when the upload is gone, retryable or not per retry.ts. */
  answerError(what: string, answer: TransportAnswer, call: PartsCall): ResumableUploadError;
}
