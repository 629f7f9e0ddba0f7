/**
 * A loopback HTTP server that behaves like the GCS resumable upload endpoint (docs/PROTOCOL.md), with
 * faults injected on real sockets. For this project's tests, demo and benchmarks, and for users'
 * own tests: `import { createTestServer } from 'resumable-write-stream/testing'`.
 *
 * Where it is stricter than GCS, it says so: overlapping bytes that differ from the persisted
 * ones are refused with 400 (GCS silently keeps the first copy), so a client bug can't hide.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { CHUNK_ALIGNMENT, parseContentRange, type ParsedContentRange } from '../content-range.js';
import { isSessionOnlyHeader } from '../protocols/gcs.js';
import { ArmedRule, type Fault, type FaultRule, type RequestFacts } from './faults.js';
import { GcsMultipartRoutes, type GcsMultipartServerOptions, type GcsMultipartView } from './gcs-multipart-server.js';
import { UploadSession, type StoredObject } from './upload-session.js';

export interface TestServerOptions extends GcsMultipartServerOptions {
  /** Faults armed on every session the server creates (strings are `{ fault: name }`). */
  faults?: ReadonlyArray<FaultRule | string>;
  /**
   * `'gcs'`: 308 + `Range` to accepted chunks. `'redivis'`: 200 with an empty body to accepted
   * non-final chunks, as Redivis documents. @default 'gcs'
   */
  dialect?: 'gcs' | 'redivis';
  /** Delay, in ms, before every answer (a WAN model for benchmarks). @default 0 */
  latencyMs?: number;
  /** Keep objects' bytes for reading back; false keeps only size and digests (benchmarks). @default true */
  storeObjects?: boolean;
  /** Persistence granularity of interrupted requests. @default 262144 */
  persistStep?: number;
  /**
   * Compute MD5 and CRC32C of stored objects (metadata `md5Hash`, `crc32c`); `'crc32c'` computes
   * only the CRC32C (what clients validate by default, without the cost of MD5). Benchmarks turn
   * it off so the server's hashing is not what they measure. @default true
   */
  digests?: boolean | 'crc32c';
  /** Cap each request's upload rate, in bytes per second (a WAN model for benchmarks). */
  bandwidth?: number;
  /** When set, initiation requires `Authorization: Bearer <token>`. */
  token?: string;
  /**
   * Check `X-Goog-Hash` (crc32c, md5) on the finalizing request and answer 400 without
   * finalizing on a mismatch, as GCS does. @default true
   */
  verifyHashes?: boolean;
  /**
   * The status of that refusal: GCS answers 400 ("Provided CRC32C … doesn't match calculated …");
   * Google's emulator, storage-testbench, answers 412 ("crc32c validation failed. Expected …").
   * @default 400
   */
  hashRefusalStatus?: 400 | 412;
  /** @default 0 (any free port) */
  port?: number;
}

export interface SessionOptions {
  /** @default the server's dialect */
  dialect?: 'gcs' | 'redivis';
  bucket?: string;
  name?: string;
  api?: 'json' | 'xml';
  contentType?: string;
  /** The object's custom metadata. */
  metadata?: Record<string, string>;
  faults?: ReadonlyArray<FaultRule | string>;
}

export interface RequestLogEntry {
  readonly sessionId: string | undefined;
  readonly method: string;
  readonly kind: 'upload' | 'query' | 'delete' | 'initiate' | 'read' | 'other';
  readonly contentRange: string | undefined;
  readonly contentLength: number | undefined;
  /** The request's `X-Goog-Hash`, if any. */
  readonly googHash: string | undefined;
  /** Body bytes the server read. */
  received: number;
  /** The status answered, `'reset'` (connection destroyed) or `'lost'` (finalized, no answer). */
  status: number | 'reset' | 'lost' | undefined;
  /** The fault that fired on this request, by name. */
  fault: string | undefined;
  /**
   * Headers of a chunk or status query that GCS reads only when a session starts and ignores
   * here (object metadata, content headers…): a test can check that nothing it asked for was
   * sent where GCS drops it.
   */
  readonly ignoredHeaders: readonly string[];
  /** Bytes persisted in the session after this request. */
  persisted: number | undefined;
}

export interface SessionSnapshot {
  readonly id: string;
  readonly persisted: number;
  readonly total: number | undefined;
  readonly finalized: boolean;
  readonly goneStatus: number | undefined;
  readonly object: StoredObject | undefined;
  readonly requests: readonly RequestLogEntry[];
}

export interface TestServer {
  /** `http://127.0.0.1:PORT`: the `apiEndpoint` for initiation. */
  readonly url: string;
  readonly requests: readonly RequestLogEntry[];
  /** The XML API multipart endpoints: their request log and the uploads left open. */
  readonly multipart: GcsMultipartView;
  /** Creates a session without HTTP and returns its URI. */
  createSession(options?: SessionOptions): string;
  /** Arms more faults on a live session. */
  addFaults(sessionUri: string, faults: ReadonlyArray<FaultRule | string>): void;
  session(sessionUri: string): SessionSnapshot;
  /** The finalized object, or undefined. */
  object(bucket: string, name: string): StoredObject | undefined;
  close(): Promise<void>;
}

const JSON_UPLOAD_PATH = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/;
const JSON_METADATA_PATH = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/;
const JSON_DOWNLOAD_PATH = /^\/download\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/;
const XML_OBJECT_PATH = /^\/([^/]+)\/(.+)$/;
const REDIVIS_INITIATE_PATH = /^\/api\/v1\/tables\/([^/]+)\/resumableUpload$/;

export async function createTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const server = new LoopbackGcs(options);
  await server.listen(options.port ?? 0);
  return server;
}

class LoopbackGcs implements TestServer {
  url = '';
  readonly requests: RequestLogEntry[] = [];
  private readonly sessions = new Map<string, UploadSession>();
  private readonly objects = new Map<string, StoredObject>();
  private readonly http: Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private generation = 1;
  private sessionCounter = 0;
  readonly multipart: GcsMultipartRoutes;

  constructor(private readonly options: TestServerOptions) {
    this.multipart = new GcsMultipartRoutes({ options, objects: this.objects, nextGeneration: () => String(this.generation++), delay: (ms) => this.delay(ms) });
    this.http = createServer((req, res) => {
      this.route(req, res).catch((error: unknown) => {
        if (!res.headersSent && !res.destroyed) this.send(res, 500, {}, String(error));
      });
    });
    this.http.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    for (const rule of options.faults ?? []) new ArmedRule(toRule(rule)); // validate eagerly
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, '127.0.0.1', () => {
        this.url = `http://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
        resolve();
      });
    });
  }

  createSession(options: SessionOptions = {}): string {
    const bucket = options.bucket ?? 'bucket';
    const name = options.name ?? `object-${++this.sessionCounter}`;
    const id = randomBytes(16).toString('hex');
    const base = options.api === 'xml'
      ? `${this.url}/${encodeURIComponent(bucket)}/${encodeURIComponent(name)}?upload_id=${id}`
      : `${this.url}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}`;
    const rules = [...(this.options.faults ?? []), ...(options.faults ?? [])].map((rule) => new ArmedRule(toRule(rule)));
    this.sessions.set(
      id,
      new UploadSession(id, base, bucket, name, { contentType: options.contentType ?? 'application/octet-stream', metadata: options.metadata ?? {} },
        options.dialect ?? this.options.dialect ?? 'gcs', rules,
        this.options.storeObjects ?? true, this.options.persistStep ?? CHUNK_ALIGNMENT, this.options.digests ?? true),
    );
    return base;
  }

  addFaults(sessionUri: string, faults: ReadonlyArray<FaultRule | string>): void {
    this.lookup(sessionUri).rules.push(...faults.map((rule) => new ArmedRule(toRule(rule))));
  }

  session(sessionUri: string): SessionSnapshot {
    const session = this.lookup(sessionUri);
    return {
      id: session.id,
      persisted: session.persisted,
      total: session.total,
      finalized: session.finalized,
      goneStatus: session.goneStatus,
      object: session.object,
      requests: this.requests.filter((entry) => entry.sessionId === session.id),
    };
  }

  object(bucket: string, name: string): StoredObject | undefined {
    return this.objects.get(`${bucket}/${name}`);
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private lookup(sessionUri: string): UploadSession {
    const id = new URL(sessionUri).searchParams.get('upload_id') ?? '';
    const session = this.sessions.get(id);
    if (!session) throw new Error('no such session on this test server');
    return session;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    if (this.multipart.handles(req.method, url)) return this.multipart.serve(req, res, url);
    const uploadId = url.searchParams.get('upload_id');
    if (uploadId !== null && (req.method === 'PUT' || req.method === 'DELETE' || req.method === 'POST')) {
      return this.onSessionRequest(req, res, uploadId);
    }
    if (req.method === 'POST') return this.onInitiate(req, res, url);
    if (req.method === 'GET' && url.pathname === '/__testing/requests') return this.onRequestLog(res, url);
    if (req.method === 'GET') return this.onRead(req, res, url);
    this.log(req, undefined, 'other');
    await drain(req);
    this.send(res, 405, {}, 'method not allowed');
  }

  // --- initiation -----------------------------------------------------------------------------

  private async onInitiate(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const entry = this.log(req, undefined, 'initiate');
    const body = await readAll(req);
    if (this.options.token !== undefined && req.headers.authorization !== `Bearer ${this.options.token}`) {
      return this.answer(res, entry, 401, {}, '{"error":{"code":401,"message":"Invalid Credentials"}}');
    }
    const jsonPath = JSON_UPLOAD_PATH.exec(url.pathname);
    if (jsonPath && url.searchParams.get('uploadType') === 'resumable') {
      const metadata = parseJsonObject(body.toString('utf8'));
      const name = url.searchParams.get('name') ?? (typeof metadata.name === 'string' ? metadata.name : undefined);
      if (!name) return this.answer(res, entry, 400, {}, 'object name required');
      const uri = this.createSession({
        bucket: decodeURIComponent(jsonPath[1] as string),
        name,
        contentType: headerValue(req, 'x-upload-content-type') ?? (typeof metadata.contentType === 'string' ? metadata.contentType : undefined),
        metadata: stringValues(metadata.metadata),
      });
      return this.answer(res, entry, 200, { location: uri }, '');
    }
    const redivisPath = REDIVIS_INITIATE_PATH.exec(url.pathname);
    if (redivisPath) {
      const size = url.searchParams.get('size');
      if (size === null || !/^\d+$/.test(size)) return this.answer(res, entry, 400, {}, '{"error":{"message":"size is required"}}');
      if (body.length > 0) return this.answer(res, entry, 400, {}, '{"error":{"message":"The request body must be empty"}}');
      const table = decodeURIComponent(redivisPath[1] as string);
      const uri = this.createSession({ dialect: 'redivis', bucket: 'redivis', name: `${table}/${++this.sessionCounter}` });
      const id = new URL(uri).searchParams.get('upload_id');
      return this.answer(res, entry, 200, { 'content-type': 'application/json' }, JSON.stringify({ kind: 'resumableUpload', id, url: uri }));
    }
    const xmlPath = XML_OBJECT_PATH.exec(url.pathname);
    if (xmlPath && headerValue(req, 'x-goog-resumable') === 'start') {
      const uri = this.createSession({
        api: 'xml',
        bucket: decodeURIComponent(xmlPath[1] as string),
        name: decodeURIComponent(xmlPath[2] as string),
        contentType: headerValue(req, 'content-type'),
        metadata: Object.fromEntries(
          Object.entries(req.headers).flatMap(([header, value]) => (header.startsWith('x-goog-meta-') ? [[header.slice(12), String(value)]] : [])),
        ),
      });
      return this.answer(res, entry, 201, { location: uri }, '');
    }
    return this.answer(res, entry, 400, {}, 'not an initiation request');
  }

  /** The request log over HTTP, for a client in another process (benchmarks, the CLI's serve). */
  private onRequestLog(res: ServerResponse, url: URL): void {
    const id = url.searchParams.get('upload_id');
    const entries = this.requests.filter((entry) => id === null || entry.sessionId === id);
    this.send(res, 200, { 'content-type': 'application/json' }, JSON.stringify(entries));
  }

  // --- reading objects back -----------------------------------------------------------------

  private async onRead(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const entry = this.log(req, undefined, 'read');
    const metadataPath = JSON_METADATA_PATH.exec(url.pathname);
    const downloadPath = JSON_DOWNLOAD_PATH.exec(url.pathname) ?? XML_OBJECT_PATH.exec(url.pathname);
    const match = metadataPath ?? downloadPath;
    const object = match ? this.object(decodeURIComponent(match[1] as string), decodeURIComponent(match[2] as string)) : undefined;
    if (!object) return this.answer(res, entry, 404, {}, 'no such object');
    if (metadataPath && url.searchParams.get('alt') !== 'media') {
      return this.answer(res, entry, 200, { 'content-type': 'application/json' }, JSON.stringify(metadataOf(object)));
    }
    if (!object.data) return this.answer(res, entry, 501, {}, 'started with storeObjects: false');
    return this.answer(res, entry, 200, { 'content-type': object.contentType }, object.data);
  }

  // --- the session ----------------------------------------------------------------------------

  private async onSessionRequest(req: IncomingMessage, res: ServerResponse, uploadId: string): Promise<void> {
    const session = this.sessions.get(uploadId);
    const range = parseContentRange(headerValue(req, 'content-range'));
    const kind = req.method === 'DELETE' ? 'delete' : range && range.start === undefined ? 'query' : 'upload';
    const entry = this.log(req, session?.id, kind);
    if (!session) {
      await drain(req);
      return this.answer(res, entry, 404, {}, 'No such upload session');
    }
    if (session.goneStatus !== undefined) {
      await drain(req);
      return this.answer(res, entry, session.goneStatus, {}, 'The upload session is gone or expired');
    }
    if (kind === 'delete') {
      session.goneStatus = 404;
      await drain(req);
      return this.answer(res, entry, 499, {}, '');
    }
    if (!range || req.method !== 'PUT') {
      await drain(req);
      return this.answer(res, entry, 400, {}, 'Content-Range required: bytes a-b/T, bytes a-b/*, bytes */T or bytes */*');
    }
    const facts = this.factsOf(session, kind as 'upload' | 'query', range);
    const rule = session.finalized ? undefined : session.rules.find((candidate) => candidate.take(facts));
    entry.fault = rule?.rule.fault;
    return this.serveChunk(req, res, entry, session, range, rule);
  }

  private factsOf(session: UploadSession, kind: 'upload' | 'query', range: ParsedContentRange): RequestFacts {
    const number = kind === 'upload' ? ++session.uploads : ++session.queries;
    const total = range.total ?? session.total;
    const end = range.end === undefined ? session.persisted : range.end + 1;
    const finalizing = total !== undefined && (kind === 'upload' ? end === total : session.persisted === total);
    return { kind, number, finalizing, start: range.start ?? session.persisted, end };
  }

  private async serveChunk(
    req: IncomingMessage,
    res: ServerResponse,
    entry: RequestLogEntry,
    session: UploadSession,
    range: ParsedContentRange,
    rule: ArmedRule | undefined,
  ): Promise<void> {
    const fault = rule?.parsed;
    if (fault?.kind === 'gone') {
      session.goneStatus = fault.status;
      await drain(req);
      return this.answer(res, entry, fault.status, {}, 'The upload session is gone or expired');
    }
    if (fault?.kind === 'reset' && fault.afterBytes === undefined) return this.reset(req, entry);
    if (fault?.kind === 'stall') {
      await this.delay(fault.ms);
      if (req.socket.destroyed) return void (entry.status = 'reset');
    }
    if (fault?.kind === 'status' && fault.afterBytes === undefined) {
      await drain(req);
      return this.answer(res, entry, fault.status, retryAfterHeader(fault.status, rule?.rule.retryAfter), `injected ${fault.status}`);
    }
    const cut = fault && (fault.kind === 'status' || fault.kind === 'reset') ? fault.afterBytes : undefined;
    const start = range.start ?? session.persisted;
    const body = await readBody(req, cut === undefined ? undefined : Math.max(0, cut - start), this.options.bandwidth, session.needsBytes);
    entry.received = body.length;
    if (body.aborted) {
      // The client went away mid-body: keep what arrived, in whole steps, as GCS does.
      if (range.start !== undefined && !session.finalized) session.persist(range.start, body, false);
      entry.persisted = session.persisted;
      entry.status = 'reset';
      return;
    }
    if (cut !== undefined && fault) {
      if (range.start !== undefined) session.persist(range.start, body, false);
      entry.persisted = session.persisted;
      if (fault.kind === 'reset') return this.reset(req, entry);
      // The rest of the body stays unread, so this connection can't be reused.
      res.setHeader('connection', 'close');
      const { status } = fault as Extract<Fault, { kind: 'status' }>;
      return this.answer(res, entry, status, retryAfterHeader(status, rule?.rule.retryAfter), 'injected failure');
    }
    return this.applyChunk(req, res, entry, session, range, body, fault);
  }

  private async applyChunk(
    req: IncomingMessage,
    res: ServerResponse,
    entry: RequestLogEntry,
    session: UploadSession,
    range: ParsedContentRange,
    body: ReceivedBody,
    fault: Fault | undefined,
  ): Promise<void> {
    if (session.finalized) return this.answerComplete(res, entry, session);
    const problem = this.validate(req, session, range, body.length);
    if (problem) return this.answer(res, entry, 400, {}, problem);
    const rollback = session.savepoint();
    if (range.total !== undefined) session.total = range.total;
    const isFinal = session.total !== undefined && (range.end === undefined ? session.persisted === session.total : range.end + 1 === session.total);
    if (fault?.kind === 'corrupt-byte') session.corruptNext = true;
    if (range.start !== undefined) {
      const limit = fault?.kind === 'persist-only' ? fault.bytes : undefined;
      const outcome = session.persist(range.start, body, limit === undefined, limit);
      if (!outcome.ok) return this.answer(res, entry, 400, {}, outcome.reason);
    }
    entry.persisted = session.persisted;
    if (isFinal && session.persisted === session.total) {
      const refused = this.checkGoogHash(req, session);
      if (refused) {
        // GCS refuses a corrupt object before committing it: none of this request is kept.
        rollback();
        entry.persisted = session.persisted;
        return this.answer(res, entry, this.options.hashRefusalStatus ?? 400, { 'content-type': 'application/json' }, refused);
      }
      const object = session.finalize(String(this.generation++));
      this.objects.set(`${object.bucket}/${object.name}`, object);
      if (fault?.kind === 'lose-final-answer') return this.reset(req, entry, 'lost');
      return this.answerComplete(res, entry, session, fault?.kind === 'cut-final-answer');
    }
    const omitRange = fault?.kind === 'omit-range' || session.persisted === 0;
    const rangeHeader: Record<string, string> = omitRange ? {} : { range: `bytes=0-${session.persisted - 1}` };
    if (session.dialect === 'redivis' && range.end !== undefined) {
      // Redivis: "the response body will be empty with a status of 200"; a Range only when
      // less than the whole chunk was kept.
      return this.answer(res, entry, 200, session.persisted === range.end + 1 ? {} : rangeHeader, '');
    }
    return this.answer(res, entry, 308, rangeHeader, '');
  }

  /** GCS refuses to finalize when `X-Goog-Hash` disagrees with the bytes it holds. */
  private checkGoogHash(req: IncomingMessage, session: UploadSession): string | undefined {
    const header = headerValue(req, 'x-goog-hash');
    if (header === undefined || this.options.verifyHashes === false) return undefined;
    const actual = session.digests();
    for (const part of header.split(',')) {
      const [name, value] = [part.slice(0, part.indexOf('=')).trim(), part.slice(part.indexOf('=') + 1).trim()];
      const calculated = name === 'crc32c' ? actual.crc32c : name === 'md5' ? actual.md5Hash : undefined;
      if (calculated !== undefined && calculated !== value) {
        if (this.options.hashRefusalStatus === 412) {
          return JSON.stringify({ error: { code: 412, message: `${name} validation failed. Expected ${calculated}, got ${value}` } });
        }
        const label = name === 'crc32c' ? 'CRC32C' : 'MD5';
        return JSON.stringify({ error: { code: 400, message: `Provided ${label} "${value}" doesn't match calculated ${label} "${calculated}".` } });
      }
    }
    return undefined;
  }

  /** GCS's rules for a data request; a string says why it is refused with 400. */
  private validate(req: IncomingMessage, session: UploadSession, range: ParsedContentRange, received: number): string | undefined {
    if (range.total !== undefined && session.total !== undefined && range.total !== session.total) {
      return `total ${range.total} differs from the total ${session.total} declared before`;
    }
    const total = range.total ?? session.total;
    if (range.start === undefined) {
      return total !== undefined && session.persisted > total ? `${session.persisted} bytes persisted, more than total ${total}` : undefined;
    }
    const length = (range.end as number) - range.start + 1;
    const declaredLength = Number(req.headers['content-length'] ?? -1);
    if (declaredLength !== length || received !== length) {
      return `Content-Range covers ${length} bytes but Content-Length is ${declaredLength} and ${received} arrived`;
    }
    if (total !== undefined && (range.end as number) + 1 > total) return `range ends past total ${total}`;
    const isFinal = total !== undefined && (range.end as number) + 1 === total;
    if (!isFinal && length % CHUNK_ALIGNMENT !== 0) {
      return `non-final chunk of ${length} bytes: must be a multiple of 262144`;
    }
    return undefined;
  }

  /** 200 with the object's metadata; `cut`: a complete answer whose body is cut short (a broken proxy, an emulator bug). */
  private answerComplete(res: ServerResponse, entry: RequestLogEntry, session: UploadSession, cut = false): void {
    const object = session.object as StoredObject;
    entry.persisted = session.persisted;
    const hash: Record<string, string> =
      // Redivis reports no digests of the objects it stores.
      cut || session.dialect === 'redivis' || object.crc32c === undefined ? {} : { 'x-goog-hash': object.md5Hash === undefined ? `crc32c=${object.crc32c}` : `crc32c=${object.crc32c},md5=${object.md5Hash}` };
    if (session.uri.includes('/upload/storage/v1/') && session.dialect !== 'redivis') {
      const metadata = JSON.stringify(metadataOf(object));
      this.answer(res, entry, 200, { ...hash, 'content-type': 'application/json; charset=UTF-8' }, cut ? metadata.slice(0, 20) : metadata);
    } else {
      this.answer(res, entry, 200, hash, '');
    }
  }

  private reset(req: IncomingMessage, entry: RequestLogEntry, status: 'reset' | 'lost' = 'reset'): void {
    entry.status = status;
    req.socket.destroy();
  }

  private answer(res: ServerResponse, entry: RequestLogEntry, status: number, headers: Record<string, string>, body: string | Buffer): void {
    entry.status = status;
    const latency = this.options.latencyMs ?? 0;
    if (latency > 0) void this.delay(latency).then(() => this.send(res, status, headers, body));
    else this.send(res, status, headers, body);
  }

  private send(res: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer): void {
    if (res.destroyed || res.headersSent) return;
    // Node would refuse 499 without a reason phrase it knows; GCS sends "Client Closed Request".
    res.writeHead(status, status === 499 ? 'Client Closed Request' : undefined, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  private log(req: IncomingMessage, sessionId: string | undefined, kind: RequestLogEntry['kind']): RequestLogEntry {
    const length = req.headers['content-length'];
    const entry: RequestLogEntry = {
      sessionId,
      method: req.method ?? '',
      kind,
      contentRange: headerValue(req, 'content-range'),
      contentLength: length === undefined ? undefined : Number(length),
      googHash: headerValue(req, 'x-goog-hash'),
      received: 0,
      status: undefined,
      fault: undefined,
      persisted: undefined,
      ignoredHeaders: kind === 'upload' || kind === 'query' ? Object.keys(req.headers).filter(isSessionOnlyHeader) : [],
    };
    this.requests.push(entry);
    return entry;
  }
}

function toRule(rule: FaultRule | string): FaultRule {
  return typeof rule === 'string' ? { fault: rule } : rule;
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function retryAfterHeader(status: number, seconds: number | undefined): Record<string, string> {
  if (seconds !== undefined) return { 'retry-after': String(seconds) };
  return status === 429 ? { 'retry-after': '1' } : {};
}

function metadataOf(object: StoredObject): Record<string, unknown> {
  return {
    kind: 'storage#object',
    bucket: object.bucket,
    name: object.name,
    size: String(object.size),
    ...(object.md5Hash === undefined ? {} : { md5Hash: object.md5Hash }),
    ...(object.crc32c === undefined ? {} : { crc32c: object.crc32c }),
    generation: object.generation,
    contentType: object.contentType,
    ...(Object.keys(object.metadata).length === 0 ? {} : { metadata: object.metadata }),
  };
}

/** A JSON object's string-valued fields (GCS custom metadata); anything else is dropped. */
function stringValues(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null) return {};
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

function parseJsonObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

interface ReceivedBody {
  readonly length: number;
  /** The bytes, unless only their count was asked for. */
  readonly bytes: Buffer | undefined;
  /** The client closed the connection before the whole body arrived. */
  readonly aborted: boolean;
}

/**
 * Reads the body, or only its first `limit` bytes (then stops reading), at most `bandwidth`
 * bytes per second (pausing the socket when ahead: TCP backpressure slows the client down).
 */
function readBody(req: IncomingMessage, limit: number | undefined, bandwidth?: number, keepBytes = true): Promise<ReceivedBody> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    const started = performance.now();
    let size = 0;
    let settled = false;
    let throttle: NodeJS.Timeout | undefined;
    const finish = (aborted: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(throttle);
      req.off('data', onData);
      // A server that keeps nothing (benchmarks) only counts: no copy of the body is made.
      const length = limit === undefined ? size : Math.min(size, limit);
      resolve({ length, bytes: keepBytes ? Buffer.concat(parts).subarray(0, length) : undefined, aborted });
    };
    const onData = (chunk: Buffer) => {
      if (keepBytes) parts.push(chunk);
      size += chunk.length;
      if (limit !== undefined && size >= limit) {
        req.pause();
        finish(false);
        return;
      }
      if (bandwidth !== undefined) {
        const ahead = (size / bandwidth) * 1000 - (performance.now() - started);
        if (ahead > 1) {
          req.pause();
          throttle = setTimeout(() => req.resume(), ahead);
        }
      }
    };
    if (limit === 0) {
      finish(false);
      return;
    }
    req.on('data', onData);
    req.on('end', () => finish(false));
    req.on('close', () => finish(!req.complete));
    req.on('error', () => finish(true));
  });
}

function readAll(req: IncomingMessage): Promise<Buffer> {
  return readBody(req, undefined).then((body) => body.bytes as Buffer);
}

function drain(req: IncomingMessage): Promise<void> {
  return readBody(req, undefined).then(() => undefined);
}
