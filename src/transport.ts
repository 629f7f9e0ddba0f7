/**
 * The only file that knows undici. The rest of the library sees a {@link Transport}: send one
 * request, get status, headers and a bounded body. Redirects are never followed (undici's
 * `request` doesn't unless told to): 308 means "Resume Incomplete" here, and following any
 * redirect would hand the credential-bearing URI and headers to another host.
 */
import { setImmediate as nextLoopTurn } from 'node:timers/promises';
import { EnvHttpProxyAgent, request, errors as undiciErrors, type Dispatcher } from 'undici';
import { HttpStatusError, NetworkError, TimeoutError, TlsError, type ErrorContext } from './errors.js';
import { classifySocketFailure, isRetryableStatus } from './retry.js';

export interface TransportRequest {
  readonly method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'HEAD' | 'DELETE';
  readonly url: string;
  readonly headers: Record<string, string>;
  /** Buffers sent back to back; they are not copied. */
  readonly body?: readonly Uint8Array[] | string;
  readonly signal: AbortSignal;
  /** Most body bytes to keep from the answer; the rest is discarded and the socket dropped. */
  readonly maxBodyBytes: number;
  /** Told the body bytes handed to the connection so far, as they go (a buffer list body only). */
  readonly onBodySent?: (bytes: number) => void;
}

export interface TransportAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: string;
  readonly bodyTruncated: boolean;
}

export interface Transport {
  send(request: TransportRequest): Promise<TransportAnswer>;
}

export interface UndiciTransportOptions {
  readonly dispatcher: Dispatcher | undefined;
  readonly headersTimeout: number;
  readonly bodyTimeout: number;
}

let sharedAgent: EnvHttpProxyAgent | undefined;

/**
 * One keep-alive agent shared by every stream that brings no dispatcher of its own. It goes
 * through the proxy HTTPS_PROXY / HTTP_PROXY name (NO_PROXY excepted), read when first used, as
 * curl and the cloud SDKs do: behind a corporate proxy the upload must just work.
 */
function defaultDispatcher(): EnvHttpProxyAgent {
  sharedAgent ??= new EnvHttpProxyAgent({ keepAliveTimeout: 10_000, connections: 64 });
  return sharedAgent;
}

export function createUndiciTransport(options: UndiciTransportOptions): Transport {
  return {
    async send(req) {
      try {
        return await sendOnce(req, options);
      } catch (error) {
        // The failed connection's close must reach the pool before the caller's next request.
        await connectionReleased(true);
        throw error;
      }
    },
  };
}

async function sendOnce(req: TransportRequest, options: UndiciTransportOptions): Promise<TransportAnswer> {
  const contentLength = bodyLength(req.body);
  const answer = await request(req.url, {
    method: req.method,
    // A HEAD or GET carries no body, so no length either.
    headers: req.method === 'HEAD' || req.method === 'GET' ? req.headers : { ...req.headers, 'content-length': String(contentLength) },
    // undici streams iterables (documented) though its types list only Readable.
    body: contentLength === 0 ? null : (toBody(req.body, req.onBodySent) as string | Uint8Array),
    signal: req.signal,
    dispatcher: options.dispatcher ?? defaultDispatcher(),
    headersTimeout: options.headersTimeout,
    bodyTimeout: options.bodyTimeout,
  });
  // bodyTimeout bounds each pause; this bounds the whole body, so a server that trickles
  // a byte at a time cannot hold the upload forever.
  const { text, truncated } = await readBounded(answer.body, req.maxBodyBytes, options.bodyTimeout);
  const headers = flattenHeaders(answer.headers);
  // A truncated body was destroyed, and its socket with it.
  await connectionReleased(truncated || /\bclose\b/i.test(headers.connection ?? ''));
  return { status: answer.statusCode, headers, body: text, bodyTruncated: truncated };
}

/**
 * undici hands a kept-alive socket back to its pool one event-loop turn after the answer ended (in
 * case the server closes it anyway), while the answer's body ends before that turn. A request
 * dispatched in between finds that connection busy and the pool opens another: a sequential upload
 * then alternates between two connections, each idle for a whole chunk, and pays a handshake and a
 * slow start again, and again after every idle period that resets the congestion window. Waiting
 * that turn before the caller sends its next request keeps the upload on one warm connection,
 * whichever dispatcher it goes through (the shared Agent, a caller's Agent, Pool or Client).
 * Immediates run in order, so ours, queued after undici's, runs after it.
 *
 * A connection that is closing (`Connection: close`, a destroyed body, a failure) is gone only once
 * its socket's close is processed, at the end of the turn. An undici 7 Agent that receives a request
 * for the origin before then takes that close for its pool's last and closes the pool, and from
 * then on every request opens a connection of its own (the tus tests in connections.test.ts show
 * it). The second turn lets the close through first: the upload reconnects once and stays there.
 */
async function connectionReleased(closing: boolean): Promise<void> {
  await nextLoopTurn();
  if (closing) await nextLoopTurn();
}

function bodyLength(body: TransportRequest['body']): number {
  if (body === undefined) return 0;
  if (typeof body === 'string') return Buffer.byteLength(body);
  let total = 0;
  for (const part of body) total += part.byteLength;
  return total;
}

function toBody(body: TransportRequest['body'], onBodySent: TransportRequest['onBodySent']): string | Uint8Array | Iterable<Uint8Array> {
  if (typeof body === 'string' || body === undefined) return body ?? '';
  if (onBodySent !== undefined) return reportingPieces(body, onBodySent);
  // One buffer goes out as one write; several are streamed back to back without a copy.
  return body.length === 1 ? (body[0] as Uint8Array) : body;
}

/** Pieces a reporter can follow: undici asks for the next one once it wrote the last (no copies). */
const REPORT_PIECE = 256 * 1024;

function* reportingPieces(body: readonly Uint8Array[], onBodySent: (bytes: number) => void): Generator<Uint8Array> {
  let sent = 0;
  for (const part of body) {
    for (let offset = 0; offset < part.byteLength; offset += REPORT_PIECE) {
      const piece = part.subarray(offset, offset + REPORT_PIECE);
      yield piece;
      sent += piece.byteLength;
      onBodySent(sent);
    }
  }
}

async function readBounded(body: Dispatcher.ResponseData['body'], maxBytes: number, deadlineMs: number): Promise<{ text: string; truncated: boolean }> {
  const parts: Buffer[] = [];
  let size = 0;
  const deadline = setTimeout(() => body.destroy(new undiciErrors.BodyTimeoutError()), deadlineMs);
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      const room = maxBytes - size;
      if (chunk.byteLength >= room) {
        parts.push(chunk.subarray(0, room));
        // Stop reading: a hostile multi-megabyte body must not fill memory. Destroying the body
        // drops the connection, which is the price of not reading the rest.
        body.destroy();
        return { text: Buffer.concat(parts).toString('utf8'), truncated: chunk.byteLength > room };
      }
      parts.push(chunk);
      size += chunk.byteLength;
    }
    return { text: Buffer.concat(parts).toString('utf8'), truncated: false };
  } finally {
    clearTimeout(deadline);
  }
}

function flattenHeaders(headers: Dispatcher.ResponseData['headers']): Record<string, string | undefined> {
  const result: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    result[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return result;
}

/**
 * Turns what a failed `send` threw into our typed errors. Returns undefined for errors that are
 * not transport failures (an abort, a bug) so the caller keeps them as they are.
 */
export function toTransportError(error: unknown, message: string, context: ErrorContext): NetworkError | TimeoutError | TlsError | HttpStatusError | undefined {
  if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
    return new TimeoutError(`${message}: ${(error as Error).message}`, { ...context, cause: error });
  }
  const proxyStatus = proxyRefusal(error);
  if (proxyStatus !== undefined) {
    return new HttpStatusError(
      proxyStatus,
      '',
      isRetryableStatus(proxyStatus),
      `${message}: the proxy refused to open a tunnel (it answered ${proxyStatus}); check HTTPS_PROXY / HTTP_PROXY and NO_PROXY, or pass your own \`dispatcher\``,
      { ...context, cause: error },
    );
  }
  const code = (error as { code?: unknown } | null)?.code;
  const kind = classifySocketFailure(code);
  if (kind === 'tls') {
    const tlsCode = code as string;
    return new TlsError(tlsCode, `${message}: the TLS connection was refused (${describeCause(error)}). ${tlsAdvice(tlsCode)}`, { ...context, cause: error });
  }
  if (kind === 'network') {
    return new NetworkError(`${message}: ${describeCause(error)}`, { ...context, cause: error });
  }
  return undefined;
}

/** undici reports a proxy's refusal of CONNECT as an abort whose message carries the status. */
function proxyRefusal(error: unknown): number | undefined {
  if ((error as { code?: unknown } | null)?.code !== 'UND_ERR_ABORTED') return undefined;
  const status = /^Proxy response \((\d{3})\) !== 200/.exec((error as Error).message)?.[1];
  return status === undefined ? undefined : Number(status);
}

function tlsAdvice(code: string): string {
  if (code === 'HOSTNAME_MISMATCH' || code.startsWith('ERR_TLS_CERT_ALTNAME')) return 'The certificate is not for this host name: check the URL\'s host.';
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return 'The server\'s certificate is outside its validity period (or this machine\'s clock is off).';
  if (code.startsWith('ERR_SSL_')) return 'Is it an https server? (A plain http server answers TLS with garbage.)';
  return (
    'A server with a certificate from a private CA needs that CA: pass `dispatcher: new Agent({ connect: { ca } })` ' +
    '(undici), or start Node with NODE_EXTRA_CA_CERTS=ca.pem'
  );
}

function describeCause(error: unknown): string {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return typeof code === 'string' ? `${code} ${String(message)}` : String(message);
}
