/**
 * Reading finalized objects back (JSON metadata, JSON media download, XML GET) and the request
 * log over HTTP, for a client in another process (benchmarks, the CLI's serve).
 */
import type { StoredObject } from '../upload-session.js';
import type { GcsRoute } from './context.js';

const JSON_METADATA_PATH = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/;
const JSON_DOWNLOAD_PATH = /^\/download\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/;
const XML_OBJECT_PATH = /^\/([^/]+)\/(.+)$/;

export const requestLogRoute: GcsRoute = {
  matches: (req, url) => req.method === 'GET' && url.pathname === '/__testing/requests',
  serve(server, _req, res, url) {
    const id = url.searchParams.get('upload_id');
    server.requestLog.serve(res, (entry) => id === null || entry.sessionId === id);
  },
};

export const readRoute: GcsRoute = {
  matches: (req) => req.method === 'GET',
  serve(server, req, res, url) {
    const entry = server.log(req, undefined, 'read');
    const metadataPath = JSON_METADATA_PATH.exec(url.pathname);
    const match = metadataPath ?? JSON_DOWNLOAD_PATH.exec(url.pathname) ?? XML_OBJECT_PATH.exec(url.pathname);
    const object = match ? server.object(decodeURIComponent(match[1] as string), decodeURIComponent(match[2] as string)) : undefined;
    if (!object) return server.answer(res, entry, 404, {}, 'no such object');
    if (metadataPath && url.searchParams.get('alt') !== 'media') {
      return server.answer(res, entry, 200, { 'content-type': 'application/json' }, JSON.stringify(metadataOf(object)));
    }
    if (!object.data) return server.answer(res, entry, 501, {}, 'started with storeObjects: false');
    return server.answer(res, entry, 200, { 'content-type': object.contentType }, object.data);
  },
};

/** The object's JSON API metadata. */
export function metadataOf(object: StoredObject): Record<string, unknown> {
  return {
    kind: 'storage#object',
    bucket: object.bucket,
    name: object.name,
    size: String(object.size),
    ...(object.md5Hash === undefined ? {} : { md5Hash: object.md5Hash }),
    ...(object.crc32c === undefined ? {} : { crc32c: object.crc32c }),
    generation: object.generation,
    contentType: object.contentType,
    ...(Object.keys(object.metadata).length === 0 ? {} : { metadata: object.metadata }),
  };
}
