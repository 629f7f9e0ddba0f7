/**
 * Starting sessions, as GCS's JSON and XML APIs and Redivis do: each answers with the session's
 * URI (`Location`, or Redivis's JSON). With a `token`, initiation needs `Authorization: Bearer`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { headerValue, readAll } from '../http-harness.js';
import type { RequestLogEntry } from '../test-server.js';
import type { GcsContext, GcsRoute } from './context.js';

const JSON_UPLOAD_PATH = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/;
const XML_OBJECT_PATH = /^\/([^/]+)\/(.+)$/;
const REDIVIS_INITIATE_PATH = /^\/api\/v1\/tables\/([^/]+)\/resumableUpload$/;

type Initiation = (server: GcsContext, req: IncomingMessage, res: ServerResponse, context: { url: URL; entry: RequestLogEntry; body: Buffer }) => void;

/** Each kind of initiation: the path it answers, and how. The first whose path matches serves. */
const INITIATIONS: ReadonlyArray<{ readonly path: RegExp; readonly serve: Initiation }> = [
  { path: JSON_UPLOAD_PATH, serve: initiateJson },
  { path: REDIVIS_INITIATE_PATH, serve: initiateRedivis },
  { path: XML_OBJECT_PATH, serve: initiateXml },
];

/** Every POST that is not to a session: an initiation, or 400. */
export const initiationRoute: GcsRoute = {
  matches: (req) => req.method === 'POST',
  async serve(server, req, res, url) {
    const entry = server.log(req, undefined, 'initiate');
    const body = await readAll(req);
    if (server.options.token !== undefined && req.headers.authorization !== `Bearer ${server.options.token}`) {
      return server.answer(res, entry, 401, {}, '{"error":{"code":401,"message":"Invalid Credentials"}}');
    }
    for (const initiation of INITIATIONS) {
      if (initiation.path.test(url.pathname)) return initiation.serve(server, req, res, { url, entry, body });
    }
    return server.answer(res, entry, 400, {}, 'not an initiation request');
  },
};

function initiateJson(server: GcsContext, req: IncomingMessage, res: ServerResponse, { url, entry, body }: { url: URL; entry: RequestLogEntry; body: Buffer }): void {
  if (url.searchParams.get('uploadType') !== 'resumable') return server.answer(res, entry, 400, {}, 'not an initiation request');
  const metadata = parseJsonObject(body.toString('utf8'));
  const name = url.searchParams.get('name') ?? (typeof metadata.name === 'string' ? metadata.name : undefined);
  if (!name) return server.answer(res, entry, 400, {}, 'object name required');
  const uri = server.createSession({
    bucket: decodeURIComponent(JSON_UPLOAD_PATH.exec(url.pathname)?.[1] as string),
    name,
    contentType: headerValue(req, 'x-upload-content-type') ?? (typeof metadata.contentType === 'string' ? metadata.contentType : undefined),
    metadata: stringValues(metadata.metadata),
  });
  server.answer(res, entry, 200, { location: uri }, '');
}

function initiateRedivis(server: GcsContext, _req: IncomingMessage, res: ServerResponse, { url, entry, body }: { url: URL; entry: RequestLogEntry; body: Buffer }): void {
  const size = url.searchParams.get('size');
  if (size === null || !/^\d+$/.test(size)) return server.answer(res, entry, 400, {}, '{"error":{"message":"size is required"}}');
  if (body.length > 0) return server.answer(res, entry, 400, {}, '{"error":{"message":"The request body must be empty"}}');
  const table = decodeURIComponent(REDIVIS_INITIATE_PATH.exec(url.pathname)?.[1] as string);
  const uri = server.createSession({ dialect: 'redivis', bucket: 'redivis', name: `${table}/${server.nextNumber()}` });
  const id = new URL(uri).searchParams.get('upload_id');
  server.answer(res, entry, 200, { 'content-type': 'application/json' }, JSON.stringify({ kind: 'resumableUpload', id, url: uri }));
}

function initiateXml(server: GcsContext, req: IncomingMessage, res: ServerResponse, { url, entry }: { url: URL; entry: RequestLogEntry }): void {
  if (headerValue(req, 'x-goog-resumable') !== 'start') return server.answer(res, entry, 400, {}, 'not an initiation request');
  const path = XML_OBJECT_PATH.exec(url.pathname) as RegExpExecArray;
  const uri = server.createSession({
    api: 'xml',
    bucket: decodeURIComponent(path[1] as string),
    name: decodeURIComponent(path[2] as string),
    contentType: headerValue(req, 'content-type'),
    metadata: Object.fromEntries(
      Object.entries(req.headers).flatMap(([header, value]) => (header.startsWith('x-goog-meta-') ? [[header.slice(12), String(value)]] : [])),
    ),
  });
  server.answer(res, entry, 201, { location: uri }, '');
}

/** A JSON object's string-valued fields (GCS custom metadata); anything else is dropped. */
function stringValues(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null) return {};
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

function parseJsonObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
