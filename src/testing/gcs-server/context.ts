/**
 * What the GCS test server's routes see of the server (`GcsContext`), and the shape of a route:
 * test-server.ts holds the route table, each route file serves one family of endpoints.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultRule } from '../faults.js';
import type { RequestLog } from '../http-harness.js';
import type { RequestLogEntry, SessionOptions, TestServerOptions } from '../test-server.js';
import type { StoredObject, UploadSession } from '../upload-session.js';

export interface GcsContext {
  readonly options: TestServerOptions;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly requestLog: RequestLog<RequestLogEntry>;
  createSession(options?: SessionOptions): string;
  sessionById(id: string): UploadSession | undefined;
  object(bucket: string, name: string): StoredObject | undefined;
  /** Finalizes the session's object under a new generation and stores it. */
  finalize(session: UploadSession): StoredObject;
  /** A number for a name nobody gave (Redivis names its objects itself). */
  nextNumber(): number;
  log(req: IncomingMessage, sessionId: string | undefined, kind: RequestLogEntry['kind']): RequestLogEntry;
  /** Answers after the server's latency, and records the status in the log entry. */
  answer(res: ServerResponse, entry: RequestLogEntry, status: number, headers: Record<string, string>, body: string | Buffer): void;
  /** Destroys the connection instead of answering. */
  reset(req: IncomingMessage, entry: RequestLogEntry, status?: 'reset' | 'lost'): void;
  /** A wait cancelled when the server closes. */
  delay(ms: number): Promise<void>;
}

/** One endpoint (or family of endpoints): the route table tries them in order. */
export interface GcsRoute {
  matches(req: IncomingMessage, url: URL): boolean;
  serve(server: GcsContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> | void;
}

/** Answers with its Content-Length (the GCS server answers no other way). */
export function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer): void {
  if (res.destroyed || res.headersSent) return;
  // Node would refuse 499 without a reason phrase it knows; GCS sends "Client Closed Request".
  res.writeHead(status, status === 499 ? 'Client Closed Request' : undefined, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

/** A fault given by name only is a rule with no other condition. */
export function toRule(rule: FaultRule | string): FaultRule {
  return typeof rule === 'string' ? { fault: rule } : rule;
}
