/**
 * The only file that knows undici. The rest of the library sees a {@link Transport}: send one
 * request, get status, headers and a bounded body. Redirects are never followed (undici's
 * `request` doesn't unless told to): 308 means "Resume Incomplete" here, and following any
 * redirect would hand the credential-bearing URI and headers to another host.
 */
import { EnvHttpProxyAgent, request, errors as undiciErrors, type Dispatcher } from 'undici';
import { NetworkError, TimeoutError, TlsError, type ErrorContext } from './errors.js';

export interface TransportRequest {
  readonly method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'HEAD' | 'DELETE';
  readonly url: string;
  readonly headers: Record<string, string>;
  /** Buffers sent back to back; they are not copied. */
  readonly body?: readonly Uint8Array[] | string;
  readonly signal: AbortSignal;
  /** Most body bytes to keep from the answer; the rest is discarded and the socket dropped. */
  readonly maxBodyBytes: number;
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
      const contentLength = bodyLength(req.body);
      const answer = await request(req.url, {
        method: req.method,
        // A HEAD or GET carries no body, so no length either.
        headers: req.method === 'HEAD' || req.method === 'GET' ? req.headers : { ...req.headers, 'content-length': String(contentLength) },
        // undici streams iterables (documented) though its types list only Readable.
        body: contentLength === 0 ? null : (toBody(req.body) as string | Uint8Array),
        signal: req.signal,
        dispatcher: options.dispatcher ?? defaultDispatcher(),
        headersTimeout: options.headersTimeout,
        bodyTimeout: options.bodyTimeout,
      });
      // bodyTimeout bounds each pause; this bounds the whole body, so a server that trickles
      // a byte at a time cannot hold the upload forever.
      const { text, truncated } = await readBounded(answer.body, req.maxBodyBytes, options.bodyTimeout);
      return { status: answer.statusCode, headers: flattenHeaders(answer.headers), body: text, bodyTruncated: truncated };
    },
  };
}

function bodyLength(body: TransportRequest['body']): number {
  if (body === undefined) return 0;
  if (typeof body === 'string') return Buffer.byteLength(body);
  let total = 0;
  for (const part of body) total += part.byteLength;
  return total;
}

function toBody(body: TransportRequest['body']): string | Uint8Array | Iterable<Uint8Array> {
  if (typeof body === 'string' || body === undefined) return body ?? '';
  // One buffer goes out as one write; several are streamed back to back without a copy.
  return body.length === 1 ? (body[0] as Uint8Array) : body;
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
export function toTransportError(error: unknown, message: string, context: ErrorContext): NetworkError | TimeoutError | TlsError | undefined {
  if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
    return new TimeoutError(`${message}: ${(error as Error).message}`, { ...context, cause: error });
  }
  const tlsCode = certificateErrorCode(error);
  if (tlsCode !== undefined) {
    return new TlsError(tlsCode, `${message}: the TLS connection was refused (${describeCause(error)}). ${tlsAdvice(tlsCode)}`, { ...context, cause: error });
  }
  if (isSocketError(error)) {
    return new NetworkError(`${message}: ${describeCause(error)}`, { ...context, cause: error });
  }
  return undefined;
}

/** Failures of the connection or of the answer's framing: worth a status query and a retry. */
const SOCKET_ERROR_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH',
  'ENETDOWN', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_INFO', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'UND_ERR_HEADERS_OVERFLOW',
]);

/** OpenSSL's verification failures, as Node names them, and Node's own host name check. */
const CERTIFICATE_ERROR_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_DECRYPT_CERT_SIGNATURE', 'CERT_SIGNATURE_FAILURE', 'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_CHAIN_TOO_LONG', 'INVALID_CA', 'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_TLS_CERT_ALTNAME_FORMAT',
]);

/** The code of a failure to make a trusted TLS connection (ERR_SSL_*: the handshake itself failed). */
function certificateErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (CERTIFICATE_ERROR_CODES.has(code) || code.startsWith('ERR_SSL_')) ? code : undefined;
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

function isSocketError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  // HPE_*: llhttp could not parse the answer (a broken or hostile server).
  return typeof code === 'string' && (SOCKET_ERROR_CODES.has(code) || code.startsWith('HPE_'));
}

function describeCause(error: unknown): string {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return typeof code === 'string' ? `${code} ${String(message)}` : String(message);
}
