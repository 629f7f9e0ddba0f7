// Azurite (the devDependency, Microsoft's Blob storage emulator) for the crash soak, started as
// test/integration/azurite.ts starts it: from node_modules, on 127.0.0.1, port 0, in memory.
// The account is Azurite's documented development account; its key is public, not a secret.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { request } from 'undici';
import { authorize } from '../../dist/protocols/azure/auth.js';
import { parseBlockLists } from '../../dist/protocols/azure/wire.js';

export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const SHARED_KEY = { kind: 'shared-key', account: AZURITE_ACCOUNT, key: Buffer.from(AZURITE_KEY, 'base64') };
const START_TIMEOUT_MS = 20_000;
const REQUEST_TIMEOUT_MS = 10_000;
/** The upload id is the first 16 characters of every block id the library makes (protocols/azure/wire.ts). */
const UPLOAD_ID_CHARS = 16;

function azuriteMain() {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js');
}

/** Starts Azurite and waits (bounded) for the port it printed. */
async function spawnAzurite() {
  const args = ['--blobHost', '127.0.0.1', '--blobPort', '0', '--inMemoryPersistence', '--extentMemoryLimit', '2048', '--disableTelemetry', '--silent', '--skipApiVersionCheck'];
  const child = spawn(process.execPath, [azuriteMain(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Azurite did not listen within ${START_TIMEOUT_MS} ms: ${output}`));
    }, START_TIMEOUT_MS);
    const onData = (chunk) => {
      output += chunk.toString();
      const match = /listens on https?:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with ${code}: ${output}`));
    });
  });
  child.stdout.resume();
  child.stderr.resume();
  return { child, port };
}

/** Azurite with a container `soak`; `send` signs a request straight to it (not through any proxy). */
export async function startAzurite() {
  const { child, port } = await spawnAzurite();
  const accountUrl = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  const send = async (method, url) => {
    const headers = await authorize(SHARED_KEY, { method, url, headers: {}, contentLength: 0 });
    const answer = await request(url, { method, headers, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
    return { status: answer.statusCode, body: Buffer.from(await answer.body.arrayBuffer()) };
  };
  const created = await send('PUT', `${accountUrl}/soak?restype=container`);
  if (created.status !== 201) throw new Error(`creating the container answered ${created.status}`);
  return {
    port,
    container: 'soak',
    async read(blob) {
      const answer = await send('GET', `${accountUrl}/soak/${blob}`);
      return answer.status === 200 ? answer.body : undefined;
    },
    /** The blob's uncommitted blocks, per upload id (Get Block List; none when the blob has no block at all). */
    async uncommittedUploads(blob) {
      const answer = await send('GET', `${accountUrl}/soak/${blob}?comp=blocklist&blocklisttype=uncommitted`);
      if (answer.status === 404) return [];
      const lists = parseBlockLists(answer.body.toString('utf8'));
      if (answer.status !== 200 || !lists) throw new Error(`Get Block List answered ${answer.status}: ${answer.body.toString('utf8').slice(0, 200)}`);
      const parts = new Map();
      for (const block of lists.uncommitted) {
        const uploadId = Buffer.from(block.name, 'base64').subarray(0, UPLOAD_ID_CHARS).toString('latin1');
        parts.set(uploadId, (parts.get(uploadId) ?? 0) + 1);
      }
      return [...parts].map(([uploadId, count]) => ({ uploadId, parts: count }));
    },
    async remove(blob) {
      await send('DELETE', `${accountUrl}/soak/${blob}`);
    },
    async close() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
