/**
 * The only file that knows undici. The rest of the library sees a {@link Transport}: send one
 * request, get status, headers and a bounded body. Redirects are never followed (undici's
 * `request` doesn't unless told to): 308 means "Resume Incomplete" here, and following any
 * redirect would hand the credential-bearing URI and headers to another host.
 */
import { Agent, request, errors as undiciErrors } from 'undici';
import { NetworkError, TimeoutError } from './errors.js';
let sharedAgent;
/** One keep-alive Agent shared by every stream that brings no dispatcher of its own. */
function defaultDispatcher() {
    sharedAgent ??= new Agent({ keepAliveTimeout: 10_000, connections: 64 });
    return sharedAgent;
}
export function createUndiciTransport(options) {
    return {
        async send(req) {
            const contentLength = bodyLength(req.body);
            const answer = await request(req.url, {
                method: req.method,
                headers: { ...req.headers, 'content-length': String(contentLength) },
                // undici streams iterables (documented) though its types list only Readable.
                body: contentLength === 0 ? null : toBody(req.body),
                signal: req.signal,
                dispatcher: options.dispatcher ?? defaultDispatcher(),
                headersTimeout: options.headersTimeout,
                bodyTimeout: options.bodyTimeout,
            });
            const { text, truncated } = await readBounded(answer.body, req.maxBodyBytes);
            return { status: answer.statusCode, headers: flattenHeaders(answer.headers), body: text, bodyTruncated: truncated };
        },
    };
}
function bodyLength(body) {
    if (body === undefined)
        return 0;
    if (typeof body === 'string')
        return Buffer.byteLength(body);
    let total = 0;
    for (const part of body)
        total += part.byteLength;
    return total;
}
function toBody(body) {
    if (typeof body === 'string' || body === undefined)
        return body ?? '';
    // One buffer goes out as one write; several are streamed back to back without a copy.
    return body.length === 1 ? body[0] : body;
}
async function readBounded(body, maxBytes) {
    const parts = [];
    let size = 0;
    for await (const chunk of body) {
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
}
function flattenHeaders(headers) {
    const result = {};
    for (const [name, value] of Object.entries(headers)) {
        result[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    return result;
}
/**
 * Turns what a failed `send` threw into our typed errors. Returns undefined for errors that are
 * not transport failures (an abort, a bug) so the caller keeps them as they are.
 */
export function toTransportError(error, message, context) {
    if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
        return new TimeoutError(`${message}: ${error.message}`, { ...context, cause: error });
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
function isSocketError(error) {
    const code = error?.code;
    // HPE_*: llhttp could not parse the answer (a broken or hostile server).
    return typeof code === 'string' && (SOCKET_ERROR_CODES.has(code) || code.startsWith('HPE_'));
}
function describeCause(error) {
    const { code, message } = error;
    return typeof code === 'string' ? `${code} ${String(message)}` : String(message);
}
