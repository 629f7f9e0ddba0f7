/**
 * A loopback S3 server for tests, strict where clients go wrong, after the S3 API reference:
 * SigV4 verified (an implementation of its own, independent of the client's signing library),
 * CreateMultipartUpload, UploadPart (Content-MD5 and x-amz-checksum-crc32c verified, BadDigest),
 * ListParts (paginated), CompleteMultipartUpload (ascending parts, every ETag, 5 MiB minimum but
 * for the last part: InvalidPartOrder, InvalidPart, EntityTooSmall), AbortMultipartUpload,
 * PutObject and GetObject (with Range). In memory, or also on disk (`directory`); listens on
 * 127.0.0.1 only.
 *
 * Keys: the server knows several key pairs (`keys`, `addKey`), each optionally with a session
 * token it must come with and a time it stops working, as STS credentials do: a request signed
 * with an unknown key is 403 InvalidAccessKeyId, with an expired one 400 ExpiredToken, with a
 * wrong or missing token 403 InvalidToken, and one whose `x-amz-date` is 15 minutes off the
 * server's clock 403 RequestTimeTooSkewed. Each log entry names the key that signed it.
 *
 * Headers: every `x-amz-*` header must be signed (else 403, as S3); the object headers given at
 * CreateMultipartUpload or PutObject are kept with the object and given back by HEAD and GET; an
 * upload created with SSE-C refuses a part, a ListParts or (with a checksum algorithm) a Complete
 * without the same key, and an SSE-C object is not read without it.
 *
 * Put it behind `startFaultProxy` for faults on real sockets; `completeErrorOnce` makes the next
 * Complete answer 200 with an `<Error>` body without completing (a documented S3 behaviour). Three
 * switches behave as Ceph RGW 16 does: `ignoreChecksums`, `emptyCompleteEtag`, `uploadGoneCode`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { optionalInteger } from '../options/expect.js';
import { DiskStore } from './disk-store.js';
import { readAll, RequestLog, startLoopbackServer } from './http-harness.js';
import { OPERATIONS, type S3State } from './s3-server/operations.js';
import { S3Persistence } from './s3-server/persistence.js';
import { checkSseCustomerKey, flatHeaders } from './s3-server/rules.js';
import { verifySignature } from './s3-server/sigv4.js';
import { escape, S3Failure, sendXml } from './s3-server/wire.js';

/** A key pair the server accepts: with `sessionToken` only together with it, with `expiresAt` (ms since the epoch) only before then. */
export interface S3TestKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiresAt?: number;
}

export interface S3TestServerOptions {
  /** @default { accessKeyId: 'test-key', secretAccessKey: 'test-secret' } */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
  /** More key pairs the server accepts besides `credentials`. */
  readonly keys?: readonly S3TestKey[];
  /** @default 'us-east-1' */
  readonly region?: string;
  /** The smallest part but the last, checked at Complete. @default 5 MiB, as S3 */
  readonly minPartSize?: number;
  /** Parts per ListParts page (S3: 1000). @default 1000 */
  readonly partsPerPage?: number;
  /** Keep the bytes (to read objects back); false keeps only sizes and digests, for benchmarks. @default true */
  readonly storeObjects?: boolean;
  /**
   * Check Content-MD5, x-amz-checksum-crc32c and a signed payload's SHA-256. Benchmarks turn it
   * off so that the server's CPU (shared with the client on loopback) does the same work for
   * every client: only the ETag's MD5. @default true
   */
  readonly verifyDigests?: boolean;
  /**
   * As Ceph RGW 16: accept and ignore `x-amz-checksum-algorithm`, `x-amz-checksum-crc32c` and
   * `<ChecksumCRC32C>`, echo no checksum (Content-MD5 is still verified). @default false
   */
  readonly ignoreChecksums?: boolean;
  /** As Ceph RGW 16: Complete answers `<ETag></ETag>` (and no ETag header). @default false */
  readonly emptyCompleteEtag?: boolean;
  /** The error code for an upload that is gone: S3 says NoSuchUpload, Ceph RGW's ListParts NoSuchKey. @default 'NoSuchUpload' */
  readonly uploadGoneCode?: 'NoSuchUpload' | 'NoSuchKey';
  /** @default 0 (any free port) */
  readonly port?: number;
  /**
   * Keep multipart uploads, their parts and objects in this folder (created if missing), written
   * before each answer: a server started again with the same `directory` and `port` lists the
   * same parts and completes the same uploads, as S3 does across its restarts. The request log is
   * not kept. Needs the bytes (`storeObjects` not false). A file it can't read back makes
   * `createS3TestServer` reject with a `DamagedDirectoryError` naming it. @default undefined (in memory only)
   */
  readonly directory?: string;
}

export interface S3LogEntry {
  readonly method: string;
  /** 'create' | 'part' | 'list' | 'complete' | 'abort' | 'put' | 'get' | 'head' */
  readonly operation: string;
  readonly partNumber: number | undefined;
  readonly bytes: number;
  status: number;
  /** The request's headers but `authorization`, names lower-cased. */
  readonly headers: Readonly<Record<string, string>>;
  /** The headers its SigV4 signature covers (the Authorization header's SignedHeaders). */
  readonly signedHeaders: readonly string[];
  /** The access key id the request was signed with (known or not). */
  readonly accessKeyId: string | undefined;
}

export interface S3TestServer {
  /** `http://127.0.0.1:PORT`: give it as `s3.endpoint`. */
  readonly endpoint: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  readonly region: string;
  readonly requests: S3LogEntry[];
  /** Accept one more key pair from now on (e.g. one a fake metadata server just issued). */
  addKey(key: S3TestKey): void;
  /** The stored object's bytes, or undefined. */
  object(bucket: string, key: string): Buffer | undefined;
  /** The object headers (x-amz-meta-*, SSE, storage class, Content-Type…) the object was created with, or undefined. */
  objectHeaders(bucket: string, key: string): Record<string, string> | undefined;
  /** Upload ids not completed or aborted, with how many parts each holds. */
  openUploads(): Array<{ uploadId: string; key: string; parts: number }>;
  /** The next Complete answers 200 with an `<Error>` body and completes nothing. */
  completeErrorOnce(): void;
  close(): Promise<void>;
}

/** The server's state from its options: empty, or what its `directory` holds. */
function openState(options: S3TestServerOptions): S3State {
  const persistence = options.directory === undefined ? undefined : new S3Persistence(DiskStore.open('directory', options.directory));
  if (persistence && options.storeObjects === false) throw new TypeError('`directory` keeps the bytes on disk: it cannot be combined with `storeObjects: false`');
  const held = persistence?.load();
  return {
    minPartSize: options.minPartSize ?? 5 * 1024 * 1024,
    partsPerPage: options.partsPerPage ?? 1000,
    verifyDigests: options.verifyDigests !== false,
    ignoreChecksums: options.ignoreChecksums === true,
    emptyCompleteEtag: options.emptyCompleteEtag === true,
    goneCode: options.uploadGoneCode ?? 'NoSuchUpload',
    objects: held?.objects ?? new Map(),
    uploads: held?.uploads ?? new Map(),
    failNextComplete: false,
    journal: persistence,
    keep: (data) => (options.storeObjects === false ? Buffer.alloc(0) : data),
  };
}

export async function createS3TestServer(options: S3TestServerOptions = {}): Promise<S3TestServer> {
  const credentials = options.credentials ?? { accessKeyId: 'test-key', secretAccessKey: 'test-secret' };
  const region = options.region ?? 'us-east-1';
  const keys = new Map<string, S3TestKey>([credentials, ...(options.keys ?? [])].map((key) => [key.accessKeyId, key]));
  const port = optionalInteger('port', options.port, 0);
  const state = openState(options);
  const log = new RequestLog<S3LogEntry>();

  const handle = async (req: IncomingMessage, res: ServerResponse, entry: S3LogEntry) => {
    const body = await readAll(req);
    (entry as { bytes: number }).bytes = body.length;
    verifySignature(req, state.verifyDigests ? body : undefined, keys, region);
    checkSseCustomerKey(req);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const operation = OPERATIONS.find((candidate) => candidate.matches(method, url.searchParams));
    if (!operation) throw new S3Failure(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
    set(entry, operation.name, operation.name === 'part' ? Number(url.searchParams.get('partNumber')) : undefined);
    operation.serve(state, { req, res, body, objectKey: decodeURIComponent(url.pathname.slice(1)), query: url.searchParams });
  };

  const server = await startLoopbackServer((req, res) => {
    const { authorization, ...sent } = flatHeaders(req);
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization ?? '')?.[1]?.split(';') ?? [];
    const accessKeyId = /Credential=([^/]+)\//.exec(authorization ?? '')?.[1];
    const entry: S3LogEntry = { method: req.method ?? 'GET', operation: 'unknown', partNumber: undefined, bytes: 0, status: 0, headers: sent, signedHeaders, accessKeyId };
    // Named before the body is read, so a request cut mid-body is logged for what it was.
    const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
    if (req.method === 'PUT' && query.has('partNumber')) set(entry, 'part', Number(query.get('partNumber')));
    log.add(entry);
    handle(req, res, entry)
      .then(() => {
        entry.status = res.statusCode;
      })
      .catch((error: unknown) => {
        const failure = error instanceof S3Failure ? error : new S3Failure(500, 'InternalError', String(error));
        entry.status = failure.status;
        if (!res.headersSent) sendXml(res, failure.status, `<Error><Code>${failure.code}</Code><Message>${escape(failure.message)}</Message></Error>`);
      });
  }, { port });

  return {
    endpoint: server.url,
    credentials,
    region,
    requests: log.entries,
    addKey: (key) => void keys.set(key.accessKeyId, key),
    object: (bucket, key) => state.objects.get(`${bucket}/${key}`)?.data,
    objectHeaders: (bucket, key) => state.objects.get(`${bucket}/${key}`)?.headers,
    openUploads: () => [...state.uploads].map(([uploadId, upload]) => ({ uploadId, key: upload.objectKey, parts: upload.parts.size })),
    completeErrorOnce() {
      state.failNextComplete = true;
    },
    close: () => server.close(),
  };
}

function set(entry: S3LogEntry, operation: string, partNumber?: number): void {
  (entry as { operation: string }).operation = operation;
  (entry as { partNumber: number | undefined }).partNumber = partNumber;
}

