// The loopback server in its own process, so the benchmarked client has the cores it needs.
// Usage: node bench/server.mjs '{"latencyMs":30,"bandwidth":100000000}'  → prints {"url":…}
// With {"s3":true}: the loopback S3 server instead (keeps sizes and ETags, not bytes). It verifies and
// echoes the digests a part carries, as S3 does: a server that echoes none makes our client send each
// part again with Content-MD5 (its fallback for servers that ignore CRC32C), which is not what S3 costs
// ({"s3":true,"verifyDigests":false} is such a server).
// With {"tus":true}: @tus/server (the real one) over a store that counts bytes and keeps none.
// With {"host":"10.99.0.2","port":8080}: listens there instead of 127.0.0.1 (the shaped link of
// bench/link.mjs, where the client is in another network namespace); the port applies to both servers.
import net from 'node:net';
import { createS3TestServer, createTestServer } from '../dist/testing/index.js';

const { s3, tus, host, ...options } = JSON.parse(process.argv[2] ?? '{}');
if (host !== undefined) listenOn(host, options.port ?? 0);
const server = tus
  ? await startTusServer()
  : s3
    ? await createS3TestServer({ storeObjects: false, ...options })
    : await createTestServer({ storeObjects: false, digests: false, ...options });
// The session URIs the server hands out are built from its url: they must name the host too.
if (host !== undefined && !s3 && !tus) server.url = server.url.replace('127.0.0.1', host);
const url = s3 || tus ? server.endpoint : server.url;
process.stdout.write(`${JSON.stringify({ url: host === undefined ? url : url.replace('127.0.0.1', host) })}\n`);
const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

/** The test servers listen on 127.0.0.1 only, as tests must; this process is no test. */
function listenOn(address, fixedPort) {
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function (port, bound, ...rest) {
    if (bound !== '127.0.0.1') return listen.call(this, port, bound, ...rest);
    return listen.call(this, port === 0 ? fixedPort : port, address, ...rest);
  };
}

async function startTusServer() {
  const { DataStore, Upload } = await import('@tus/utils');
  const { Server } = await import('@tus/server');
  const { createServer } = await import('node:http');
  const uploads = new Map();
  class CountingStore extends DataStore {
    extensions = ['creation', 'creation-defer-length', 'termination'];
    async create(upload) {
      uploads.set(upload.id, { ...upload, offset: 0 });
      return upload;
    }
    async write(readable, id, offset) {
      let received = 0;
      for await (const chunk of readable) received += chunk.byteLength;
      const upload = uploads.get(id);
      upload.offset = offset + received;
      return upload.offset;
    }
    async getUpload(id) {
      const upload = uploads.get(id);
      if (!upload) throw { status_code: 404, body: 'not found\n' };
      return new Upload({ id, size: upload.size, offset: upload.offset, metadata: upload.metadata });
    }
    async declareUploadLength(id, size) {
      uploads.get(id).size = size;
    }
    async remove(id) {
      uploads.delete(id);
    }
  }
  const tus = new Server({ path: '/files', datastore: new CountingStore() });
  const http = createServer((req, res) => void tus.handle(req, res));
  await new Promise((done) => http.listen(0, '127.0.0.1', done));
  const endpoint = `http://127.0.0.1:${http.address().port}/files`;
  return { endpoint, close: () => new Promise((done) => http.close(done)) };
}
