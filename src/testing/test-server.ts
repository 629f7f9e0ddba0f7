/**
 * A loopback HTTP server that behaves like the GCS resumable upload endpoint (docs/PROTOCOL.md), with
 * faults injected on real sockets. For this project's tests, demo and benchmarks, and for users'
 * own tests: `import { createTestServer } from 'resumable-write-stream/testing'`.
 *
 * The endpoints are the route table below (`ROUTES`), each family in its own file under
 * gcs-server/; the persistence rules are upload-session.ts, the faults faults.ts.
 *
 * Where it is stricter than GCS, it says so: overlapping bytes that differ from the persisted
 * ones are refused with 400 (GCS silently keeps the first copy), so a client bug can't hide.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CHUNK_ALIGNMENT } from '../content-range.js';
import { isSessionOnlyHeader } from '../protocols/gcs/headers.js';
import { ArmedRule, type FaultRule } from './faults.js';
import { GcsMultipartRoutes, type GcsMultipartServerOptions, type GcsMultipartView } from './gcs-multipart-server.js';
import { send, toRule, type GcsContext, type GcsRoute } from './gcs-server/context.js';
import { initiationRoute } from './gcs-server/initiation.js';
import { readRoute, requestLogRoute } from './gcs-server/objects.js';
import { sessionRoute } from './gcs-server/session-requests.js';
import { drain, headerValue, RequestLog, startLoopbackServer, type LoopbackServer } from './http-harness.js';
import { DiskStore } from './disk-store.js';
import { GcsPersistence, type GcsHoldings } from './gcs-server/persistence.js';
import { UploadSession, type SessionStorage, type StoredObject } from './upload-session.js';

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
  /**
   * Keep sessions, XML multipart uploads with their parts, and objects in this folder too, written
   * before each answer: a server started again on it (same `port`) serves the same session URIs,
   * offsets and objects, as GCS does across restarts. Not kept: armed faults, the request log.
   * Needs `storeObjects`. A file it can't read back: `DamagedDirectoryError`. @default in memory only
   */
  directory?: string;
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

/**
 * The route table: tried in order, the first route that matches serves; anything else is 405.
 * A further family of endpoints is one file under gcs-server/ and one line here.
 */
const ROUTES: readonly GcsRoute[] = [sessionRoute, initiationRoute, requestLogRoute, readRoute];

export async function createTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  for (const rule of options.faults ?? []) new ArmedRule(toRule(rule)); // validate eagerly
  const store = options.directory === undefined ? undefined : DiskStore.open('directory', options.directory);
  if (store && options.storeObjects === false) throw new TypeError('`directory` keeps the bytes on disk: it cannot be combined with `storeObjects: false`');
  const server = new LoopbackGcs(options, store && new GcsPersistence(store));
  await server.listen(options.port ?? 0);
  return server;
}

class LoopbackGcs implements TestServer, GcsContext {
  url = '';
  readonly requestLog = new RequestLog<RequestLogEntry>();
  private readonly sessions = new Map<string, UploadSession>();
  private readonly objects = new Map<string, StoredObject>();
  private http: LoopbackServer | undefined;
  private generation = 1;
  private sessionCounter = 0;
  readonly multipart: GcsMultipartRoutes;
  private readonly storage: SessionStorage;

  constructor(
    readonly options: TestServerOptions,
    private readonly persistence?: GcsPersistence,
  ) {
    const host = { options, objects: this.objects, journal: persistence, keepObject: (object: StoredObject) => this.keepObject(object), nextGeneration: () => String(this.generation++), delay: (ms: number) => this.delay(ms) };
    this.multipart = new GcsMultipartRoutes(host);
    this.storage = { storeBytes: options.storeObjects ?? true, persistStep: options.persistStep ?? CHUNK_ALIGNMENT, digests: options.digests ?? true };
    if (persistence) this.restore(persistence.load(this.storage));
  }

  private restore(holdings: GcsHoldings): void {
    for (const session of holdings.sessions) this.sessions.set(session.id, session);
    for (const object of holdings.objects) this.objects.set(`${object.bucket}/${object.name}`, object);
    this.multipart.restore(holdings.uploads);
    this.generation = holdings.generation + 1;
    // Names nobody gave (`object-N`) must not come back: at most one was taken per session.
    this.sessionCounter = holdings.sessions.length;
  }

  get requests(): readonly RequestLogEntry[] {
    return this.requestLog.entries;
  }

  async listen(port: number): Promise<void> {
    this.http = await startLoopbackServer((req, res) => void this.route(req, res), { port, latencyMs: this.options.latencyMs });
    this.url = this.http.url;
  }

  createSession(options: SessionOptions = {}): string {
    const bucket = options.bucket ?? 'bucket';
    const name = options.name ?? `object-${this.nextNumber()}`;
    const id = randomBytes(16).toString('hex');
    const base = options.api === 'xml'
      ? `${this.url}/${encodeURIComponent(bucket)}/${encodeURIComponent(name)}?upload_id=${id}`
      : `${this.url}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}`;
    const rules = [...(this.options.faults ?? []), ...(options.faults ?? [])].map((rule) => new ArmedRule(toRule(rule)));
    const description = { contentType: options.contentType ?? 'application/octet-stream', metadata: options.metadata ?? {} };
    const identity = { id, uri: base, bucket, name, dialect: options.dialect ?? this.options.dialect ?? 'gcs', description };
    const session = new UploadSession(identity, rules, this.storage, this.persistence);
    this.persistence?.save(session);
    this.sessions.set(id, session);
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

  sessionById(id: string): UploadSession | undefined {
    return this.sessions.get(id);
  }

  object(bucket: string, name: string): StoredObject | undefined {
    return this.objects.get(`${bucket}/${name}`);
  }

  finalize(session: UploadSession): StoredObject {
    const object = session.finalize(String(this.generation++));
    this.keepObject(object);
    return object;
  }

  private keepObject(object: StoredObject): void {
    this.persistence?.saveObject(object);
    this.objects.set(`${object.bucket}/${object.name}`, object);
  }

  nextNumber(): number {
    return ++this.sessionCounter;
  }

  async close(): Promise<void> {
    await this.http?.close();
  }

  delay(ms: number): Promise<void> {
    return (this.http as LoopbackServer).delay(ms);
  }

  private lookup(sessionUri: string): UploadSession {
    const session = this.sessions.get(new URL(sessionUri).searchParams.get('upload_id') ?? '');
    if (!session) throw new Error('no such session on this test server');
    return session;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    try {
      // Before the table: its initiation route would take `POST ?uploads` too.
      if (this.multipart.handles(req.method, url)) return await this.multipart.serve(req, res, url);
      const route = ROUTES.find((candidate) => candidate.matches(req, url));
      if (route) return await route.serve(this, req, res, url);
      this.log(req, undefined, 'other');
      await drain(req);
      send(res, 405, {}, 'method not allowed');
    } catch (error) {
      if (!res.headersSent && !res.destroyed) send(res, 500, {}, String(error));
    }
  }

  reset(req: IncomingMessage, entry: RequestLogEntry, status: 'reset' | 'lost' = 'reset'): void {
    entry.status = status;
    req.socket.destroy();
  }

  answer(res: ServerResponse, entry: RequestLogEntry, status: number, headers: Record<string, string>, body: string | Buffer): void {
    entry.status = status;
    (this.http as LoopbackServer).afterLatency(() => send(res, status, headers, body));
  }

  log(req: IncomingMessage, sessionId: string | undefined, kind: RequestLogEntry['kind']): RequestLogEntry {
    const length = req.headers['content-length'];
    return this.requestLog.add({
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
    });
  }
}
