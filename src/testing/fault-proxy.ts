/**
 * A fault-injecting HTTP proxy on 127.0.0.1, for testing against servers we don't own (a real
 * tus server, an S3-compatible store): requests go through to `target` on real sockets, and the
 * rules break chosen ones, named from the test server's vocabulary (faults.ts):
 *
 * | name                                 | what the proxy does                                                |
 * |--------------------------------------|--------------------------------------------------------------------|
 * | `return-NNN`                         | answers NNN itself, never forwarding the request                   |
 * | `return-reset-connection`            | destroys the client's connection before forwarding anything       |
 * | `return-reset-connection-after-NK`   | forwards N KiB *of this request's body*, then drops both sides     |
 * | `stall-for-Ts` / `stall-for-Nms`     | waits, then forwards                                               |
 * | `lose-final-answer`                  | forwards the request, then drops the connection instead of answering |
 * | `corrupt-byte`                       | forwards the body with its first byte's lowest bit flipped         |
 *
 * Unlike the test server's, "after NK" counts this request's body (the proxy knows no offsets):
 * what the target keeps of a cut request is the target's own behaviour, which is the point.
 */
import { createServer, request as httpRequest, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseFault, type Fault } from './faults.js';
import { listenOnLoopback } from './loopback.js';

export interface ProxyFaultRule {
  /** A name from the table above. */
  readonly fault: string;
  /** Only requests with this method (e.g. `'PATCH'`). @default any */
  readonly method?: string;
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

interface ArmedProxyRule {
  readonly rule: ProxyFaultRule;
  readonly parsed: Fault;
  seen: number;
  remaining: number;
}

export async function startFaultProxy(options: { target: string }): Promise<FaultProxy> {
  const target = new URL(options.target);
  const rules: ArmedProxyRule[] = [];
  const requests: ProxyLogEntry[] = [];
  let inFlight = 0;
  let maxInFlight = 0;

  const take = (method: string): ArmedProxyRule | undefined => {
    for (const armed of rules) {
      if (armed.remaining <= 0 || (armed.rule.method !== undefined && armed.rule.method.toUpperCase() !== method)) continue;
      armed.seen++;
      if (armed.seen < (armed.rule.on ?? 1)) continue;
      armed.remaining--;
      return armed;
    }
    return undefined;
  };

  const server = createServer((req, res) => {
    const entry: ProxyLogEntry = { method: req.method ?? 'GET', path: req.url ?? '/', headers: pickHeaders(req), status: undefined, fault: undefined };
    requests.push(entry);
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    res.once('close', () => inFlight--);
    const armed = take(entry.method);
    if (armed) entry.fault = armed.rule.fault;
    void handle(req, res, entry, armed?.parsed, target).catch(() => req.socket.destroy());
  });
  const listener = await listenOnLoopback(server);

  return {
    url: `http://127.0.0.1:${listener.port}`,
    requests,
    get maxInFlight() {
      return maxInFlight;
    },
    addFault(rule) {
      const parsed = parseFault(rule.fault);
      if (!['status', 'reset', 'stall', 'lose-final-answer', 'corrupt-byte'].includes(parsed.kind) || (parsed.kind === 'status' && parsed.afterBytes !== undefined)) {
        throw new TypeError(
          `The fault proxy can't do ${JSON.stringify(rule.fault)}: only return-NNN, return-reset-connection[-after-NK], stall-for-T, lose-final-answer and corrupt-byte`,
        );
      }
      rules.push({ rule, parsed, seen: 0, remaining: rule.times ?? 1 });
    },
    clearFaults() {
      rules.length = 0;
    },
    close: () => listener.close(),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, entry: ProxyLogEntry, fault: Fault | undefined, target: URL): Promise<void> {
  if (fault?.kind === 'status') {
    req.resume();
    await new Promise((resolve) => req.once('end', resolve));
    entry.status = fault.status;
    res.writeHead(fault.status, { 'content-type': 'text/plain' }).end(`fault proxy: ${fault.status}`);
    return;
  }
  if (fault?.kind === 'reset' && fault.afterBytes === undefined) {
    req.socket.destroy();
    return;
  }
  if (fault?.kind === 'stall') await new Promise((resolve) => setTimeout(resolve, fault.ms));
  const upstream = httpRequest({
    host: target.hostname,
    port: target.port,
    method: req.method,
    path: req.url,
    // The client's Host goes through unchanged, so the target's Location points at the proxy.
    headers: req.headers,
  });
  upstream.on('response', (answer) => {
    if (fault?.kind === 'lose-final-answer') {
      answer.resume();
      req.socket.destroy();
      return;
    }
    entry.status = answer.statusCode;
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', () => req.socket.destroy());
  forwardBody(req, upstream, fault);
}

/** The request's body to the target: whole, or cut after N KiB, or with its first byte flipped. */
function forwardBody(req: IncomingMessage, upstream: ClientRequest, fault: Fault | undefined): void {
  const cutAfter = fault?.kind === 'reset' ? fault.afterBytes : undefined;
  const corrupt = fault?.kind === 'corrupt-byte';
  if (cutAfter === undefined && !corrupt) {
    req.pipe(upstream);
    return;
  }
  let forwarded = 0;
  req.on('data', (chunk: Buffer) => {
    if (cutAfter !== undefined && forwarded >= cutAfter) return;
    let part = cutAfter === undefined ? chunk : chunk.subarray(0, cutAfter - forwarded);
    if (corrupt && forwarded === 0 && part.byteLength > 0) {
      part = Buffer.from(part);
      part[0] = (part[0] as number) ^ 1;
    }
    forwarded += part.byteLength;
    upstream.write(part);
    if (cutAfter === undefined || forwarded < cutAfter) return;
    // Let the bytes reach the target before cutting both sides, as a dying network would.
    setTimeout(() => {
      upstream.destroy();
      req.socket.destroy();
    }, 20);
  });
  req.on('end', () => {
    if (cutAfter === undefined || forwarded < cutAfter) upstream.end();
  });
}

function pickHeaders(req: IncomingMessage): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of LOGGED_HEADERS) {
    const value = req.headers[name];
    if (typeof value === 'string') picked[name] = value;
  }
  return picked;
}
