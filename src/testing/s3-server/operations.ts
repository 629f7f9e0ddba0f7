/**
 * The S3 test server's operations, one entry each in `OPERATIONS` (tried in order, as S3 tells
 * them apart by method and query): CreateMultipartUpload, UploadPart, ListParts,
 * CompleteMultipartUpload, AbortMultipartUpload, PutObject, GetObject and HeadObject.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { headerValue as header } from '../http-harness.js';
import { assemble, checkDigests, md5Hex, objectHeadersOf, requireSameSseKey, visibleHeaders } from './rules.js';
import type { S3Journal } from './persistence.js';
import { escape, S3Failure, sendXml, type OpenUpload, type StoredObject, type StoredPart } from './wire.js';

/** What the server holds and how it was configured, as the operations see it. */
export interface S3State {
  readonly minPartSize: number;
  readonly partsPerPage: number;
  readonly verifyDigests: boolean;
  readonly ignoreChecksums: boolean;
  readonly emptyCompleteEtag: boolean;
  readonly goneCode: 'NoSuchUpload' | 'NoSuchKey';
  readonly objects: Map<string, StoredObject>;
  readonly uploads: Map<string, OpenUpload>;
  failNextComplete: boolean;
  /** The server's `directory`, when it has one: told of every change before the answer. */
  readonly journal: S3Journal | undefined;
  /** The bytes to keep of a body (none with `storeObjects: false`). */
  keep(data: Buffer): Buffer;
}

/** One request, read and signature-checked. */
export interface S3Request {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly body: Buffer;
  readonly objectKey: string;
  readonly query: URLSearchParams;
}

export interface S3Operation {
  /** The name the request log gives it. */
  readonly name: string;
  matches(method: string, query: URLSearchParams): boolean;
  serve(state: S3State, request: S3Request): void;
}

const onUpload = (method: string) => (candidate: string, query: URLSearchParams) => candidate === method && query.has('uploadId');
const onObject = (method: string) => (candidate: string, query: URLSearchParams) => candidate === method && !query.has('uploadId');

/** The upload the request names; S3's 404 when it is gone. */
function openUpload(state: S3State, query: URLSearchParams): OpenUpload {
  const upload = state.uploads.get(query.get('uploadId') ?? '');
  if (upload) return upload;
  throw new S3Failure(404, state.goneCode, state.goneCode === 'NoSuchKey' ? 'The specified key does not exist.' : 'The specified upload does not exist.');
}

function keepObject(state: S3State, objectKey: string, object: StoredObject): void {
  state.journal?.saveObject(objectKey, object);
  state.objects.set(objectKey, object);
}

function forgetUpload(state: S3State, uploadId: string): void {
  state.uploads.delete(uploadId);
  state.journal?.removeUpload(uploadId);
}

const create: S3Operation = {
  name: 'create',
  matches: (method, query) => method === 'POST' && query.has('uploads'),
  serve(state, { req, res, objectKey }) {
    const id = randomBytes(12).toString('hex');
    const checksumAlgorithm = state.ignoreChecksums ? undefined : header(req, 'x-amz-checksum-algorithm');
    const upload: OpenUpload = { objectKey, checksumAlgorithm, parts: new Map(), headers: objectHeadersOf(req) };
    state.journal?.saveUpload(id, upload);
    state.uploads.set(id, upload);
    sendXml(res, 200, `<InitiateMultipartUploadResult><Key>${escape(objectKey)}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`);
  },
};

const uploadPart: S3Operation = {
  name: 'part',
  matches: onUpload('PUT'),
  serve(state, { req, res, body, query }) {
    const partNumber = Number(query.get('partNumber'));
    const open = openUpload(state, query);
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000) throw new S3Failure(400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.');
    requireSameSseKey(req, open.headers);
    const digests = checkDigests(req, body, open.checksumAlgorithm, state.verifyDigests, state.ignoreChecksums);
    const etag = `"${md5Hex(body)}"`;
    const part = { data: state.keep(body), size: body.length, etag, crc32c: digests.crc32c };
    open.parts.set(partNumber, part);
    state.journal?.savePart(query.get('uploadId') as string, open, partNumber, part);
    res.writeHead(200, { etag, ...(digests.echo ? { 'x-amz-checksum-crc32c': digests.crc32c } : {}) }).end();
  },
};

const listParts: S3Operation = {
  name: 'list',
  matches: onUpload('GET'),
  serve(state, { req, res, query }) {
    const open = openUpload(state, query);
    if (open.checksumAlgorithm !== undefined) requireSameSseKey(req, open.headers);
    const marker = Number(query.get('part-number-marker') ?? 0);
    const numbers = [...open.parts.keys()].sort((a, b) => a - b).filter((n) => n > marker);
    const page = numbers.slice(0, Math.min(state.partsPerPage, Number(query.get('max-parts') ?? state.partsPerPage)));
    const truncated = page.length < numbers.length;
    const items = page.map((n) => {
      const part = open.parts.get(n) as StoredPart;
      return `<Part><PartNumber>${n}</PartNumber><ETag>${escape(part.etag)}</ETag><Size>${part.size}</Size></Part>`;
    });
    const next = truncated ? `<NextPartNumberMarker>${page.at(-1)}</NextPartNumberMarker>` : '';
    sendXml(res, 200, `<ListPartsResult><UploadId>${query.get('uploadId')}</UploadId><IsTruncated>${truncated}</IsTruncated>${next}${items.join('')}</ListPartsResult>`);
  },
};

const complete: S3Operation = {
  name: 'complete',
  matches: onUpload('POST'),
  serve(state, { req, res, body, objectKey, query }) {
    const open = openUpload(state, query);
    if (state.failNextComplete) {
      state.failNextComplete = false;
      return sendXml(res, 200, '<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>');
    }
    if (open.checksumAlgorithm !== undefined) requireSameSseKey(req, open.headers);
    const object = assemble(open, body.toString('utf8'), state.minPartSize, state.ignoreChecksums);
    keepObject(state, objectKey, { ...object, headers: open.headers });
    forgetUpload(state, query.get('uploadId') as string);
    const [bucket, ...key] = objectKey.split('/');
    const location = `http://${header(req, 'host') ?? 'localhost'}/${encodeURI(objectKey)}`;
    const etag = state.emptyCompleteEtag ? '' : `"${object.etag}"`;
    sendXml(
      res,
      200,
      `<CompleteMultipartUploadResult><Location>${escape(location)}</Location><Bucket>${escape(bucket ?? '')}</Bucket><Key>${escape(key.join('/'))}</Key><ETag>${escape(etag)}</ETag></CompleteMultipartUploadResult>`,
    );
  },
};

const abort: S3Operation = {
  name: 'abort',
  matches: onUpload('DELETE'),
  serve(state, { res, query }) {
    openUpload(state, query);
    forgetUpload(state, query.get('uploadId') as string);
    res.writeHead(204).end();
  },
};

const putObject: S3Operation = {
  name: 'put',
  matches: onObject('PUT'),
  serve(state, { req, res, body, objectKey }) {
    const digests = checkDigests(req, body, undefined, state.verifyDigests, state.ignoreChecksums);
    const etag = md5Hex(body);
    keepObject(state, objectKey, { data: state.keep(body), etag, headers: objectHeadersOf(req) });
    res.writeHead(200, { etag: `"${etag}"`, ...(digests.echo ? { 'x-amz-checksum-crc32c': digests.crc32c } : {}) }).end();
  },
};

/** GetObject (with a `Range`) and HeadObject: the bytes and the headers the object was created with. */
function readObject(state: S3State, { req, res, objectKey }: S3Request): void {
  const object = state.objects.get(objectKey);
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
}

export const OPERATIONS: readonly S3Operation[] = [
  create,
  uploadPart,
  listParts,
  complete,
  abort,
  putObject,
  { name: 'get', matches: (method) => method === 'GET', serve: readObject },
  { name: 'head', matches: (method) => method === 'HEAD', serve: readObject },
];
