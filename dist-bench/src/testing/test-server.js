/**
 * A loopback HTTP server that behaves like the GCS resumable upload endpoint (PROTOCOL.md), with
 * faults injected on real sockets. For this project's tests, demo and benchmarks, and for users'
 * own tests: `import { createTestServer } from 'resumable-write-stream/testing'`.
 *
 * Where it is stricter than GCS, it says so: overlapping bytes that differ from the persisted
 * ones are refused with 400 (GCS silently keeps the first copy), so a client bug can't hide.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { CHUNK_ALIGNMENT, parseContentRange } from '../content-range.js';
import { ArmedRule } from './faults.js';
import { UploadSession } from './upload-session.js';
const JSON_UPLOAD_PATH = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/;
const JSON_METADATA_PATH = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/;
const JSON_DOWNLOAD_PATH = /^\/download\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/;
const XML_OBJECT_PATH = /^\/([^/]+)\/(.+)$/;
export async function createTestServer(options = {}) {
    const server = new LoopbackGcs(options);
    await server.listen(options.port ?? 0);
    return server;
}
class LoopbackGcs {
    options;
    url = '';
    requests = [];
    sessions = new Map();
    objects = new Map();
    http;
    sockets = new Set();
    timers = new Set();
    generation = 1;
    sessionCounter = 0;
    constructor(options) {
        this.options = options;
        this.http = createServer((req, res) => {
            this.route(req, res).catch((error) => {
                if (!res.headersSent && !res.destroyed)
                    this.send(res, 500, {}, String(error));
            });
        });
        this.http.on('connection', (socket) => {
            this.sockets.add(socket);
            socket.on('close', () => this.sockets.delete(socket));
        });
        for (const rule of options.faults ?? [])
            new ArmedRule(toRule(rule)); // validate eagerly
    }
    listen(port) {
        return new Promise((resolve, reject) => {
            this.http.once('error', reject);
            this.http.listen(port, '127.0.0.1', () => {
                this.url = `http://127.0.0.1:${this.http.address().port}`;
                resolve();
            });
        });
    }
    createSession(options = {}) {
        const bucket = options.bucket ?? 'bucket';
        const name = options.name ?? `object-${++this.sessionCounter}`;
        const id = randomBytes(16).toString('hex');
        const base = options.api === 'xml'
            ? `${this.url}/${encodeURIComponent(bucket)}/${encodeURIComponent(name)}?upload_id=${id}`
            : `${this.url}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}`;
        const rules = [...(this.options.faults ?? []), ...(options.faults ?? [])].map((rule) => new ArmedRule(toRule(rule)));
        this.sessions.set(id, new UploadSession(id, base, bucket, name, options.contentType ?? 'application/octet-stream', rules, this.options.storeObjects ?? true, this.options.persistStep ?? CHUNK_ALIGNMENT));
        return base;
    }
    addFaults(sessionUri, faults) {
        this.lookup(sessionUri).rules.push(...faults.map((rule) => new ArmedRule(toRule(rule))));
    }
    session(sessionUri) {
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
    object(bucket, name) {
        return this.objects.get(`${bucket}/${name}`);
    }
    async close() {
        for (const timer of this.timers)
            clearTimeout(timer);
        this.timers.clear();
        for (const socket of this.sockets)
            socket.destroy();
        await new Promise((resolve) => this.http.close(() => resolve()));
    }
    lookup(sessionUri) {
        const id = new URL(sessionUri).searchParams.get('upload_id') ?? '';
        const session = this.sessions.get(id);
        if (!session)
            throw new Error('no such session on this test server');
        return session;
    }
    async route(req, res) {
        const url = new URL(req.url ?? '/', this.url);
        const uploadId = url.searchParams.get('upload_id');
        if (uploadId !== null && (req.method === 'PUT' || req.method === 'DELETE' || req.method === 'POST')) {
            return this.onSessionRequest(req, res, uploadId);
        }
        if (req.method === 'POST')
            return this.onInitiate(req, res, url);
        if (req.method === 'GET')
            return this.onRead(req, res, url);
        this.log(req, undefined, 'other');
        await drain(req);
        this.send(res, 405, {}, 'method not allowed');
    }
    // --- initiation -----------------------------------------------------------------------------
    async onInitiate(req, res, url) {
        const entry = this.log(req, undefined, 'initiate');
        const body = await readAll(req);
        if (this.options.token !== undefined && req.headers.authorization !== `Bearer ${this.options.token}`) {
            return this.answer(res, entry, 401, {}, '{"error":{"code":401,"message":"Invalid Credentials"}}');
        }
        const jsonPath = JSON_UPLOAD_PATH.exec(url.pathname);
        if (jsonPath && url.searchParams.get('uploadType') === 'resumable') {
            const metadata = parseJsonObject(body.toString('utf8'));
            const name = url.searchParams.get('name') ?? (typeof metadata.name === 'string' ? metadata.name : undefined);
            if (!name)
                return this.answer(res, entry, 400, {}, 'object name required');
            const uri = this.createSession({
                bucket: decodeURIComponent(jsonPath[1]),
                name,
                contentType: headerValue(req, 'x-upload-content-type') ?? (typeof metadata.contentType === 'string' ? metadata.contentType : undefined),
            });
            return this.answer(res, entry, 200, { location: uri }, '');
        }
        const xmlPath = XML_OBJECT_PATH.exec(url.pathname);
        if (xmlPath && headerValue(req, 'x-goog-resumable') === 'start') {
            const uri = this.createSession({
                api: 'xml',
                bucket: decodeURIComponent(xmlPath[1]),
                name: decodeURIComponent(xmlPath[2]),
                contentType: headerValue(req, 'content-type'),
            });
            return this.answer(res, entry, 201, { location: uri }, '');
        }
        return this.answer(res, entry, 400, {}, 'not an initiation request');
    }
    // --- reading objects back -----------------------------------------------------------------
    async onRead(req, res, url) {
        const entry = this.log(req, undefined, 'read');
        const metadataPath = JSON_METADATA_PATH.exec(url.pathname);
        const downloadPath = JSON_DOWNLOAD_PATH.exec(url.pathname) ?? XML_OBJECT_PATH.exec(url.pathname);
        const match = metadataPath ?? downloadPath;
        const object = match ? this.object(decodeURIComponent(match[1]), decodeURIComponent(match[2])) : undefined;
        if (!object)
            return this.answer(res, entry, 404, {}, 'no such object');
        if (metadataPath && url.searchParams.get('alt') !== 'media') {
            return this.answer(res, entry, 200, { 'content-type': 'application/json' }, JSON.stringify(metadataOf(object)));
        }
        if (!object.data)
            return this.answer(res, entry, 501, {}, 'started with storeObjects: false');
        return this.answer(res, entry, 200, { 'content-type': object.contentType }, object.data);
    }
    // --- the session ----------------------------------------------------------------------------
    async onSessionRequest(req, res, uploadId) {
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
        const facts = this.factsOf(session, kind, range);
        const rule = session.finalized ? undefined : session.rules.find((candidate) => candidate.take(facts));
        entry.fault = rule?.rule.fault;
        return this.serveChunk(req, res, entry, session, range, rule);
    }
    factsOf(session, kind, range) {
        const number = kind === 'upload' ? ++session.uploads : ++session.queries;
        const total = range.total ?? session.total;
        const end = range.end === undefined ? session.persisted : range.end + 1;
        const finalizing = total !== undefined && (kind === 'upload' ? end === total : session.persisted === total);
        return { kind, number, finalizing, start: range.start ?? session.persisted, end };
    }
    async serveChunk(req, res, entry, session, range, rule) {
        const fault = rule?.parsed;
        if (fault?.kind === 'gone') {
            session.goneStatus = fault.status;
            await drain(req);
            return this.answer(res, entry, fault.status, {}, 'The upload session is gone or expired');
        }
        if (fault?.kind === 'reset' && fault.afterBytes === undefined)
            return this.reset(req, entry);
        if (fault?.kind === 'stall') {
            await this.delay(fault.ms);
            if (req.socket.destroyed)
                return void (entry.status = 'reset');
        }
        if (fault?.kind === 'status' && fault.afterBytes === undefined) {
            await drain(req);
            return this.answer(res, entry, fault.status, retryAfterHeader(fault.status, rule?.rule.retryAfter), `injected ${fault.status}`);
        }
        const cut = fault && (fault.kind === 'status' || fault.kind === 'reset') ? fault.afterBytes : undefined;
        const start = range.start ?? session.persisted;
        const body = await readBody(req, cut === undefined ? undefined : Math.max(0, cut - start));
        entry.received = body.bytes.length;
        if (body.aborted) {
            // The client went away mid-body: keep what arrived, in whole steps, as GCS does.
            if (range.start !== undefined && !session.finalized)
                session.persist(range.start, body.bytes, false);
            entry.persisted = session.persisted;
            entry.status = 'reset';
            return;
        }
        if (cut !== undefined && fault) {
            if (range.start !== undefined)
                session.persist(range.start, body.bytes, false);
            entry.persisted = session.persisted;
            if (fault.kind === 'reset')
                return this.reset(req, entry);
            // The rest of the body stays unread, so this connection can't be reused.
            res.setHeader('connection', 'close');
            const { status } = fault;
            return this.answer(res, entry, status, retryAfterHeader(status, rule?.rule.retryAfter), 'injected failure');
        }
        return this.applyChunk(req, res, entry, session, range, body.bytes, fault);
    }
    async applyChunk(req, res, entry, session, range, bytes, fault) {
        if (session.finalized)
            return this.answerComplete(res, entry, session);
        const problem = this.validate(req, session, range, bytes);
        if (problem)
            return this.answer(res, entry, 400, {}, problem);
        if (range.total !== undefined)
            session.total = range.total;
        const isFinal = session.total !== undefined && (range.end === undefined ? session.persisted === session.total : range.end + 1 === session.total);
        if (range.start !== undefined) {
            const limit = fault?.kind === 'persist-only' ? fault.bytes : undefined;
            const outcome = session.persist(range.start, bytes, limit === undefined, limit);
            if (!outcome.ok)
                return this.answer(res, entry, 400, {}, outcome.reason);
        }
        entry.persisted = session.persisted;
        if (isFinal && session.persisted === session.total) {
            const object = session.finalize(String(this.generation++));
            this.objects.set(`${object.bucket}/${object.name}`, object);
            if (fault?.kind === 'lose-final-answer')
                return this.reset(req, entry, 'lost');
            return this.answerComplete(res, entry, session);
        }
        const omitRange = fault?.kind === 'omit-range' || session.persisted === 0;
        const rangeHeader = omitRange ? {} : { range: `bytes=0-${session.persisted - 1}` };
        if (this.options.dialect === 'redivis' && range.end !== undefined) {
            // Redivis: "the response body will be empty with a status of 200"; a Range only when
            // less than the whole chunk was kept.
            return this.answer(res, entry, 200, session.persisted === range.end + 1 ? {} : rangeHeader, '');
        }
        return this.answer(res, entry, 308, rangeHeader, '');
    }
    /** GCS's rules for a data request; a string says why it is refused with 400. */
    validate(req, session, range, bytes) {
        if (range.total !== undefined && session.total !== undefined && range.total !== session.total) {
            return `total ${range.total} differs from the total ${session.total} declared before`;
        }
        const total = range.total ?? session.total;
        if (range.start === undefined) {
            return total !== undefined && session.persisted > total ? `${session.persisted} bytes persisted, more than total ${total}` : undefined;
        }
        const length = range.end - range.start + 1;
        const declaredLength = Number(req.headers['content-length'] ?? -1);
        if (declaredLength !== length || bytes.length !== length) {
            return `Content-Range covers ${length} bytes but Content-Length is ${declaredLength} and ${bytes.length} arrived`;
        }
        if (total !== undefined && range.end + 1 > total)
            return `range ends past total ${total}`;
        const isFinal = total !== undefined && range.end + 1 === total;
        if (!isFinal && length % CHUNK_ALIGNMENT !== 0) {
            return `non-final chunk of ${length} bytes: must be a multiple of 262144`;
        }
        return undefined;
    }
    answerComplete(res, entry, session) {
        const object = session.object;
        entry.persisted = session.persisted;
        const hash = { 'x-goog-hash': `crc32c=${object.crc32c},md5=${object.md5Hash}` };
        if (session.uri.includes('/upload/storage/v1/')) {
            this.answer(res, entry, 200, { ...hash, 'content-type': 'application/json; charset=UTF-8' }, JSON.stringify(metadataOf(object)));
        }
        else {
            this.answer(res, entry, 200, hash, '');
        }
    }
    reset(req, entry, status = 'reset') {
        entry.status = status;
        req.socket.destroy();
    }
    answer(res, entry, status, headers, body) {
        entry.status = status;
        const latency = this.options.latencyMs ?? 0;
        if (latency > 0)
            void this.delay(latency).then(() => this.send(res, status, headers, body));
        else
            this.send(res, status, headers, body);
    }
    send(res, status, headers, body) {
        if (res.destroyed || res.headersSent)
            return;
        // Node would refuse 499 without a reason phrase it knows; GCS sends "Client Closed Request".
        res.writeHead(status, status === 499 ? 'Client Closed Request' : undefined, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
        res.end(body);
    }
    delay(ms) {
        return new Promise((resolve) => {
            const timer = setTimeout(() => {
                this.timers.delete(timer);
                resolve();
            }, ms);
            this.timers.add(timer);
        });
    }
    log(req, sessionId, kind) {
        const length = req.headers['content-length'];
        const entry = {
            sessionId,
            method: req.method ?? '',
            kind,
            contentRange: headerValue(req, 'content-range'),
            contentLength: length === undefined ? undefined : Number(length),
            received: 0,
            status: undefined,
            fault: undefined,
            persisted: undefined,
        };
        this.requests.push(entry);
        return entry;
    }
}
function toRule(rule) {
    return typeof rule === 'string' ? { fault: rule } : rule;
}
function headerValue(req, name) {
    const value = req.headers[name];
    return Array.isArray(value) ? value[0] : value;
}
function retryAfterHeader(status, seconds) {
    if (seconds !== undefined)
        return { 'retry-after': String(seconds) };
    return status === 429 ? { 'retry-after': '1' } : {};
}
function metadataOf(object) {
    return {
        kind: 'storage#object',
        bucket: object.bucket,
        name: object.name,
        size: String(object.size),
        md5Hash: object.md5Hash,
        crc32c: object.crc32c,
        generation: object.generation,
        contentType: object.contentType,
    };
}
function parseJsonObject(text) {
    try {
        const value = JSON.parse(text);
        return typeof value === 'object' && value !== null ? value : {};
    }
    catch {
        return {};
    }
}
/** Reads the body, or only its first `limit` bytes (then stops reading). */
function readBody(req, limit) {
    return new Promise((resolve) => {
        const parts = [];
        let size = 0;
        let settled = false;
        const finish = (aborted) => {
            if (settled)
                return;
            settled = true;
            req.off('data', onData);
            const bytes = Buffer.concat(parts);
            resolve({ bytes: limit === undefined ? bytes : bytes.subarray(0, limit), aborted });
        };
        const onData = (chunk) => {
            parts.push(chunk);
            size += chunk.length;
            if (limit !== undefined && size >= limit) {
                req.pause();
                finish(false);
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
function readAll(req) {
    return readBody(req, undefined).then((body) => body.bytes);
}
function drain(req) {
    return readBody(req, undefined).then(() => undefined);
}
