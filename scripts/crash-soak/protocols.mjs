// The servers the crash soak uploads to, each with what the supervisor needs to know about
// an object: the fixture's arguments, which requests carry bytes or finalize, what is stored and
// what is left open. One set per worker, so one worker's faults never reach the other's objects.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';
import { createTusUpload } from '../../dist/index.js';
import { createS3TestServer, createTestServer, startFaultProxy } from '../../dist/testing/index.js';
import { listenOnLoopback } from '../../dist/testing/http-harness.js';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite } from './azurite.mjs';

const fixtures = join(import.meta.dirname, '..', '..', 'test', 'fixtures');
const GCS_FIXTURE = join(fixtures, 'crash-upload.mjs');
const S3_FIXTURE = join(fixtures, 'crash-upload-s3.mjs');
const GCS_MULTIPART_FIXTURE = join(fixtures, 'crash-upload-gcs-multipart.mjs');
const AZURE_FIXTURE = join(fixtures, 'crash-upload-azure.mjs');

/**
 * Calls `onEntry` for every entry a server or proxy logs, and `onStatus` when its status is set
 * (the server answered): the supervisor kills at those instants instead of polling for them.
 */
function watchLog(log, hooks) {
  const push = log.push.bind(log);
  log.push = (...entries) => {
    for (const entry of entries) {
      let status = entry.status;
      Object.defineProperty(entry, 'status', {
        enumerable: true,
        configurable: true,
        get: () => status,
        set(value) {
          status = value;
          hooks.onStatus?.(entry);
        },
      });
      hooks.onEntry?.(entry);
    }
    return push(...entries);
  };
}

/** GCS resumable sessions on the test server; answers held `latencyMs` after the server acted. */
async function startGcs() {
  // Latency after the server acts opens the window "finalized, answer not yet heard"; the rate
  // cap keeps a chunk's body on the wire long enough to be cut.
  const server = await createTestServer({ latencyMs: 15, bandwidth: 48 * 1024 * 1024 });
  const hooks = {};
  let sessionId;
  watchLog(server.requests, {
    onEntry: (entry) => entry.sessionId === sessionId && hooks.onEntry?.(entry),
    onStatus: (entry) => entry.sessionId === sessionId && hooks.onStatus?.(entry),
  });
  return {
    name: 'gcs',
    hooks,
    sizes: { min: 64 * 1024, max: 2 * 1024 * 1024, small: 0.1, textShare: 0.5 },
    isUpload: (entry) => entry.kind === 'upload',
    isFinal: (entry) => entry.kind === 'upload' && /\/\d+$/.test(entry.contentRange ?? ''),
    widenFinal() {},
    async newObject() {
      const uri = server.createSession();
      sessionId = server.session(uri).id;
      return {
        fixture: GCS_FIXTURE,
        args: (paths, resume) => [resume && existsSync(paths.checkpoint) ? '-' : uri, paths.input, paths.checkpoint, 'gcs'],
        env: {},
        stored() {
          const snapshot = server.session(uri);
          return { final: snapshot.finalized, data: snapshot.object?.data };
        },
        openUploads: () => [],
      };
    },
    close: () => server.close(),
  };
}

/** tus 1.0 on @tus/server with @tus/file-store, behind the fault proxy (as test/integration/tus-server.ts). */
async function startTus() {
  const directory = await mkdtemp(join(tmpdir(), 'rws-soak-tus-'));
  const tus = new Server({ path: '/files', datastore: new FileStore({ directory }) });
  const listener = await listenOnLoopback(createServer((req, res) => void tus.handle(req, res)));
  const proxy = await startFaultProxy({ target: `http://127.0.0.1:${listener.port}` });
  const hooks = hooksOn(proxy);
  return {
    name: 'tus',
    hooks,
    sizes: { min: 64 * 1024, max: 2 * 1024 * 1024, small: 0.1, textShare: 0.5 },
    isUpload: (entry) => entry.method === 'PATCH',
    isFinal: (entry) => entry.method === 'PATCH' && entry.headers['upload-length'] !== undefined,
    // The proxy holds each PATCH before forwarding it: a kill can land before the server has it.
    widenFinal: () => proxy.addFault({ fault: 'stall-for-20ms', method: 'PATCH', times: 1_000_000 }),
    clearFaults: () => proxy.clearFaults(),
    async newObject() {
      const url = await createTusUpload({ endpoint: `${proxy.url}/files` });
      const id = new URL(url).pathname.split('/').pop();
      return {
        fixture: GCS_FIXTURE,
        args: (paths, resume) => [resume && existsSync(paths.checkpoint) ? '-' : url, paths.input, paths.checkpoint, 'tus'],
        env: {},
        async stored() {
          const info = JSON.parse(await readFile(join(directory, `${id}.json`), 'utf8'));
          const data = await readFile(join(directory, id));
          return { final: info.size !== undefined && data.length === info.size, data };
        },
        openUploads: () => [],
      };
    },
    async close() {
      await proxy.close();
      await listener.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

const hasQuery = (entry, name) => new URL(entry.path, 'http://proxy').searchParams.has(name);
/** The parts fixtures' last argument: resume from the checkpoint file when there is one. */
const resumeMode = (paths, resume) => (resume && existsSync(paths.checkpoint) ? 'resume' : 'fresh');

/** The hooks the supervisor sets (`onEntry`, `onStatus`), called for each request the proxy logs. */
function hooksOn(proxy) {
  const hooks = {};
  watchLog(proxy.requests, { onEntry: (entry) => hooks.onEntry?.(entry), onStatus: (entry) => hooks.onStatus?.(entry) });
  return hooks;
}

/**
 * Which requests of an S3-style multipart upload (S3, GCS XML multipart) carry bytes or finalize:
 * parts and the single PUT carry bytes; Complete (a POST with the upload id) or the single PUT
 * finalizes; final-request runs hold each POST at the proxy.
 */
function multipartRequests(proxy) {
  const singlePut = (entry) => entry.method === 'PUT' && !hasQuery(entry, 'uploadId');
  return {
    isUpload: (entry) => entry.method === 'PUT',
    isSinglePut: singlePut,
    isFinal: (entry) => (entry.method === 'POST' && hasQuery(entry, 'uploadId')) || singlePut(entry),
    widenFinal: () => proxy.addFault({ fault: 'stall-for-20ms', method: 'POST', times: 1_000_000 }),
    clearFaults: () => proxy.clearFaults(),
  };
}

/** S3 multipart on the S3 test server, behind the fault proxy. */
async function startS3() {
  const s3 = await createS3TestServer();
  const proxy = await startFaultProxy({ target: s3.endpoint });
  const hooks = hooksOn(proxy);
  const env = { AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey };
  let counter = 0;
  return {
    name: 's3',
    hooks,
    // Parts are 5 MiB (the fixture's chunkSize): up to three parts, or one PutObject when small.
    sizes: { min: 5 * 1024 * 1024 + 1, max: 13 * 1024 * 1024, small: 0.1, textShare: 0.15 },
    ...multipartRequests(proxy),
    async newObject() {
      const key = `soak/object-${++counter}.gz`;
      return {
        fixture: S3_FIXTURE,
        args: (paths, resume) => [proxy.url, paths.input, paths.checkpoint, resumeMode(paths, resume)],
        env: { ...env, CRASH_S3_KEY: key },
        stored() {
          const data = s3.object('bkt', key);
          return { final: data !== undefined, data };
        },
        openUploads: () => s3.openUploads().filter((upload) => upload.key === `bkt/${key}`),
      };
    },
    async close() {
      await proxy.close();
      await s3.close();
    },
  };
}

/** GCS XML multipart on the GCS test server's multipart routes, behind the fault proxy. */
async function startGcsMultipart() {
  const token = 'crash-soak-token';
  const gcs = await createTestServer({ token });
  const proxy = await startFaultProxy({ target: gcs.url });
  const hooks = hooksOn(proxy);
  let counter = 0;
  return {
    name: 'gcs-multipart',
    hooks,
    // Parts are 5 MiB (the fixture's chunkSize), as S3: up to three parts, or one PUT when small.
    sizes: { min: 5 * 1024 * 1024 + 1, max: 13 * 1024 * 1024, small: 0.1, textShare: 0.15 },
    ...multipartRequests(proxy),
    async newObject() {
      const name = `soak/object-${++counter}.gz`;
      return {
        fixture: GCS_MULTIPART_FIXTURE,
        args: (paths, resume) => [proxy.url, paths.input, paths.checkpoint, resumeMode(paths, resume)],
        env: { GCS_TOKEN: token, CRASH_GCS_NAME: name, CRASH_GZIP: '1' },
        stored() {
          const data = gcs.object('bkt', name)?.data;
          return { final: data !== undefined, data };
        },
        // Initiated and neither completed nor cancelled, with or without parts.
        openUploads: () => gcs.multipart.openUploads().filter((upload) => upload.name === name),
      };
    },
    async close() {
      await proxy.close();
      await gcs.close();
    },
  };
}

/** Azure Block Blobs on Azurite, behind the fault proxy. */
async function startAzure() {
  const azurite = await startAzurite();
  try {
    return await azureEntry(azurite, await startFaultProxy({ target: `http://127.0.0.1:${azurite.port}` }));
  } catch (error) {
    await azurite.close();
    throw error;
  }
}

function azureEntry(azurite, proxy) {
  const hooks = hooksOn(proxy);
  const comp = (entry) => new URL(entry.path, 'http://proxy').searchParams.get('comp');
  let counter = 0;
  return {
    name: 'azure',
    hooks,
    // Blocks are 1 MiB (the fixture's chunkSize): up to four blocks, or one Put Blob when small.
    sizes: { min: 1024 * 1024 + 1, max: 4 * 1024 * 1024, small: 0.1, textShare: 0.15 },
    // Put Block and Put Blob carry the bytes; Put Block List (the commit) only names the blocks.
    isUpload: (entry) => entry.method === 'PUT' && comp(entry) !== 'blocklist',
    isSinglePut: (entry) => entry.method === 'PUT' && comp(entry) === null,
    isFinal: (entry) => entry.method === 'PUT' && (comp(entry) === 'blocklist' || comp(entry) === null),
    // A single Put Blob has no query for the proxy to match: in final-request runs every PUT (blocks too) is held.
    widenFinal: () => proxy.addFault({ fault: 'stall-for-20ms', method: 'PUT', times: 1_000_000 }),
    clearFaults: () => proxy.clearFaults(),
    async newObject() {
      const blob = `object-${++counter}.gz`;
      return {
        fixture: AZURE_FIXTURE,
        args: (paths, resume) => [`${proxy.url}/${AZURITE_ACCOUNT}/${azurite.container}/${blob}`, paths.input, paths.checkpoint, resumeMode(paths, resume)],
        env: { AZURE_STORAGE_KEY: AZURITE_KEY },
        async stored() {
          const data = await azurite.read(blob);
          return { final: data !== undefined, data };
        },
        // Staged blocks not committed, per upload id (a commit discards the blob's others).
        openUploads: () => azurite.uncommittedUploads(blob),
        // Azurite holds every blob in memory until it stops.
        dispose: () => azurite.remove(blob),
      };
    },
    async close() {
      await proxy.close();
      await azurite.close();
    },
  };
}

export const PROTOCOLS = { gcs: startGcs, tus: startTus, s3: startS3, 'gcs-multipart': startGcsMultipart, azure: startAzure };
