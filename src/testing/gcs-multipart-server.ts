/**
 * The XML API multipart endpoints of the loopback GCS server (test-server.ts hands them every
 * request they match): initiate (`POST ?uploads`), part (`PUT ?partNumber&uploadId`), list
 * (`GET ?uploadId`, paged by `max-parts` and `part-number-marker`), complete (`POST ?uploadId`),
 * cancel (`DELETE ?uploadId`), plus the single `PUT` of an object and `HEAD` of one. GCS's rules
 * are in gcs-multipart-rules.ts.
 *
 * Every request must be authorized: `Bearer` (the server's `token` when it has one) or a SigV4
 * signature (`AWS4-HMAC-SHA256`, region `auto`) by one of `hmacKeys`, recomputed from the request
 * by the loopback S3 server's verifier; none is 401, a wrong one 403.
 *
 * Faults (faults.ts) apply per upload, armed when it is initiated: parts and the completion are
 * its `upload` requests (the completion is the `final` one), listing is a `query`. "after NK"
 * counts bytes within the part. `persist-only-NK` and `omit-range` mean nothing here (a part is
 * stored whole or not at all) and are ignored.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ArmedRule, type FaultRule, type RequestFacts } from './faults.js';
import { drain, readBody, headerValue as header } from './http-harness.js';
import { assemble, errorXml, escapeXml, GcsXmlFailure, listPartsXml, newUploadId, parsePartNumber, storePart, digestsOf, checkGoogHash, type OpenUpload } from './gcs-multipart-rules.js';
import type { MultipartJournal } from './gcs-server/persistence.js';
import { verifySignature } from './s3-server/sigv4.js';
import type { StoredObject } from './upload-session.js';

export interface GcsMultipartServerOptions {
  /**
   * HMAC keys the server accepts; their SigV4 signatures (region `auto`) are verified by the
   * loopback S3 server's own verifier. Without it, HMAC requests are refused (403).
   */
  hmacKeys?: ReadonlyArray<{ accessId: string; secret: string }>;
  /** The smallest part but the last, checked at completion. @default 5 MiB, as GCS */
  minPartSize?: number;
  /** Parts per ListParts page at most (a request's `max-parts` may ask for fewer). @default 1000 */
  partsPerPage?: number;
}

export interface MultipartLogEntry {
  readonly method: string;
  /** 'initiate' | 'part' | 'list' | 'complete' | 'cancel' | 'put' | 'head' */
  readonly operation: string;
  readonly uploadId: string | undefined;
  readonly partNumber: number | undefined;
  /** `'bearer'`, `'hmac'` or undefined (refused). */
  readonly auth: 'bearer' | 'hmac' | undefined;
  readonly googHash: string | undefined;
  status: number | 'reset' | 'lost' | undefined;
  fault: string | undefined;
}

/** What the tests see of the multipart endpoints. */
export interface GcsMultipartView {
  readonly requests: readonly MultipartLogEntry[];
  /** Uploads neither completed nor cancelled, with their part count (GCS bills them forever). */
  openUploads(): Array<{ uploadId: string; name: string; parts: number }>;
}

/** What the multipart routes share with the rest of the server. */
export interface MultipartHost {
  readonly options: GcsMultipartServerOptions & { token?: string; faults?: ReadonlyArray<FaultRule | string>; storeObjects?: boolean };
  readonly objects: ReadonlyMap<string, StoredObject>;
  /** The server's `directory`, when it has one. */
  readonly journal: MultipartJournal | undefined;
  /** Stores a completed or PUT object (in memory, and in the directory). */
  keepObject(object: StoredObject): void;
  nextGeneration(): string;
  delay(ms: number): Promise<void>;
}

const OBJECT_PATH = /^\/([^/]+)\/(.+)$/;
const OTHER_APIS = /^\/(upload|storage|download|api|__testing)\//;

export class GcsMultipartRoutes implements GcsMultipartView {
  readonly requests: MultipartLogEntry[] = [];
  private readonly uploads = new Map<string, OpenUpload>();

  constructor(private readonly host: MultipartHost) {}

  /** Whether the request is one of these endpoints (an XML resumable session's carry `upload_id`). */
  handles(method: string | undefined, url: URL): boolean {
    if (OTHER_APIS.test(url.pathname) || !OBJECT_PATH.test(url.pathname) || url.searchParams.has('upload_id')) return false;
    const { searchParams: query } = url;
    return query.has('uploads') || query.has('uploadId') || method === 'HEAD' || method === 'PUT';
  }

  /** Uploads a directory kept (gcs-server/persistence.ts). */
  restore(uploads: readonly OpenUpload[]): void {
    for (const upload of uploads) this.uploads.set(upload.id, upload);
  }

  openUploads(): Array<{ uploadId: string; name: string; parts: number }> {
    return [...this.uploads.values()].map((upload) => ({ uploadId: upload.id, name: upload.name, parts: upload.parts.size }));
  }

  async serve(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const [, bucket, name] = (OBJECT_PATH.exec(url.pathname) as RegExpExecArray).map(decodeURIComponent) as [string, string, string];
    const entry = this.log(req, url);
    try {
      this.authorize(req, entry);
      if (url.searchParams.has('uploads') && req.method === 'POST') return this.initiate(req, res, entry, bucket, name);
      if (!url.searchParams.has('uploadId')) return req.method === 'HEAD' ? this.head(res, entry, bucket, name) : await this.putObject(req, res, entry, bucket, name);
      const upload = this.uploads.get(url.searchParams.get('uploadId') as string);
      if (!upload || upload.bucket !== bucket || upload.name !== name) throw new GcsXmlFailure(404, 'NoSuchUpload', 'The requested upload was not found.');
      return await this.onUpload(req, res, entry, upload, url);
    } catch (error) {
      if (!(error instanceof GcsXmlFailure)) throw error;
      await drain(req);
      return this.answer(res, entry, error.status, { 'content-type': 'application/xml' }, errorXml(error.code, error.message));
    }
  }

  private async onUpload(req: IncomingMessage, res: ServerResponse, entry: MultipartLogEntry, upload: OpenUpload, url: URL): Promise<void> {
    if (req.method === 'DELETE') {
      this.forget(upload.id);
      await drain(req);
      return this.answer(res, entry, 204, {}, '');
    }
    if (req.method === 'GET') {
      const rule = this.takeRule(upload, { kind: 'query', number: ++upload.queries, finalizing: false, start: 0, end: 0 }, entry);
      if (rule && (await this.applyFault(req, res, entry, upload, rule, 0))) return;
      const marker = Number(url.searchParams.get('part-number-marker') ?? 0);
      const maxParts = Math.min(Number(url.searchParams.get('max-parts') ?? 1000), this.host.options.partsPerPage ?? 1000);
      return this.answer(res, entry, 200, { 'content-type': 'application/xml' }, listPartsXml(upload, marker, maxParts));
    }
    const finalizing = req.method === 'POST';
    const partNumber = finalizing ? undefined : parsePartNumber(url.searchParams.get('partNumber'));
    const length = Number(req.headers['content-length'] ?? 0);
    const rule = this.takeRule(upload, { kind: 'upload', number: ++upload.uploads, finalizing, start: 0, end: length }, entry);
    const cut = rule ? await this.applyFault(req, res, entry, upload, rule, length) : false;
    if (cut) return;
    const body = await wholeBody(req);
    if (body === undefined) return void (entry.status = 'reset');
    const corrupt = rule?.parsed.kind === 'corrupt-byte';
    if (partNumber !== undefined) return this.putPart(res, entry, upload, partNumber, body, corrupt);
    return this.complete(req, res, entry, upload, body.toString('utf8'), rule);
  }

  private initiate(req: IncomingMessage, res: ServerResponse, entry: MultipartLogEntry, bucket: string, name: string): void {
    const metadata = Object.fromEntries(Object.entries(req.headers).flatMap(([header, value]) => (header.startsWith('x-goog-meta-') ? [[header.slice(12), String(value)]] : [])));
    const rules = (this.host.options.faults ?? []).map((rule) => new ArmedRule(typeof rule === 'string' ? { fault: rule } : rule));
    const id = newUploadId();
    const upload: OpenUpload = { id, bucket, name, contentType: header(req, 'content-type') ?? 'application/octet-stream', metadata, parts: new Map(), rules, uploads: 0, queries: 0 };
    this.host.journal?.saveUpload(upload);
    this.uploads.set(id, upload);
    (entry as { uploadId: string }).uploadId = id;
    const body = `<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>${escapeXml(bucket)}</Bucket><Key>${escapeXml(name)}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`;
    void drain(req).then(() => this.answer(res, entry, 200, { 'content-type': 'application/xml' }, body));
  }

  private putPart(res: ServerResponse, entry: MultipartLogEntry, upload: OpenUpload, partNumber: number, body: Buffer, corrupt: boolean): void {
    const part = storePart(body, entry.googHash, corrupt);
    upload.parts.set(partNumber, part);
    this.host.journal?.savePart(upload, partNumber, part);
    this.answer(res, entry, 200, { etag: part.etag, 'x-goog-hash': `crc32c=${part.crc32c},md5=${part.md5}` }, '');
  }

  private complete(req: IncomingMessage, res: ServerResponse, entry: MultipartLogEntry, upload: OpenUpload, body: string, rule: ArmedRule | undefined): void {
    const object = assemble(upload, body, this.host.options.minPartSize ?? 5 * 1024 * 1024, this.host.nextGeneration(), this.host.options.storeObjects ?? true);
    const stored = rule?.parsed.kind === 'corrupt-byte' && object.data && object.data.length > 0 ? corruptObject(object) : object;
    this.host.keepObject(stored);
    this.forget(upload.id);
    if (rule?.parsed.kind === 'lose-final-answer') {
      entry.status = 'lost';
      return void req.socket.destroy();
    }
    const etag = `"${upload.id.slice(-12)}-${upload.parts.size}"`;
    const xmlBody = `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult><Location>/${escapeXml(upload.bucket)}/${escapeXml(upload.name)}</Location><Bucket>${escapeXml(upload.bucket)}</Bucket><Key>${escapeXml(upload.name)}</Key><ETag>${etag.replace(/"/g, '&quot;')}</ETag></CompleteMultipartUploadResult>`;
    if (rule?.parsed.kind === 'cut-final-answer') return this.answer(res, entry, 200, { 'content-type': 'application/xml' }, xmlBody.slice(0, 20));
    this.answer(res, entry, 200, { 'content-type': 'application/xml', etag, 'x-goog-hash': `crc32c=${stored.crc32c}` }, xmlBody);
  }

  /** The single PUT of a whole object: its `x-goog-hash` checked; the object has both digests. */
  private async putObject(req: IncomingMessage, res: ServerResponse, entry: MultipartLogEntry, bucket: string, name: string): Promise<void> {
    const body = await wholeBody(req);
    if (body === undefined) return void (entry.status = 'reset');
    const digests = digestsOf(body);
    checkGoogHash(entry.googHash, digests);
    const metadata = Object.fromEntries(Object.entries(req.headers).flatMap(([key, value]) => (key.startsWith('x-goog-meta-') ? [[key.slice(12), String(value)]] : [])));
    const object: StoredObject = { bucket, name, size: body.length, md5Hash: digests.md5, crc32c: digests.crc32c, data: this.host.options.storeObjects === false ? undefined : body, generation: this.host.nextGeneration(), contentType: header(req, 'content-type') ?? 'application/octet-stream', metadata };
    this.host.keepObject(object);
    this.answer(res, entry, 200, { etag: `"${Buffer.from(digests.md5, 'base64').toString('hex')}"`, 'x-goog-hash': `crc32c=${digests.crc32c},md5=${digests.md5}` }, '');
  }

  private head(res: ServerResponse, entry: MultipartLogEntry, bucket: string, name: string): void {
    const object = this.host.objects.get(`${bucket}/${name}`);
    entry.status = object ? 200 : 404;
    if (!object) return void res.writeHead(404, { 'content-length': '0' }).end();
    const hash = [object.crc32c === undefined ? '' : `crc32c=${object.crc32c}`, object.md5Hash === undefined ? '' : `md5=${object.md5Hash}`].filter(Boolean).join(',');
    res.writeHead(200, { 'content-length': String(object.size), 'content-type': object.contentType, 'x-goog-stored-content-length': String(object.size), 'x-goog-generation': object.generation, ...(hash ? { 'x-goog-hash': hash } : {}) }).end();
  }

  private authorize(req: IncomingMessage, entry: MultipartLogEntry): void {
    const value = header(req, 'authorization');
    if (value === undefined) throw new GcsXmlFailure(401, 'AuthenticationRequired', 'Authentication required.');
    const token = this.host.options.token;
    if (value.startsWith('Bearer ') && (token === undefined || value === `Bearer ${token}`)) return void ((entry as { auth: string }).auth = 'bearer');
    if (!value.startsWith('AWS4-HMAC-SHA256 ')) throw new GcsXmlFailure(403, 'AccessDenied', 'Access denied: the credentials are not valid.');
    const keys = new Map((this.host.options.hmacKeys ?? []).map(({ accessId, secret }) => [accessId, { accessKeyId: accessId, secretAccessKey: secret }]));
    try {
      // The payload is declared UNSIGNED-PAYLOAD; the body is not read yet.
      verifySignature(req, undefined, keys, 'auto');
    } catch (error) {
      const { status = 403, code = 'AccessDenied', message } = error as { status?: number; code?: string; message: string };
      throw new GcsXmlFailure(status, code, message);
    }
    (entry as { auth: string }).auth = 'hmac';
  }

  private forget(uploadId: string): void {
    this.uploads.delete(uploadId);
    this.host.journal?.removeUpload(uploadId);
  }

  private takeRule(upload: OpenUpload, facts: RequestFacts, entry: MultipartLogEntry): ArmedRule | undefined {
    const rule = upload.rules.find((candidate) => candidate.take(facts));
    entry.fault = rule?.rule.fault;
    return rule;
  }

  /** Acts on a fault before the body is stored; true when the request was answered (or cut). */
  private async applyFault(req: IncomingMessage, res: ServerResponse, entry: MultipartLogEntry, upload: OpenUpload, rule: ArmedRule, length: number): Promise<boolean> {
    const fault = rule.parsed;
    if (fault.kind === 'stall') {
      await this.host.delay(fault.ms);
      return req.socket.destroyed ? ((entry.status = 'reset'), true) : false;
    }
    if (fault.kind === 'gone') {
      this.forget(upload.id);
      throw new GcsXmlFailure(404, 'NoSuchUpload', 'The requested upload was not found.');
    }
    if (fault.kind !== 'status' && fault.kind !== 'reset') return false;
    if (fault.afterBytes !== undefined) await readBody(req, { limit: Math.min(fault.afterBytes, length), keepBytes: false });
    if (fault.kind === 'reset') {
      entry.status = 'reset';
      req.socket.destroy();
      return true;
    }
    if (fault.afterBytes !== undefined) res.setHeader('connection', 'close');
    else await drain(req);
    const retryAfter = rule.rule.retryAfter ?? (fault.status === 429 ? 1 : undefined);
    this.answer(res, entry, fault.status, { 'content-type': 'application/xml', ...(retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) }) }, errorXml(fault.status >= 500 ? 'InternalError' : 'InjectedFault', `injected ${fault.status}`));
    return true;
  }

  private answer(res: ServerResponse, entry: MultipartLogEntry, status: number, headers: Record<string, string>, body: string): void {
    entry.status = status;
    if (res.destroyed || res.headersSent) return;
    res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
  }

  private log(req: IncomingMessage, url: URL): MultipartLogEntry {
    const query = url.searchParams;
    const operation = query.has('uploads') ? 'initiate' : !query.has('uploadId') ? (req.method === 'HEAD' ? 'head' : 'put')
      : ({ PUT: 'part', GET: 'list', POST: 'complete', DELETE: 'cancel' } as Record<string, string>)[req.method ?? ''] ?? 'other';
    const partNumber = query.has('partNumber') ? Number(query.get('partNumber')) : undefined;
    const entry: MultipartLogEntry = { method: req.method ?? '', operation, uploadId: query.get('uploadId') ?? undefined, partNumber, auth: undefined, googHash: header(req, 'x-goog-hash'), status: undefined, fault: undefined };
    this.requests.push(entry);
    return entry;
  }
}

function corruptObject(object: StoredObject): StoredObject {
  const data = Buffer.from(object.data as Buffer);
  data[0] = (data[0] as number) ^ 0x01;
  return { ...object, data, crc32c: digestsOf(data).crc32c };
}

/** The whole body; undefined when the client went away before sending all of it. */
async function wholeBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const body = await readBody(req);
  return body.aborted ? undefined : body.bytes;
}
