// One protocol's server, run inside the server namespace by the net-chaos runner:
//   node server.mjs gcs|tus|s3 PORT DIRECTORY
// It listens on every address of its namespace (the loopback servers listen on 127.0.0.1 only,
// which the client namespace cannot reach), so the client's packets cross the shaped link. It talks
// to the runner over stdin/stdout, never over the link: JSON lines in ({ id, op, ... }) and out
// (answers { id, ... }, and { event: 'chunk' | 'final' | 'query', at } as requests arrive, so the
// runner can fault the link at that instant). tus keeps its uploads in DIRECTORY (a restart on the
// same PORT finds them); the GCS and S3 test servers keep sessions in memory only.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';
import { createS3TestServer, createTestServer } from '../../dist/testing/index.js';

const [protocol, portArgument, directory] = process.argv.slice(2);
const port = Number(portArgument);

// The loopback servers listen on 127.0.0.1 and (S3) a free port: here, every address of the
// namespace and PORT. Each request is classified as it arrives, whatever server answers it.
const listen = HttpServer.prototype.listen;
HttpServer.prototype.listen = function (...args) {
  if (args[1] === '127.0.0.1') args[1] = '0.0.0.0';
  if (args[0] === 0) args[0] = port;
  return listen.apply(this, args);
};
const httpEmit = HttpServer.prototype.emit;
HttpServer.prototype.emit = function (name, req, ...rest) {
  if (name === 'request') {
    const kind = classify(req);
    if (kind) emit(kind);
  }
  return httpEmit.call(this, name, req, ...rest);
};

function classify(req) {
  const { method, headers } = req;
  const query = new URL(req.url ?? '/', 'http://x').searchParams;
  if (protocol === 'gcs' && method === 'PUT' && query.has('upload_id')) {
    const range = headers['content-range'] ?? '';
    return range.startsWith('bytes */') ? 'query' : /\/\d+$/.test(range) ? 'final' : 'chunk';
  }
  if (protocol === 'tus') return method === 'HEAD' ? 'query' : method === 'PATCH' ? (headers['upload-length'] === undefined ? 'chunk' : 'final') : undefined;
  if (protocol === 's3') {
    if (method === 'GET' && query.has('uploadId')) return 'query';
    if (method === 'PUT') return query.has('partNumber') ? 'chunk' : 'final';
    if (method === 'POST' && query.has('uploadId')) return 'final';
  }
  return undefined;
}

// The runner gone, nothing is left to answer: end instead of dying on EPIPE.
process.stdout.on('error', () => process.exit(0));
const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
const emit = (event) => send({ event, at: Date.now() });
const digest = (data) => (data ? { size: data.length, sha256: createHash('sha256').update(data).digest('hex') } : { size: undefined, sha256: undefined });

async function startGcs() {
  const server = await createTestServer({ port });
  return {
    session: () => ({ uri: server.createSession() }),
    object({ uri }) {
      const snapshot = server.session(uri);
      return { finalized: snapshot.finalized, persisted: snapshot.persisted, ...digest(snapshot.object?.data) };
    },
  };
}

async function startTus() {
  const tus = new Server({ path: '/files', datastore: new FileStore({ directory }) });
  const http = createServer((req, res) => void tus.handle(req, res));
  await new Promise((resolve) => http.listen(port, '0.0.0.0', resolve));
  return {
    async object({ uri }) {
      const id = new URL(uri).pathname.split('/').pop();
      const info = JSON.parse(await readFile(join(directory, `${id}.json`), 'utf8'));
      const data = await readFile(join(directory, id));
      return { finalized: info.size !== undefined && data.length === info.size, persisted: data.length, ...digest(data) };
    },
  };
}

async function startS3() {
  const s3 = await createS3TestServer();
  return {
    credentials: () => s3.credentials,
    object({ key }) {
      const data = s3.object('bkt', key);
      const open = s3.openUploads().filter((upload) => upload.key === `bkt/${key}`).length;
      return { finalized: data !== undefined, openUploads: open, ...digest(data) };
    },
  };
}

const servers = { gcs: startGcs, tus: startTus, s3: startS3 };
const server = await servers[protocol]();
send({ event: 'ready', port });
for await (const line of createInterface({ input: process.stdin })) {
  const { id, op, ...args } = JSON.parse(line);
  try {
    send({ id, ...(await server[op](args)) });
  } catch (error) {
    send({ id, error: String(error?.message ?? error) });
  }
}
process.exit(0);
