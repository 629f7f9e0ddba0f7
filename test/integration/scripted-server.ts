import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ScriptedRequest {
  readonly method: string;
  readonly contentRange: string | undefined;
  readonly body: Buffer;
  readonly number: number;
}

/** A real HTTP server on 127.0.0.1 whose every answer a test writes by hand (hostile servers). */
export async function createScriptedServer(
  handler: (request: ScriptedRequest, res: ServerResponse, req: IncomingMessage) => void,
): Promise<{ url: string; hits: ScriptedRequest[]; close(): Promise<void> }> {
  const hits: ScriptedRequest[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => {
      const request = {
        method: req.method ?? '',
        contentRange: req.headers['content-range'],
        body: Buffer.concat(parts),
        number: hits.length + 1,
      };
      hits.push(request);
      handler(request, res, req);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/upload?upload_id=TOPSECRET123`,
    hits,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

export interface WireRequest {
  readonly method: string;
  /** Path with the query parameters sorted by name (clients may order them either way). */
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

export type WireReply = { status: number; headers?: Record<string, string>; body?: string } | 'reset';

/** One expected request, as a line (method, path, key headers), and the answer to give it. */
export type WireStep = [line: string, reply: WireReply | ((request: WireRequest) => WireReply)];

export interface WireScript {
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  /** Every request that arrived, as a line in the script's format. */
  readonly seen: string[];
  /** The lines the client never sent. */
  leftovers(): string[];
  close(): Promise<void>;
}

/**
 * A server on 127.0.0.1 that answers a script, as Go's resumable tests do: each request is
 * written as `METHOD /path?sorted=query name: value …` (the `keyHeaders` it carries, which may
 * depend on the method) and answered
 * by the next step. A request beyond the script gets 400 (a client's cue to stop), so a test
 * compares `seen` with the script's lines and fails on leftovers and on extras alike.
 */
export async function createWireScript(steps: WireStep[], keyHeaders: readonly string[] | ((method: string) => readonly string[])): Promise<WireScript> {
  const queue = [...steps];
  const seen: string[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => {
      const [pathname, query = ''] = (req.url ?? '/').split('?', 2) as [string, string?];
      const sorted = query.split('&').filter(Boolean).sort((a, b) => a.split('=')[0]!.localeCompare(b.split('=')[0]!));
      const request: WireRequest = { method: req.method ?? '', path: sorted.length === 0 ? pathname : `${pathname}?${sorted.join('&')}`, headers: req.headers, body: Buffer.concat(parts) };
      const shown = (typeof keyHeaders === 'function' ? keyHeaders(request.method) : keyHeaders).filter((name) => req.headers[name] !== undefined).map((name) => ` ${name}: ${String(req.headers[name])}`);
      seen.push(`${request.method} ${request.path}${shown.join('')}`);
      const step = queue.shift();
      if (!step) return void res.writeHead(400, { 'content-type': 'text/plain' }).end('beyond the script');
      const reply = typeof step[1] === 'function' ? step[1](request) : step[1];
      if (reply === 'reset') return void req.socket.destroy();
      res.writeHead(reply.status, { 'content-length': String(Buffer.byteLength(reply.body ?? '')), ...reply.headers }).end(reply.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    seen,
    leftovers: () => queue.map(([line]) => line),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
