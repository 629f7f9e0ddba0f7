/**
 * Real credential flows on loopback, for the credential tests: a CONNECT proxy, a TLS token
 * endpoint that answers for oauth2.googleapis.com (with a test CA made by openssl now) and checks
 * the signed JWT a service-account key makes, a GCE metadata server, an EC2 IMDSv2, and a child
 * process that runs one flow of the built library with an environment the test controls.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';

export const TOKEN_HOST = 'oauth2.googleapis.com';
export const STORAGE_SCOPE = 'https://www.googleapis.com/auth/devstorage.full_control';

const listen = async (server: Server): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};
const closer = (server: Server) => () =>
  new Promise<void>((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });

const readBody = (req: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

/** A test CA and a certificate for `host` signed by it, made with the openssl CLI in `directory`. */
export async function makeCertificates(directory: string, host: string): Promise<{ caFile: string; key: string; cert: string }> {
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: directory, stdio: 'ignore' });
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=rws-credentials-test-ca']);
  await writeFile(join(directory, 'host.ext'), `subjectAltName=DNS:${host}\n`);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'host.key', '-out', 'host.csr', '-subj', `/CN=${host}`]);
  openssl(['x509', '-req', '-in', 'host.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'host.pem', '-days', '2', '-extfile', 'host.ext']);
  return { caFile: join(directory, 'ca.pem'), key: await readFile(join(directory, 'host.key'), 'utf8'), cert: await readFile(join(directory, 'host.pem'), 'utf8') };
}

/** A service-account key file as the Cloud console makes one, with an RSA key made now. */
export function makeServiceAccountKey(): { file: Record<string, string>; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const file = {
    type: 'service_account',
    project_id: 'rws-test',
    private_key_id: randomBytes(8).toString('hex'),
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: 'uploader@rws-test.iam.gserviceaccount.com',
    client_id: '1234567890',
    token_uri: `https://${TOKEN_HOST}/token`,
  };
  return { file, publicKey };
}

export interface Grant {
  readonly grantType: string;
  /** The JWT's claims (jwt-bearer) or the refresh token's client (refresh_token). */
  readonly detail: Record<string, unknown>;
}

/**
 * Google's token endpoint, as far as a key file or gcloud's user credentials use it: a JWT
 * bearer grant must be RS256-signed by `publicKey`'s key, issued by `clientEmail` for this
 * audience with the storage scope, and current; a refresh grant must carry `refreshToken`.
 * Anything else is 400 invalid_grant, as Google answers.
 */
export async function startTokenEndpoint(tls: { key: string; cert: string }, expect: { publicKey?: KeyObject; clientEmail?: string; refreshToken?: string }, accessToken: string) {
  const grants: Grant[] = [];
  const server = createTlsServer(tls, async (req, res) => {
    const form = new URLSearchParams((await readBody(req)).toString('utf8'));
    const grantType = form.get('grant_type') ?? '';
    try {
      const detail = grantType === 'urn:ietf:params:oauth:grant-type:jwt-bearer' ? checkJwt(form.get('assertion') ?? '', expect) : checkRefresh(form, expect.refreshToken);
      grants.push({ grantType, detail });
      json(res, 200, { access_token: accessToken, expires_in: 3599, token_type: 'Bearer' });
    } catch (error) {
      json(res, 400, { error: 'invalid_grant', error_description: (error as Error).message });
    }
  });
  const port = await listen(server);
  return { port, grants, close: closer(server) };
}

function checkJwt(assertion: string, expect: { publicKey?: KeyObject; clientEmail?: string }): Record<string, unknown> {
  const [header, payload, signature] = assertion.split('.');
  if (!header || !payload || !signature || !expect.publicKey) throw new Error('Invalid JWT');
  const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
  const head = decode(header);
  if (head.alg !== 'RS256') throw new Error(`Invalid JWT header ${JSON.stringify(head)}`);
  if (!verify('RSA-SHA256', Buffer.from(`${header}.${payload}`), expect.publicKey, Buffer.from(signature, 'base64url'))) throw new Error('Invalid JWT Signature.');
  const claims = decode(payload);
  const now = Date.now() / 1000;
  if (claims.iss !== expect.clientEmail) throw new Error(`Invalid issuer ${String(claims.iss)}`);
  if (claims.aud !== `https://${TOKEN_HOST}/token`) throw new Error(`Invalid audience ${String(claims.aud)}`);
  if (!String(claims.scope ?? '').split(' ').includes(STORAGE_SCOPE)) throw new Error(`Invalid scope ${String(claims.scope)}`);
  if (!(Number(claims.iat) <= now + 60 && Number(claims.exp) > now)) throw new Error('Invalid JWT: Token must be a short-lived token and in a reasonable timeframe');
  return claims;
}

function checkRefresh(form: URLSearchParams, refreshToken: string | undefined): Record<string, unknown> {
  if (form.get('grant_type') !== 'refresh_token' || refreshToken === undefined || form.get('refresh_token') !== refreshToken) throw new Error('Bad Request');
  return { client_id: form.get('client_id') };
}

/** An HTTP CONNECT proxy on loopback: tunnels `host:port` to the loopback port `routes` names (loopback targets as they are); 403 for the rest. */
export async function startConnectProxy(routes: Record<string, number> = {}) {
  const tunnels: string[] = [];
  const sockets = new Set<{ destroy(): void }>();
  const server = createServer((_req, res) => res.writeHead(405).end('CONNECT only'));
  server.on('connect', (req: IncomingMessage, client, head: Buffer) => {
    sockets.add(client);
    const target = req.url ?? '';
    const [host, port] = target.split(':');
    const local = routes[target] ?? (host === '127.0.0.1' ? Number(port) : undefined);
    tunnels.push(target);
    if (local === undefined) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = connect(local, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client).pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const port = await listen(server);
  const close = closer(server);
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return close();
    },
  };
}

/**
 * The GCE metadata server as gcp-metadata and google-auth-library use it: every request must say
 * `Metadata-Flavor: Google` and every answer says it back (gcp-metadata's ping checks).
 */
export async function startGceMetadata(accessToken: string) {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const flavor = { 'metadata-flavor': 'Google' };
    if (req.headers['metadata-flavor'] !== 'Google') return void res.writeHead(403, flavor).end('Missing Metadata-Flavor:Google header.');
    const url = new URL(req.url ?? '/', 'http://metadata');
    if (url.pathname === '/computeMetadata/v1/instance') return void res.writeHead(200, { ...flavor, 'content-type': 'application/text' }).end('');
    if (url.pathname === '/computeMetadata/v1/instance/service-accounts/default/token') return json(res, 200, { access_token: accessToken, expires_in: 3599, token_type: 'Bearer' }, flavor);
    if (url.pathname === '/computeMetadata/v1/project/project-id') return void res.writeHead(200, flavor).end('rws-test');
    res.writeHead(404, flavor).end('not found');
  });
  const port = await listen(server);
  return { host: `127.0.0.1:${port}`, requests, close: closer(server) };
}

export interface IssuedKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly expiration: Date;
}

/**
 * EC2's IMDSv2: a session token from `PUT /latest/api/token`, required on every GET; the role
 * under `/latest/meta-data/iam/security-credentials/`, and its credentials, new ones each time
 * they are asked for (`issue` makes them).
 */
export async function startImds(issue: () => IssuedKey) {
  const sessionToken = randomBytes(16).toString('hex');
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return void res.writeHead(400).end();
      return void res.writeHead(200, { 'content-type': 'text/plain' }).end(sessionToken);
    }
    if (req.headers['x-aws-ec2-metadata-token'] !== sessionToken) return void res.writeHead(401).end();
    if (req.url === '/latest/meta-data/iam/security-credentials/') return void res.writeHead(200).end('rws-test-role');
    if (req.url === '/latest/meta-data/iam/security-credentials/rws-test-role') {
      const key = issue();
      return json(res, 200, {
        Code: 'Success',
        LastUpdated: new Date().toISOString(),
        Type: 'AWS-HMAC',
        AccessKeyId: key.accessKeyId,
        SecretAccessKey: key.secretAccessKey,
        Token: key.sessionToken,
        Expiration: key.expiration.toISOString(),
      });
    }
    res.writeHead(404).end();
  });
  const port = await listen(server);
  return { endpoint: `http://127.0.0.1:${port}`, requests, close: closer(server) };
}

/** A reverse proxy in front of `target` that records each request's headers (to see what credentials were sent). */
export async function startRecordingFront(target: string) {
  const seen: Array<Record<string, string | string[] | undefined>> = [];
  const { hostname, port } = new URL(target);
  const server = createServer((req, res) => {
    seen.push(req.headers);
    const upstream = httpRequest({ host: hostname, port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  const local = await listen(server);
  return { url: `http://127.0.0.1:${local}`, seen, close: closer(server) };
}

export const publicKeyOf = (pem: string) => createPublicKey(pem);

const FLOW = join(import.meta.dirname, '..', 'fixtures', 'credentials-flow.mjs');
const BLOCK = join(import.meta.dirname, '..', 'fixtures', 'block-packages.mjs');

export interface FlowResult {
  readonly ok: boolean;
  readonly error?: { code?: string; name?: string; message: string };
  readonly [key: string]: unknown;
}

/**
 * Runs one flow of test/fixtures/credentials-flow.mjs (against dist/) in a child with only `env`
 * (plus PATH), so the test runner's own environment neither leaks in nor changes. `block`:
 * package names the child cannot import, as if they were not installed.
 */
export function runFlow(flow: Record<string, unknown>, env: Record<string, string>, block: readonly string[] = []): Promise<FlowResult & { stderr: string }> {
  const args = [...(block.length > 0 ? ['--import', BLOCK] : []), FLOW, JSON.stringify(flow)];
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env['PATH'] ?? '', ...env, ...(block.length > 0 ? { RWS_BLOCK_PACKAGES: block.join(',') } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve({ ...(JSON.parse(line) as FlowResult), stderr });
      } catch {
        reject(new Error(`the flow printed no result (exit ${code}): ${stdout}\n${stderr}`));
      }
    });
  });
}

/** Google's STS as workload identity federation uses it: the subject token from the credential source is exchanged for an access token. */
export async function startSts(expect: { subjectToken: string; audience: string }, accessToken: string) {
  const exchanges: Array<Record<string, string>> = [];
  const server = createServer(async (req, res) => {
    // The project lookup google-auth-library makes for a pool's project number (cloud_resource_manager_url).
    if (req.method === 'GET' && req.url?.startsWith('/v1/projects/')) return json(res, 200, { projectId: 'rws-test' });
    const form = Object.fromEntries(new URLSearchParams((await readBody(req)).toString('utf8')));
    exchanges.push(form);
    if (form['grant_type'] !== 'urn:ietf:params:oauth:grant-type:token-exchange' || form['subject_token'] !== expect.subjectToken || form['audience'] !== expect.audience) {
      return json(res, 400, { error: 'invalid_grant', error_description: 'The subject token or audience is invalid.' });
    }
    json(res, 200, { access_token: accessToken, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: 3600 });
  });
  const port = await listen(server);
  return { tokenUrl: `http://127.0.0.1:${port}/v1/token`, resourceManagerUrl: `http://127.0.0.1:${port}/v1/projects/`, exchanges, close: closer(server) };
}
