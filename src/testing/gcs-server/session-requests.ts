/**
 * Requests to a session (`?upload_id=`): chunk PUTs, status queries and DELETE, with the armed
 * faults carried out as faults.ts describes them (`ServerAction`). The persistence rules are the
 * session's own (upload-session.ts); this file is their HTTP.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseContentRange, type ParsedContentRange } from '../../content-range.js';
import { serverAction, type ArmedRule, type RequestFacts, type ServerAction } from '../faults.js';
import { drain, headerValue, readBody, type ReceivedBody } from '../http-harness.js';
import type { RequestLogEntry } from '../test-server.js';
import type { UploadSession } from '../upload-session.js';
import type { GcsContext, GcsRoute } from './context.js';
import { metadataOf } from './objects.js';

interface Exchange {
  readonly server: GcsContext;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly entry: RequestLogEntry;
  readonly session: UploadSession;
  readonly range: ParsedContentRange;
}

export const sessionRoute: GcsRoute = {
  matches: (req, url) => url.searchParams.has('upload_id') && (req.method === 'PUT' || req.method === 'DELETE' || req.method === 'POST'),
  async serve(server, req, res, url) {
    const session = server.sessionById(url.searchParams.get('upload_id') as string);
    const range = parseContentRange(headerValue(req, 'content-range'));
    const kind = req.method === 'DELETE' ? 'delete' : range && range.start === undefined ? 'query' : 'upload';
    const entry = server.log(req, session?.id, kind);
    const refuse = async (status: number, body: string) => {
      await drain(req);
      server.answer(res, entry, status, {}, body);
    };
    if (!session) return refuse(404, 'No such upload session');
    if (session.goneStatus !== undefined) return refuse(session.goneStatus, 'The upload session is gone or expired');
    if (kind === 'delete') {
      session.markGone(404);
      return refuse(499, '');
    }
    if (!range || req.method !== 'PUT') return refuse(400, 'Content-Range required: bytes a-b/T, bytes a-b/*, bytes */T or bytes */*');
    const facts = factsOf(session, kind, range);
    const rule = session.finalized ? undefined : session.rules.find((candidate) => candidate.take(facts));
    entry.fault = rule?.rule.fault;
    return serveChunk({ server, req, res, entry, session, range }, rule);
  },
};

function factsOf(session: UploadSession, kind: 'upload' | 'query', range: ParsedContentRange): RequestFacts {
  const number = kind === 'upload' ? ++session.uploads : ++session.queries;
  const total = range.total ?? session.total;
  const end = range.end === undefined ? session.persisted : range.end + 1;
  const finalizing = total !== undefined && (kind === 'upload' ? end === total : session.persisted === total);
  return { kind, number, finalizing, start: range.start ?? session.persisted, end };
}

/** The fault's steps that come before the chunk is applied: gone, reset, stall, a status, a cut body. */
async function serveChunk(exchange: Exchange, rule: ArmedRule | undefined): Promise<void> {
  const { server, req, res, entry, session, range } = exchange;
  const action: ServerAction = rule ? serverAction(rule.parsed) : {};
  const retryAfter = (status: number) => retryAfterHeader(status, rule?.rule.retryAfter);
  if (action.goneStatus !== undefined) {
    session.markGone(action.goneStatus);
    await drain(req);
    return server.answer(res, entry, action.goneStatus, {}, 'The upload session is gone or expired');
  }
  if (action.cutAt === undefined && action.end === 'reset') return server.reset(req, entry);
  if (action.stallMs !== undefined) {
    await server.delay(action.stallMs);
    if (req.socket.destroyed) return void (entry.status = 'reset');
  }
  if (action.cutAt === undefined && typeof action.end === 'number') {
    const status = action.end;
    await drain(req);
    return server.answer(res, entry, status, retryAfter(status), `injected ${status}`);
  }
  const start = range.start ?? session.persisted;
  const limit = action.cutAt === undefined ? undefined : Math.max(0, action.cutAt - start);
  const body = await readBody(req, { limit, bandwidth: server.options.bandwidth, keepBytes: session.needsBytes || action.corruptByte === true });
  entry.received = body.length;
  if (body.aborted || action.cutAt !== undefined) {
    // The client went away mid-body, or the fault cut it: keep what arrived, in whole steps, as GCS does.
    if (range.start !== undefined && !session.finalized) session.persist(range.start, body, false);
    entry.persisted = session.persisted;
    if (body.aborted) return void (entry.status = 'reset');
    if (action.end === 'reset' || action.end === undefined) return server.reset(req, entry);
    // The rest of the body stays unread, so this connection can't be reused.
    res.setHeader('connection', 'close');
    return server.answer(res, entry, action.end, retryAfter(action.end), 'injected failure');
  }
  return applyChunk(exchange, body, action);
}

/** The chunk under GCS's rules, then its answer: 308 + Range, Redivis's 200, or the finalized object. */
function applyChunk(exchange: Exchange, body: ReceivedBody, action: ServerAction): void {
  const { server, req, res, entry, session, range } = exchange;
  if (session.finalized) return answerComplete(exchange);
  const problem = session.refusal(range, Number(req.headers['content-length'] ?? -1), body.length);
  if (problem) return server.answer(res, entry, 400, {}, problem);
  const rollback = session.savepoint();
  if (range.total !== undefined) session.declareTotal(range.total);
  const isFinal = session.total !== undefined && (range.end === undefined ? session.persisted === session.total : range.end + 1 === session.total);
  if (action.corruptByte) session.corruptNext = true;
  if (range.start !== undefined) {
    const outcome = session.persist(range.start, body, action.persistOnly === undefined, action.persistOnly);
    if (!outcome.ok) return server.answer(res, entry, 400, {}, outcome.reason);
  }
  entry.persisted = session.persisted;
  if (isFinal && session.persisted === session.total) {
    const googHash = headerValue(req, 'x-goog-hash');
    const status = server.options.hashRefusalStatus ?? 400;
    const refused = googHash === undefined || server.options.verifyHashes === false ? undefined : session.hashRefusal(googHash, status);
    if (refused) {
      // GCS refuses a corrupt object before committing it: none of this request is kept.
      rollback();
      entry.persisted = session.persisted;
      return server.answer(res, entry, status, { 'content-type': 'application/json' }, refused);
    }
    server.finalize(session);
    if (action.finalAnswer === 'lose') return server.reset(req, entry, 'lost');
    return answerComplete(exchange, action.finalAnswer === 'cut');
  }
  const rangeHeader: Record<string, string> = action.omitRange || session.persisted === 0 ? {} : { range: `bytes=0-${session.persisted - 1}` };
  if (session.dialect === 'redivis' && range.end !== undefined) {
    // Redivis: "the response body will be empty with a status of 200"; a Range only when
    // less than the whole chunk was kept.
    return server.answer(res, entry, 200, session.persisted === range.end + 1 ? {} : rangeHeader, '');
  }
  server.answer(res, entry, 308, rangeHeader, '');
}

/** 200 with the object's metadata; `cut`: a complete answer whose body is cut short (a broken proxy, an emulator bug). */
function answerComplete({ server, res, entry, session }: Exchange, cut = false): void {
  const object = session.object as NonNullable<UploadSession['object']>;
  entry.persisted = session.persisted;
  const hash: Record<string, string> =
    // Redivis reports no digests of the objects it stores.
    cut || session.dialect === 'redivis' || object.crc32c === undefined ? {} : { 'x-goog-hash': object.md5Hash === undefined ? `crc32c=${object.crc32c}` : `crc32c=${object.crc32c},md5=${object.md5Hash}` };
  if (session.uri.includes('/upload/storage/v1/') && session.dialect !== 'redivis') {
    const metadata = JSON.stringify(metadataOf(object));
    server.answer(res, entry, 200, { ...hash, 'content-type': 'application/json; charset=UTF-8' }, cut ? metadata.slice(0, 20) : metadata);
  } else {
    server.answer(res, entry, 200, hash, '');
  }
}

function retryAfterHeader(status: number, seconds: number | undefined): Record<string, string> {
  if (seconds !== undefined) return { 'retry-after': String(seconds) };
  return status === 429 ? { 'retry-after': '1' } : {};
}
