// Azurite (the devDependency) for the shaped-link benchmark, in the server namespace, in memory,
// with a container "bench" made (Shared Key, the well-known development account). Never part of
// npm test (test/integration/azurite.ts is the tests' harness).
// Usage: node bench/azurite.mjs '{"host":"10.99.0.2","port":8082}'  → prints {"url":…} once it listens.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { request } from 'undici';
import { authorize } from '../dist/protocols/azure/auth.js';

const { host = '127.0.0.1', port = 0 } = JSON.parse(process.argv[2] ?? '{}');
const ACCOUNT = 'devstoreaccount1';
const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const main = join(dirname(createRequire(import.meta.url).resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js');
// Every run's blocks stay in memory until the server stops: room for a whole round of 256 MiB runs.
const args = ['--blobHost', host, '--blobPort', String(port), '--inMemoryPersistence', '--extentMemoryLimit', '12288', '--disableTelemetry', '--silent', '--skipApiVersionCheck', '--loose'];
const child = spawn(process.execPath, ['--max-old-space-size=16384', main, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
let output = '';
const listening = new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`Azurite did not listen within 30 s: ${output}`)), 30_000);
  child.stdout.on('data', (chunk) => {
    output += chunk;
    const match = /listens on (https?:\/\/[^\s]+)/.exec(output);
    if (match) {
      clearTimeout(timer);
      resolve(match[1].replace(/\/$/, ''));
    }
  });
  child.once('exit', (code) => reject(new Error(`Azurite exited with ${code}: ${output}`)));
});
const origin = await listening;
const url = `${origin}/${ACCOUNT}/bench?restype=container`;
const headers = await authorize({ kind: 'shared-key', account: ACCOUNT, key: Buffer.from(KEY, 'base64') }, { method: 'PUT', url, headers: {}, contentLength: 0 });
const answer = await request(url, { method: 'PUT', headers });
await answer.body.dump();
if (answer.statusCode !== 201 && answer.statusCode !== 409) throw new Error(`creating the container answered ${answer.statusCode}`);
process.stdout.write(`${JSON.stringify({ url: origin })}\n`);
const stop = () => {
  child.once('exit', () => process.exit(0));
  child.kill('SIGTERM');
  setTimeout(() => child.kill('SIGKILL'), 5000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
