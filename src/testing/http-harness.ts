/**
 * What every loopback server of testing/ shares (the GCS server, the S3 server, the fault proxy):
 * listening on 127.0.0.1 with its sockets tracked, bounded waits cleared at close, reading a
 * body (whole, or only up to a limit, at a capped rate), answers after a latency, and the
 * request log.
 */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface LoopbackListener {
  readonly port: number;
  /** Destroys every open connection, then closes the server: no socket outlives a test. */
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 only (tests never listen elsewhere) and keeps track of connections. */
export async function listenOnLoopback(server: Server, port = 0): Promise<LoopbackListener> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface Shaping {
  /** Delay, in ms, before every answer. @default 0 */
  readonly latencyMs?: number | undefined;
  /** Each request's body is read at most this fast, in bytes per second. */
  readonly bandwidth?: number | undefined;
}

/** A loopback server whose waits (stalls, latency) are all cancelled when it closes. */
export interface LoopbackServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** Resolves after `ms`, or never once the server closed (its timer is cleared). */
  delay(ms: number): Promise<void>;
  /** Calls `send` after the configured latency. */
  afterLatency(send: () => void): void;
  close(): Promise<void>;
}

export async function startLoopbackServer(handler: RequestListener, options: Shaping & { port?: number | undefined } = {}): Promise<LoopbackServer> {
  const listener = await listenOnLoopback(createServer(handler), options.port ?? 0);
  const timers = new Set<NodeJS.Timeout>();
  const delay = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });
  const latency = options.latencyMs ?? 0;
  return {
    url: `http://127.0.0.1:${listener.port}`,
    port: listener.port,
    delay,
    afterLatency: (send) => (latency > 0 ? void delay(latency).then(send) : send()),
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await listener.close();
    },
  };
}

export interface ReceivedBody {
  readonly length: number;
  /** The bytes, unless only their count was asked for. */
  readonly bytes: Buffer | undefined;
  /** The client closed the connection before the whole body arrived. */
  readonly aborted: boolean;
}

export interface BodyReading {
  /** Stop reading after this many bytes (the rest stays unread). */
  readonly limit?: number | undefined;
  /** At most this many bytes per second: the socket pauses when ahead, so TCP slows the client. */
  readonly bandwidth?: number | undefined;
  /** False counts the bytes without keeping them (no copy). @default true */
  readonly keepBytes?: boolean;
}

/** Reads a body as far as `reading` allows; never rejects (a cut body is `aborted`). */
export function readBody(req: IncomingMessage, reading: BodyReading = {}): Promise<ReceivedBody> {
  const { limit, bandwidth, keepBytes = true } = reading;
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
      const length = limit === undefined ? size : Math.min(size, limit);
      resolve({ length, bytes: keepBytes ? Buffer.concat(parts).subarray(0, length) : undefined, aborted });
    };
    const onData = (chunk: Buffer) => {
      if (keepBytes) parts.push(chunk);
      size += chunk.length;
      if (limit !== undefined && size >= limit) {
        req.pause();
        return finish(false);
      }
      const ahead = bandwidth === undefined ? 0 : (size / bandwidth) * 1000 - (performance.now() - started);
      if (ahead > 1) {
        req.pause();
        throttle = setTimeout(() => req.resume(), ahead);
      }
    };
    // A body already read to its end (a route that read it, then drains to be sure) is done.
    if (limit === 0 || req.readableEnded) return finish(false);
    req.on('data', onData);
    req.on('end', () => finish(false));
    req.on('close', () => finish(!req.complete));
    req.on('error', () => finish(true));
  });
}

/** The whole body; rejects when the client went away before sending all of it. */
export async function readAll(req: IncomingMessage): Promise<Buffer> {
  const body = await readBody(req);
  if (body.aborted) throw new Error('the client closed the connection mid-body');
  return body.bytes as Buffer;
}

/** Reads and discards the body, so the connection can carry the next request. */
export async function drain(req: IncomingMessage): Promise<void> {
  await readBody(req, { keepBytes: false });
}

/** A header's value, repeated ones joined as HTTP allows. */
export function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** The named headers the request carries, for a log entry. */
export function pickHeaders(req: IncomingMessage, names: Iterable<string>): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of names) {
    const value = headerValue(req, name);
    if (value !== undefined) picked[name] = value;
  }
  return picked;
}

/**
 * The request log a server keeps: entries in arrival order, completed as the request goes on,
 * and readable over HTTP by a client in another process.
 */
export class RequestLog<T> {
  readonly entries: T[] = [];

  add(entry: T): T {
    this.entries.push(entry);
    return entry;
  }

  /** Answers the entries that pass `filter` as JSON. */
  serve(res: ServerResponse, filter: (entry: T) => boolean = () => true): void {
    const body = JSON.stringify(this.entries.filter(filter));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }).end(body);
  }
}
