/**
 * Azurite (Microsoft's Blob storage emulator, a devDependency) for the Azure tests: one process
 * per test file, on a free loopback port, in memory, with the fault proxy in front. The account
 * is Azurite's documented development account; its key is public, not a secret.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { Agent, request, type Dispatcher } from 'undici';
import { authorize, type AzureAuth } from '../../src/protocols/azure/auth.js';
import { startFaultProxy, type FaultProxy } from '../../src/testing/index.js';

export const AZURITE_ACCOUNT = 'devstoreaccount1';
/** Azurite's well-known development key (published in its README). */
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const SHARED_KEY: AzureAuth = { kind: 'shared-key', account: AZURITE_ACCOUNT, key: Buffer.from(AZURITE_KEY, 'base64') };
const START_TIMEOUT_MS = 20_000;

export interface Azurite {
  /** `http(s)://127.0.0.1:PORT/devstoreaccount1`: Azurite itself. */
  readonly accountUrl: string;
  /** The fault proxy in front of Azurite (over http only: the proxy speaks no TLS). */
  readonly proxy: FaultProxy | undefined;
  /** With `tls`: an undici dispatcher that trusts Azurite's self-signed certificate. */
  readonly dispatcher: Dispatcher | undefined;
  /** A container's URL (through the proxy over http, straight over https), created now. */
  createContainer(name: string): Promise<string>;
  /** A signed request straight to Azurite (Shared Key), to look at what it holds. */
  send(method: 'GET' | 'HEAD' | 'PUT' | 'DELETE', url: string, headers?: Record<string, string>, body?: Buffer): Promise<{ status: number; headers: Record<string, string | undefined>; body: Buffer }>;
  /** The blob's bytes, or undefined when it does not exist (committed). */
  read(container: string, blob: string): Promise<Buffer | undefined>;
  close(): Promise<void>;
}

function azuriteMain(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js');
}

/** A self-signed certificate for 127.0.0.1, made by openssl now. */
function selfSignedCertificate(directory: string): { cert: string; key: string } {
  const [cert, key] = [join(directory, 'cert.pem'), join(directory, 'key.pem')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=azurite-test', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { cert, key };
}

/** Starts Azurite on port 0 and waits (bounded) for the port it printed. */
async function spawnAzurite(tls: { cert: string; key: string } | undefined): Promise<{ child: ChildProcess; port: number }> {
  const args = ['--blobHost', '127.0.0.1', '--blobPort', '0', '--inMemoryPersistence', '--extentMemoryLimit', '512', '--disableTelemetry', '--silent', '--skipApiVersionCheck'];
  // Bearer tokens only over https, as Azure; "basic" checks a token's claims, not its signature.
  if (tls) args.push('--cert', tls.cert, '--key', tls.key, '--oauth', 'basic');
  const child = spawn(process.execPath, [azuriteMain(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Azurite did not listen within ${START_TIMEOUT_MS} ms: ${output}`));
    }, START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listens on https?:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with ${code}: ${output}`));
    });
  });
  child.stdout?.resume();
  child.stderr?.resume();
  return { child, port };
}

/** Azurite over http with the fault proxy in front, or over https (`tls`) with Entra tokens checked. */
export async function startAzurite(options: { tls?: boolean } = {}): Promise<Azurite> {
  const directory = options.tls ? mkdtempSync(join(tmpdir(), 'rws-azurite-')) : undefined;
  const tls = directory === undefined ? undefined : selfSignedCertificate(directory);
  const { child, port } = await spawnAzurite(tls);
  const accountUrl = `${tls ? 'https' : 'http'}://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  const proxy = tls ? undefined : await startFaultProxy({ target: `http://127.0.0.1:${port}` });
  const dispatcher = tls ? new Agent({ connect: { ca: readFileSync(tls.cert, 'utf8') } }) : undefined;
  const exposed = proxy ? `${proxy.url}/${AZURITE_ACCOUNT}` : accountUrl;
  const send: Azurite['send'] = async (method, url, headers = {}, body) => {
    const signed = await authorize(SHARED_KEY, { method, url, headers, contentLength: body?.byteLength ?? 0 });
    const answer = await request(url, { method, headers: signed, ...(dispatcher ? { dispatcher } : {}), ...(body === undefined ? {} : { body }) });
    const bytes = Buffer.from(await answer.body.arrayBuffer());
    return { status: answer.statusCode, headers: answer.headers as Record<string, string | undefined>, body: bytes };
  };
  return {
    accountUrl,
    proxy,
    dispatcher,
    async createContainer(name) {
      const answer = await send('PUT', `${accountUrl}/${name}?restype=container`);
      if (answer.status !== 201) throw new Error(`creating container ${name}: ${answer.status} ${answer.body.toString()}`);
      return `${exposed}/${name}`;
    },
    send,
    async read(container, blob) {
      const answer = await send('GET', `${accountUrl}/${container}/${blob}`);
      return answer.status === 200 ? answer.body : undefined;
    },
    async close() {
      await proxy?.close();
      await dispatcher?.close();
      if (directory) rmSync(directory, { recursive: true, force: true });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** An account SAS (blob service; container and object; read, write, list) valid for an hour, as a query string. */
export function accountSas(permissions = 'rwl'): string {
  const fields = { sv: '2021-06-08', ss: 'b', srt: 'co', sp: permissions, se: new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z'), spr: 'https,http' };
  const toSign = [AZURITE_ACCOUNT, fields.sp, fields.ss, fields.srt, '', fields.se, '', fields.spr, fields.sv, '', ''].join('\n');
  const sig = createHmac('sha256', Buffer.from(AZURITE_KEY, 'base64')).update(toSign, 'utf8').digest('base64');
  return new URLSearchParams({ ...fields, sig }).toString();
}

/** A token Azurite's "basic" OAuth accepts: an unsigned JWT for Blob storage, valid for an hour. */
export function fakeEntraToken(): string {
  const now = Math.floor(Date.now() / 1000);
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const claims = { aud: 'https://storage.azure.com', iss: 'https://sts.windows.net/00000000-0000-0000-0000-000000000000/', iat: now - 60, nbf: now - 60, exp: now + 3600 };
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims)}.`;
}
