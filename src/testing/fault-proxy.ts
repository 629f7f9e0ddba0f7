/**
 * A fault-injecting HTTP proxy on 127.0.0.1, for testing against servers we don't own (a real
 * tus server, an S3-compatible store): requests go through to `target` on real sockets, and the
 * rules break chosen ones. The faults, their names and what the proxy does for each are the
 * table in faults.ts (`proxy` there): answering a status itself, destroying the connection,
 * cutting the body "after NK", stalling, losing the answer, flipping a byte. What the target
 * keeps of a cut request is the target's own behaviour, which is the point.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseContentRange } from '../content-range.js';
import { faultApplies, parseFault, proxyAction, type Fault, type ProxyAction, type RequestSpan } from './faults.js';
import { drain, headerValue, pickHeaders, RequestLog, startLoopbackServer, type LoopbackServer } from './http-harness.js';

export interface ProxyFaultRule {
  /** A fault of faults.ts that the proxy can do. */
  readonly fault: string;
  /** Only requests with this method (e.g. `'PATCH'`). @default any */
  readonly method?: string;
  /** Only requests whose path and query contain this (e.g. `'partNumber=1&'`). @default any */
  readonly pathIncludes?: string;
  /** Which of the matching requests, 1-based, counted from when the rule was added. @default the first */
  readonly on?: number;
  /** How many times the rule fires. @default 1 */
  readonly times?: number;
}

export interface ProxyLogEntry {
  readonly method: string;
  readonly path: string;
  /** Headers that describe the upload request (tus offsets and lengths, content-length, range). */
  readonly headers: Readonly<Record<string, string>>;
  /** The status the client received; undefined when the connection was dropped. */
  status: number | undefined;
  fault: string | undefined;
}

export interface FaultProxy {
  /** `http://127.0.0.1:PORT`: use it in place of the target's origin. */
  readonly url: string;
  readonly requests: ProxyLogEntry[];
  /** The most requests the proxy held open at once (a client's parallelism, seen from the wire). */
  readonly maxInFlight: number;
  addFault(rule: ProxyFaultRule): void;
  /** Disarms every rule (between tests). */
  clearFaults(): void;
  close(): Promise<void>;
}

const LOGGED_HEADERS = ['upload-offset', 'upload-length', 'upload-defer-length', 'content-length', 'content-range', 'range'];
/** Lets the forwarded bytes reach the target before the cut, as a dying network would. */
const CUT_GRACE_MS = 20;

interface ArmedProxyRule {
  readonly rule: ProxyFaultRule;
  readonly fault: Fault;
  readonly action: ProxyAction;
  seen: number;
  remaining: number;
}

export async function startFaultProxy(options: { target: string }): Promise<FaultProxy> {
  const target = new URL(options.target);
  const rules: ArmedProxyRule[] = [];
  const log = new RequestLog<ProxyLogEntry>();
  let inFlight = 0;
  let maxInFlight = 0;

  const server: LoopbackServer = await startLoopbackServer((req, res) => {
    const entry = log.add({ method: req.method ?? 'GET', path: req.url ?? '/', headers: pickHeaders(req, LOGGED_HEADERS), status: undefined, fault: undefined });
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    res.once('close', () => inFlight--);
    const armed = take(rules, entry.method, entry.path, spanOf(req));
    entry.fault = armed?.rule.fault;
    void handle({ req, res, entry, action: armed?.action ?? {}, target, server }).catch(() => req.socket.destroy());
  });

  return {
    url: server.url,
    requests: log.entries,
    get maxInFlight() {
      return maxInFlight;
    },
    addFault(rule) {
      rules.push({ rule, fault: parseFault(rule.fault), action: proxyAction(rule.fault), seen: 0, remaining: rule.times ?? 1 });
    },
    clearFaults() {
      rules.length = 0;
    },
    close: () => server.close(),
  };
}

/** The first armed rule for this request, which uses one of its `times`. */
function take(rules: ArmedProxyRule[], method: string, path: string, span: RequestSpan): ArmedProxyRule | undefined {
  for (const armed of rules) {
    const { method: only, pathIncludes } = armed.rule;
    if (armed.remaining <= 0 || (only !== undefined && only.toUpperCase() !== method) || (pathIncludes !== undefined && !path.includes(pathIncludes))) continue;
    armed.seen++;
    if (armed.seen < (armed.rule.on ?? 1) || !faultApplies(armed.fault, span)) continue;
    armed.remaining--;
    return armed;
  }
  return undefined;
}

/** Where the request's body lies in the object, from what its headers say (faults.ts: "after NK"). */
function spanOf(req: IncomingMessage): RequestSpan {
  const range = parseContentRange(headerValue(req, 'content-range'));
  const uploadOffset = Number(headerValue(req, 'upload-offset'));
  const start = range?.start ?? (Number.isSafeInteger(uploadOffset) ? uploadOffset : 0);
  const length = headerValue(req, 'content-length');
  const bodyLength = length !== undefined ? Number(length) : headerValue(req, 'transfer-encoding') === undefined ? 0 : Number.POSITIVE_INFINITY;
  return { start, end: start + bodyLength, finalizing: undefined };
}

interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly entry: ProxyLogEntry;
  readonly action: ProxyAction;
  readonly target: URL;
  readonly server: LoopbackServer;
}

async function handle(exchange: Exchange): Promise<void> {
  const { req, action, server } = exchange;
  if (action.cutAt === undefined && action.end === 'reset') return void req.socket.destroy();
  if (action.cutAt === undefined && typeof action.end === 'number') {
    const status = action.end;
    await drain(req);
    return answer(exchange, status);
  }
  if (action.stallMs !== undefined) await server.delay(action.stallMs);
  const upstream = forward(exchange);
  const cut = action.cutAt === undefined ? undefined : Math.max(0, action.cutAt - spanOf(req).start);
  forwardBody(req, upstream, cut, action.corruptByte === true, () => {
    upstream.destroy();
    if (action.end === 'reset' || action.end === undefined) req.socket.destroy();
    else answer(exchange, action.end, true);
  });
}

/** The proxy's own answer; after a cut the rest of the body stays unread, so the connection closes. */
function answer({ res, entry }: Exchange, status: number, cut = false): void {
  // The target may have answered before the cut: that answer stands.
  if (res.headersSent || res.destroyed) return;
  entry.status = status;
  res.writeHead(status, { 'content-type': 'text/plain', ...(cut ? { connection: 'close' } : {}) }).end(`fault proxy: ${status}`);
}

function forward({ req, res, entry, action, target }: Exchange): ClientRequest {
  const upstream = httpRequest({
    host: target.hostname,
    port: target.port,
    method: req.method,
    path: req.url,
    // The client's Host goes through unchanged, so the target's Location points at the proxy.
    headers: req.headers,
  });
  upstream.on('response', (reply) => {
    // The proxy answered itself already (a status after a cut): the target's late answer goes nowhere.
    if (res.headersSent) return void reply.resume();
    if (action.loseAnswer) {
      reply.resume();
      req.socket.destroy();
      return;
    }
    entry.status = reply.statusCode;
    res.writeHead(reply.statusCode ?? 502, reply.headers);
    reply.pipe(res);
  });
  upstream.on('error', () => req.socket.destroy());
  return upstream;
}

/** The request's body to the target: whole, or cut after `cut` bytes, or with its first byte flipped. */
function forwardBody(req: IncomingMessage, upstream: ClientRequest, cut: number | undefined, corrupt: boolean, onCut: () => void): void {
  if (cut === undefined && !corrupt) {
    req.pipe(upstream);
    return;
  }
  let forwarded = 0;
  const cutNow = () => setTimeout(onCut, CUT_GRACE_MS);
  if (cut === 0) return void cutNow();
  req.on('data', (chunk: Buffer) => {
    if (cut !== undefined && forwarded >= cut) return;
    let part = cut === undefined ? chunk : chunk.subarray(0, cut - forwarded);
    if (corrupt && forwarded === 0 && part.byteLength > 0) {
      part = Buffer.from(part);
      part[0] = (part[0] as number) ^ 1;
    }
    forwarded += part.byteLength;
    upstream.write(part);
    if (cut !== undefined && forwarded >= cut) cutNow();
  });
  req.on('end', () => {
    if (cut === undefined || forwarded < cut) upstream.end();
  });
}
