/**
 * A loopback S3 server for tests, strict where clients go wrong, after the S3 API reference:
 * SigV4 verified (an implementation of its own, independent of the client's signing library),
 * CreateMultipartUpload, UploadPart (Content-MD5 and x-amz-checksum-crc32c verified, BadDigest),
 * ListParts (paginated), CompleteMultipartUpload (ascending parts, every ETag, 5 MiB minimum but
 * for the last part: InvalidPartOrder, InvalidPart, EntityTooSmall), AbortMultipartUpload,
 * PutObject and GetObject (with Range). In memory; listens on 127.0.0.1 only.
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
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { crc32cUpdate as crc32c } from '../crc32c.js';
import { XMLParser } from 'fast-xml-parser';
import { crcToBase64 } from '../checksum.js';
import { listenOnLoopback } from './loopback.js';

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

interface StoredPart {
  readonly data: Buffer;
  readonly size: number;
  readonly etag: string;
  readonly crc32c: string;
}

interface OpenUpload {
  readonly objectKey: string;
  readonly checksumAlgorithm: string | undefined;
  readonly parts: Map<number, StoredPart>;
  /** The object headers given at CreateMultipartUpload, the object's once completed. */
  readonly headers: Record<string, string>;
}

interface StoredObject {
  readonly data: Buffer;
  readonly etag: string;
  readonly headers: Record<string, string>;
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

const xml = new XMLParser({ parseTagValue: false, ignoreDeclaration: true });
const md5Hex = (data: Buffer) => createHash('md5').update(data).digest('hex');

class S3Failure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function createS3TestServer(options: S3TestServerOptions = {}): Promise<S3TestServer> {
  const credentials = options.credentials ?? { accessKeyId: 'test-key', secretAccessKey: 'test-secret' };
  const region = options.region ?? 'us-east-1';
  const keys = new Map<string, S3TestKey>([credentials, ...(options.keys ?? [])].map((key) => [key.accessKeyId, key]));
  const minPartSize = options.minPartSize ?? 5 * 1024 * 1024;
  const partsPerPage = options.partsPerPage ?? 1000;
  const keep = (data: Buffer) => (options.storeObjects === false ? Buffer.alloc(0) : data);
  const objects = new Map<string, StoredObject>();
  const ignoreChecksums = options.ignoreChecksums === true;
  const goneCode = options.uploadGoneCode ?? 'NoSuchUpload';
  const uploads = new Map<string, OpenUpload>();
  const requests: S3LogEntry[] = [];
  let failNextComplete = false;

  const handle = async (req: IncomingMessage, res: ServerResponse, entry: S3LogEntry) => {
    const body = await readBody(req);
    (entry as { bytes: number }).bytes = body.length;
    verifySignature(req, options.verifyDigests === false ? undefined : body, keys, region);
    checkSseCustomerKey(req);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const objectKey = decodeURIComponent(url.pathname.slice(1));
    const query = url.searchParams;
    const uploadId = query.get('uploadId');
    const upload = uploadId === null ? undefined : uploads.get(uploadId);
    const needUpload = () => {
      if (!upload) throw new S3Failure(404, goneCode, goneCode === 'NoSuchKey' ? 'The specified key does not exist.' : 'The specified upload does not exist.');
      return upload;
    };
    if (req.method === 'POST' && query.has('uploads')) {
      set(entry, 'create');
      const id = randomBytes(12).toString('hex');
      const checksumAlgorithm = ignoreChecksums ? undefined : header(req, 'x-amz-checksum-algorithm');
      uploads.set(id, { objectKey, checksumAlgorithm, parts: new Map(), headers: objectHeadersOf(req) });
      return sendXml(res, 200, `<InitiateMultipartUploadResult><Key>${escape(objectKey)}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`);
    }
    if (req.method === 'PUT' && uploadId !== null) {
      const partNumber = Number(query.get('partNumber'));
      set(entry, 'part', partNumber);
      const open = needUpload();
      if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000) throw new S3Failure(400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.');
      requireSameSseKey(req, open.headers);
      const digests = checkDigests(req, body, open.checksumAlgorithm, options.verifyDigests !== false, ignoreChecksums);
      open.parts.set(partNumber, { data: keep(body), size: body.length, etag: `"${md5Hex(body)}"`, crc32c: digests.crc32c });
      res.writeHead(200, { etag: `"${md5Hex(body)}"`, ...(digests.echo ? { 'x-amz-checksum-crc32c': digests.crc32c } : {}) }).end();
      return;
    }
    if (req.method === 'GET' && uploadId !== null) {
      set(entry, 'list');
      const open = needUpload();
      if (open.checksumAlgorithm !== undefined) requireSameSseKey(req, open.headers);
      const marker = Number(query.get('part-number-marker') ?? 0);
      const numbers = [...open.parts.keys()].sort((a, b) => a - b).filter((n) => n > marker);
      const page = numbers.slice(0, Math.min(partsPerPage, Number(query.get('max-parts') ?? partsPerPage)));
      const truncated = page.length < numbers.length;
      const items = page.map((n) => {
        const part = open.parts.get(n) as StoredPart;
        return `<Part><PartNumber>${n}</PartNumber><ETag>${escape(part.etag)}</ETag><Size>${part.size}</Size></Part>`;
      });
      return sendXml(
        res,
        200,
        `<ListPartsResult><UploadId>${uploadId}</UploadId><IsTruncated>${truncated}</IsTruncated>` +
          `${truncated ? `<NextPartNumberMarker>${page.at(-1)}</NextPartNumberMarker>` : ''}${items.join('')}</ListPartsResult>`,
      );
    }
    if (req.method === 'POST' && uploadId !== null) {
      set(entry, 'complete');
      const open = needUpload();
      if (failNextComplete) {
        failNextComplete = false;
        return sendXml(res, 200, '<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>');
      }
      if (open.checksumAlgorithm !== undefined) requireSameSseKey(req, open.headers);
      const object = assemble(open, body.toString('utf8'), minPartSize, ignoreChecksums);
      objects.set(objectKey, { ...object, headers: open.headers });
      uploads.delete(uploadId);
      const [bucket, ...key] = objectKey.split('/');
      const location = `http://${header(req, 'host') ?? 'localhost'}/${encodeURI(objectKey)}`;
      const etag = options.emptyCompleteEtag ? '' : `"${object.etag}"`;
      return sendXml(
        res,
        200,
        `<CompleteMultipartUploadResult><Location>${escape(location)}</Location><Bucket>${escape(bucket ?? '')}</Bucket><Key>${escape(key.join('/'))}</Key><ETag>${escape(etag)}</ETag></CompleteMultipartUploadResult>`,
      );
    }
    if (req.method === 'DELETE' && uploadId !== null) {
      set(entry, 'abort');
      needUpload();
      uploads.delete(uploadId);
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'PUT') {
      set(entry, 'put');
      const digests = checkDigests(req, body, undefined, options.verifyDigests !== false, ignoreChecksums);
      objects.set(objectKey, { data: keep(body), etag: md5Hex(body), headers: objectHeadersOf(req) });
      res.writeHead(200, { etag: `"${md5Hex(body)}"`, ...(digests.echo ? { 'x-amz-checksum-crc32c': digests.crc32c } : {}) }).end();
      return;
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      set(entry, req.method === 'GET' ? 'get' : 'head');
      const object = objects.get(objectKey);
      if (!object) throw new S3Failure(404, 'NoSuchKey', 'The specified key does not exist.');
      requireSameSseKey(req, object.headers);
      const range = /^bytes=(\d+)-(\d+)$/.exec(header(req, 'range') ?? '');
      const given = { ...visibleHeaders(object.headers), etag: `"${object.etag}"` };
      if (range) {
        const start = Number(range[1]);
        const end = Math.min(Number(range[2]), object.data.length - 1);
        res.writeHead(206, { ...given, 'content-range': `bytes ${start}-${end}/${object.data.length}` }).end(object.data.subarray(start, end + 1));
        return;
      }
      res.writeHead(200, { ...given, 'content-length': object.data.length }).end(req.method === 'GET' ? object.data : undefined);
      return;
    }
    throw new S3Failure(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
  };

  const server = createServer((req, res) => {
    const { authorization, ...sent } = flatHeaders(req);
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization ?? '')?.[1]?.split(';') ?? [];
    const accessKeyId = /Credential=([^/]+)\//.exec(authorization ?? '')?.[1];
    const entry: S3LogEntry = { method: req.method ?? 'GET', operation: 'unknown', partNumber: undefined, bytes: 0, status: 0, headers: sent, signedHeaders, accessKeyId };
    // Named before the body is read, so a request cut mid-body is logged for what it was.
    const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
    if (req.method === 'PUT' && query.has('partNumber')) set(entry, 'part', Number(query.get('partNumber')));
    requests.push(entry);
    handle(req, res, entry)
      .then(() => {
        entry.status = res.statusCode;
      })
      .catch((error: unknown) => {
        const failure = error instanceof S3Failure ? error : new S3Failure(500, 'InternalError', String(error));
        entry.status = failure.status;
        if (!res.headersSent) sendXml(res, failure.status, `<Error><Code>${failure.code}</Code><Message>${escape(failure.message)}</Message></Error>`);
      });
  });
  const listener = await listenOnLoopback(server);

  return {
    endpoint: `http://127.0.0.1:${listener.port}`,
    credentials,
    region,
    requests,
    addKey: (key) => void keys.set(key.accessKeyId, key),
    object: (bucket, key) => objects.get(`${bucket}/${key}`)?.data,
    objectHeaders: (bucket, key) => objects.get(`${bucket}/${key}`)?.headers,
    openUploads: () => [...uploads].map(([uploadId, upload]) => ({ uploadId, key: upload.objectKey, parts: upload.parts.size })),
    completeErrorOnce() {
      failNextComplete = true;
    },
    close: () => listener.close(),
  };
}

function set(entry: S3LogEntry, operation: string, partNumber?: number): void {
  (entry as { operation: string }).operation = operation;
  (entry as { partNumber: number | undefined }).partNumber = partNumber;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function sendXml(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const name of Object.keys(req.headers)) flat[name] = header(req, name) as string;
  return flat;
}

/** Headers S3 keeps with an object (what CreateMultipartUpload or PutObject was given). */
const KEPT_HEADERS = /^(x-amz-meta-.+|x-amz-server-side-encryption.*|x-amz-storage-class|x-amz-acl|x-amz-grant-.+|x-amz-tagging|x-amz-website-redirect-location|x-amz-object-lock-.+|cache-control|content-disposition|content-encoding|content-language|content-type|expires)$/;

function objectHeadersOf(req: IncomingMessage): Record<string, string> {
  return Object.fromEntries(Object.entries(flatHeaders(req)).filter(([name]) => KEPT_HEADERS.test(name)));
}

/** What HEAD and GET give back: not the SSE-C key, nor ACLs and tags (S3 gives neither). */
function visibleHeaders(headers: Record<string, string>): Record<string, string> {
  const hidden = /^(x-amz-server-side-encryption-customer-key|x-amz-acl|x-amz-grant-.+|x-amz-tagging)$/;
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !hidden.test(name)));
}

const SSE_C = 'x-amz-server-side-encryption-customer-';

/** A given SSE-C key must be 256 bits with the MD5 given beside it (S3: 400 InvalidArgument). */
function checkSseCustomerKey(req: IncomingMessage): void {
  const key = header(req, `${SSE_C}key`);
  if (key === undefined && header(req, `${SSE_C}algorithm`) === undefined) return;
  if (header(req, `${SSE_C}algorithm`) !== 'AES256' || key === undefined || Buffer.from(key, 'base64').length !== 32) {
    throw new S3Failure(400, 'InvalidArgument', 'Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm and a 256-bit key.');
  }
  if (header(req, `${SSE_C}key-md5`) !== createHash('md5').update(Buffer.from(key, 'base64')).digest('base64')) {
    throw new S3Failure(400, 'InvalidArgument', 'The calculated MD5 hash of the key did not match the hash that was provided.');
  }
}

/** Bytes written or read under SSE-C need the key they were created with (S3: 400 InvalidRequest). */
function requireSameSseKey(req: IncomingMessage, created: Record<string, string>): void {
  const wanted = created[`${SSE_C}key-md5`];
  if (wanted === undefined || header(req, `${SSE_C}key-md5`) === wanted) return;
  throw new S3Failure(400, 'InvalidRequest', 'The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.');
}

/** Content-MD5 and x-amz-checksum-crc32c, when sent, must be those of the body (else 400 BadDigest). */
function checkDigests(req: IncomingMessage, body: Buffer, requiredAlgorithm: string | undefined, verify: boolean, ignoreChecksums: boolean): { crc32c: string; echo: boolean } {
  const sentCrc = ignoreChecksums ? undefined : header(req, 'x-amz-checksum-crc32c');
  if (!verify) return { crc32c: sentCrc ?? '', echo: false };
  const contentMd5 = header(req, 'content-md5');
  if (contentMd5 !== undefined && contentMd5 !== createHash('md5').update(body).digest('base64')) {
    throw new S3Failure(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
  }
  const crc = crcToBase64(crc32c(body));
  if (sentCrc !== undefined && sentCrc !== crc) throw new S3Failure(400, 'BadDigest', 'The CRC32C you specified did not match the calculated checksum.');
  if (requiredAlgorithm?.toUpperCase() === 'CRC32C' && sentCrc === undefined) {
    throw new S3Failure(400, 'InvalidRequest', 'The upload was created using a CRC32C checksum; the part must carry x-amz-checksum-crc32c.');
  }
  return { crc32c: crc, echo: sentCrc !== undefined };
}

/** CompleteMultipartUpload's checks, then the object and its multipart ETag. */
function assemble(upload: OpenUpload, body: string, minPartSize: number, ignoreChecksums: boolean): { data: Buffer; etag: string } {
  let listed: Array<{ PartNumber?: unknown; ETag?: unknown; ChecksumCRC32C?: unknown }>;
  try {
    const parsed = xml.parse(body) as { CompleteMultipartUpload?: { Part?: unknown } };
    const parts = parsed.CompleteMultipartUpload?.Part;
    listed = (parts === undefined ? [] : Array.isArray(parts) ? parts : [parts]) as typeof listed;
  } catch {
    listed = [];
  }
  if (listed.length === 0) throw new S3Failure(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
  const chosen: StoredPart[] = [];
  let previous = 0;
  for (const [index, item] of listed.entries()) {
    const number = Number(item.PartNumber);
    if (!(number > previous)) throw new S3Failure(400, 'InvalidPartOrder', 'The list of parts was not in ascending order.');
    previous = number;
    const stored = upload.parts.get(number);
    if (!stored || String(item.ETag).replace(/"/g, '') !== stored.etag.replace(/"/g, '')) {
      throw new S3Failure(400, 'InvalidPart', `One or more of the specified parts could not be found (part ${number}).`);
    }
    if (!ignoreChecksums && item.ChecksumCRC32C !== undefined && item.ChecksumCRC32C !== stored.crc32c) throw new S3Failure(400, 'InvalidPart', `Part ${number}: checksum mismatch.`);
    if (index < listed.length - 1 && stored.size < minPartSize) {
      throw new S3Failure(400, 'EntityTooSmall', `Your proposed upload is smaller than the minimum allowed size (part ${number}).`);
    }
    chosen.push(stored);
  }
  const etagDigest = createHash('md5');
  for (const part of chosen) etagDigest.update(Buffer.from(part.etag.replace(/"/g, ''), 'hex'));
  return { data: Buffer.concat(chosen.map((part) => part.data)), etag: `${etagDigest.digest('hex')}-${chosen.length}` };
}

/** SigV4 (header form), recomputed from the request as received; 403 SignatureDoesNotMatch otherwise. */
/** 15 minutes, as S3 allows between `x-amz-date` and its own clock. */
const MAX_SKEW_MS = 15 * 60_000;

/** The key that signed the request, known, unexpired and with its session token; S3's errors otherwise. */
function knownKey(req: IncomingMessage, keys: ReadonlyMap<string, S3TestKey>, accessKeyId: string): S3TestKey {
  const key = keys.get(accessKeyId);
  if (key === undefined) throw new S3Failure(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
  if (key.expiresAt !== undefined && Date.now() >= key.expiresAt) throw new S3Failure(400, 'ExpiredToken', 'The provided token has expired.');
  if (key.sessionToken !== undefined && header(req, 'x-amz-security-token') !== key.sessionToken) {
    throw new S3Failure(403, 'InvalidToken', 'The provided token is malformed or otherwise invalid.');
  }
  const amzDate = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(header(req, 'x-amz-date') ?? '');
  const signedAt = amzDate ? Date.UTC(+amzDate[1]!, +amzDate[2]! - 1, +amzDate[3]!, +amzDate[4]!, +amzDate[5]!, +amzDate[6]!) : Number.NaN;
  if (!(Math.abs(Date.now() - signedAt) <= MAX_SKEW_MS)) {
    throw new S3Failure(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.');
  }
  return key;
}

export function verifySignature(req: IncomingMessage, body: Buffer | undefined, keys: ReadonlyMap<string, S3TestKey>, region: string): void {
  const authorization = header(req, 'authorization') ?? '';
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(authorization);
  if (!match) throw new S3Failure(403, 'AccessDenied', 'Missing or malformed SigV4 Authorization header.');
  const [, accessKeyId, date, signedRegion, signedHeaders, signature] = match as unknown as string[];
  const credentials = knownKey(req, keys, accessKeyId as string);
  if (signedRegion !== region) throw new S3Failure(400, 'AuthorizationHeaderMalformed', `The region '${signedRegion}' is wrong; expecting '${region}'.`);
  const amzDate = header(req, 'x-amz-date') ?? '';
  const payloadHash = header(req, 'x-amz-content-sha256') ?? '';
  if (body !== undefined && payloadHash !== 'UNSIGNED-PAYLOAD' && payloadHash !== createHash('sha256').update(body).digest('hex')) {
    throw new S3Failure(400, 'XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.');
  }
  const url = new URL(req.url ?? '/', 'http://localhost');
  const names = (signedHeaders as string).split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) throw new S3Failure(403, 'AccessDenied', 'host and x-amz-date must be signed.');
  const unsigned = Object.keys(req.headers).filter((name) => name.startsWith('x-amz-') && !names.includes(name));
  if (unsigned.length > 0) throw new S3Failure(403, 'AccessDenied', `There were headers present in the request which were not signed: ${unsigned.join(', ')}`);
  const canonical = [
    req.method,
    url.pathname,
    canonicalQuery(url.search),
    ...names.map((name) => `${name}:${(header(req, name) ?? '').trim().replace(/\s+/g, ' ')}`),
    '',
    signedHeaders,
    payloadHash,
  ].join('\n');
  const scope = `${date}/${region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let key: Buffer = createHmac('sha256', `AWS4${credentials.secretAccessKey}`).update(date as string).digest();
  for (const part of [region, 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  if (createHmac('sha256', key).update(toSign).digest('hex') !== signature) {
    throw new S3Failure(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
  }
}

/** Query parameters sorted by name, each name and value RFC 3986-encoded, `name=` for a bare name. */
function canonicalQuery(search: string): string {
  const rfc3986 = (text: string) => encodeURIComponent(text).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
  return search
    .replace(/^\?/, '')
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const [name = '', value = ''] = pair.split('=').map((part) => decodeURIComponent(part.replace(/\+/g, ' ')));
      return [rfc3986(name), rfc3986(value)] as const;
    })
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}
