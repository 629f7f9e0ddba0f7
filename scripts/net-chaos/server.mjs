// One protocol's server, run inside the server namespace by the net-chaos runner:
//   node server.mjs gcs|tus|s3|gcs-multipart|azure PORT DIRECTORY
// It listens on every address of its namespace (the loopback servers listen on 127.0.0.1 only,
// which the client namespace cannot reach), so the client's packets cross the shaped link. It talks
// to the runner over stdin/stdout, never over the link: JSON lines in ({ id, op, ... }) and out
// (answers { id, ... }, and { event: 'chunk' | 'final' | 'query', at } as requests arrive, so the
// runner can fault the link at that instant). Every server keeps its uploads in DIRECTORY, so a
// restart on the same PORT finds them: tus's file store, the test servers' `directory` (GCS, its
// XML multipart routes, S3), Azurite's `--location`. Azurite is a process of its own behind the
// fault proxy (which lets its requests be classified here); it announces itself as a backend,
// which the runner stops through `stop-backend` before killing this process.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { createServer, Server as HttpServer } from 'node:http';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';
import { request } from 'undici';
import { authorize } from '../../dist/protocols/azure/auth.js';
import { createS3TestServer, createTestServer, startFaultProxy } from '../../dist/testing/index.js';

const [protocol, portArgument, directory] = process.argv.slice(2);
const port = Number(portArgument);

// The loopback servers listen on 127.0.0.1 (the fault proxy on a free port): here, every address of the
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
  if (protocol === 's3' || protocol === 'gcs-multipart') {
    if (method === 'GET' && query.has('uploadId')) return 'query';
    if (method === 'PUT') return query.has('partNumber') ? 'chunk' : 'final';
    if (method === 'POST' && query.has('uploadId')) return 'final';
  }
  if (protocol === 'azure' && method === 'PUT') {
    const comp = query.get('comp');
    return comp === 'block' ? 'chunk' : comp === 'blocklist' || comp === null ? 'final' : undefined;
  }
  if (protocol === 'azure' && method === 'GET' && query.get('comp') === 'blocklist') return 'query';
  return undefined;
}

// The runner gone, nothing is left to answer: end instead of dying on EPIPE.
process.stdout.on('error', () => process.exit(0));
const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
const emit = (event) => send({ event, at: Date.now() });
const digest = (data) => (data ? { size: data.length, sha256: createHash('sha256').update(data).digest('hex') } : { size: undefined, sha256: undefined });

async function startGcs() {
  const server = await createTestServer({ port, directory });
  return {
    session: () => ({ uri: server.createSession() }),
    object({ uri }) {
      const snapshot = server.session(uri);
      return { finalized: snapshot.finalized, persisted: snapshot.persisted, ...digest(snapshot.object?.data) };
    },
  };
}

/** The GCS server again, for its XML multipart routes (a process of its own: restarts are per protocol). */
async function startGcsMultipart() {
  const server = await createTestServer({ port, directory, token: 'chaos-token' });
  let seen = 0;
  return {
    credentials: () => ({ token: 'chaos-token' }),
    object({ name }) {
      const object = server.object('bkt', name);
      const open = server.multipart.openUploads().filter((upload) => upload.name === name).length;
      // The requests since the last run's question (one upload per run and protocol), as the
      // server saw them: what a failed run's record shows.
      const wire = server.multipart.requests.slice(seen).map((entry) => `${entry.operation}${entry.partNumber ?? ''} ${entry.status}`);
      seen = server.multipart.requests.length;
      return { finalized: object !== undefined, openUploads: open, wire, ...digest(object?.data) };
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
  const s3 = await createS3TestServer({ port, directory });
  return {
    credentials: () => s3.credentials,
    object({ key }) {
      const data = s3.object('bkt', key);
      const open = s3.openUploads().filter((upload) => upload.key === `bkt/${key}`).length;
      return { finalized: data !== undefined, openUploads: open, ...digest(data) };
    },
  };
}

// Azurite's development account (its key is published in Azurite's README: not a secret).
const AZURITE = { account: 'devstoreaccount1', key: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==' };

/** Azurite's output until it says where it listens (bounded). */
function azuriteListening(child) {
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Azurite did not listen within 30 s: ${output}`)), 30_000);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (/listens on/.test(output)) {
        clearTimeout(timer);
        child.stdout.resume();
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`Azurite exited with ${code}: ${output}`)));
  });
}

async function azuriteRequest(method, url) {
  const headers = await authorize({ kind: 'shared-key', account: AZURITE.account, key: Buffer.from(AZURITE.key, 'base64') }, { method, url, headers: {}, contentLength: 0 });
  const answer = await request(url, { method, headers, headersTimeout: 10_000, bodyTimeout: 10_000 });
  return { status: answer.statusCode, body: Buffer.from(await answer.body.arrayBuffer()) };
}

/**
 * Azurite on DIRECTORY (`--location`), on 127.0.0.1 inside this namespace, the fault proxy in front
 * on PORT. Azurite saves its metadata (LokiJS) every 5 s, so a SIGKILL would lose blocks it has
 * acknowledged, which Azure never does: it is stopped with SIGTERM (it saves, then exits) instead.
 */
async function startAzure() {
  const main = join(dirname(createRequire(import.meta.url).resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js');
  const backendPort = port + 100;
  const args = ['--blobHost', '127.0.0.1', '--blobPort', String(backendPort), '--location', directory, '--disableTelemetry', '--silent', '--skipApiVersionCheck', '--loose'];
  const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  await azuriteListening(child);
  const backend = `http://127.0.0.1:${backendPort}/${AZURITE.account}`;
  const created = await azuriteRequest('PUT', `${backend}/chaos?restype=container`);
  if (created.status !== 201 && created.status !== 409) throw new Error(`creating the container answered ${created.status}`);
  const proxy = await startFaultProxy({ target: `http://127.0.0.1:${backendPort}` });
  return {
    credentials: () => ({ account: AZURITE.account, accountKey: AZURITE.key }),
    async object({ blob }) {
      const answer = await azuriteRequest('GET', `${backend}/chaos/${blob}`);
      const blocks = await azuriteRequest('GET', `${backend}/chaos/${blob}?comp=blocklist&blocklisttype=uncommitted`);
      // Uncommitted blocks are Azure's open upload: nothing drops them but a commit or 7 days.
      const open = blocks.status === 200 && /<UncommittedBlocks>\s*<Block>/.test(blocks.body.toString()) ? 1 : 0;
      return { finalized: answer.status === 200, openUploads: open, ...digest(answer.status === 200 ? answer.body : undefined) };
    },
    async 'stop-backend'() {
      await proxy.close();
      const exited = new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      return {};
    },
  };
}

const servers = { gcs: startGcs, tus: startTus, s3: startS3, 'gcs-multipart': startGcsMultipart, azure: startAzure };
const server = await servers[protocol]();
send({ event: 'ready', port, backend: typeof server['stop-backend'] === 'function' });
for await (const line of createInterface({ input: process.stdin })) {
  const { id, op, ...args } = JSON.parse(line);
  try {
    send({ id, ...(await server[op](args)) });
  } catch (error) {
    send({ id, error: String(error?.message ?? error) });
  }
}
process.exit(0);
