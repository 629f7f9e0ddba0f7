/**
 * Certificates that can't be trusted: a typed RWS_TLS, not retried, with a message that says what
 * failed and how to supply a CA — and supplying it as the message says works. The upload goes to
 * the loopback test server through a real TLS terminator, with certificates made by openssl now.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createServer, type Server } from 'node:tls';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGcsSession, createResumableWriteStream, TlsError } from '../../src/index.js';
import { createTestServer, type TestServer } from '../../src/testing/index.js';
import { FAST_RETRY, K256, makeData, source } from './helpers.js';

let server: TestServer;
let directory: string;
let ca: string;
const terminators: Server[] = [];

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: directory, stdio: 'ignore' });
}

/** A server certificate for `san`, signed by the test CA or by itself, valid for `days` (negative: expired). */
async function certificate(name: string, san: string, days: number, selfSigned = false): Promise<{ key: string; cert: string }> {
  await writeFile(join(directory, `${name}.ext`), `subjectAltName=${san}\n`);
  if (selfSigned) {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', String(days), '-subj', '/CN=rws-test', '-addext', `subjectAltName=${san}`]);
  } else {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=rws-test']);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', String(days), '-extfile', `${name}.ext`]);
  }
  return { key: await readFile(join(directory, `${name}.key`), 'utf8'), cert: await readFile(join(directory, `${name}.pem`), 'utf8') };
}

/** TLS on the outside, the plain test server inside: returns the https origin. */
async function terminate(credentials: { key: string; cert: string }): Promise<string> {
  const { port } = new URL(server.url);
  const terminator = createServer(credentials, (socket) => {
    const inner = connect(Number(port), '127.0.0.1');
    socket.pipe(inner).pipe(socket);
    socket.on('error', () => inner.destroy());
    inner.on('error', () => socket.destroy());
  });
  terminator.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => terminator.listen(0, '127.0.0.1', resolve));
  terminators.push(terminator);
  return `https://127.0.0.1:${(terminator.address() as AddressInfo).port}`;
}

const httpsSession = (origin: string) => server.createSession().replace(server.url, origin);
const plainUrl = (url: string) => url.replace(/^https:\/\/[^/]+/, server.url);
const cases: Record<string, string> = {};

beforeAll(async () => {
  server = await createTestServer();
  directory = await mkdtemp(join(tmpdir(), 'rws-tls-'));
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=rws-test-ca']);
  ca = await readFile(join(directory, 'ca.pem'), 'utf8');
  cases['self-signed'] = await terminate(await certificate('self', 'IP:127.0.0.1', 2, true));
  cases['expired'] = await terminate(await certificate('expired', 'IP:127.0.0.1', -1));
  cases['wrong host name'] = await terminate(await certificate('other', 'DNS:other.example', 2));
  cases['unknown CA'] = await terminate(await certificate('good', 'IP:127.0.0.1', 2));
  cases['no TLS at that address'] = server.url.replace('http:', 'https:');
}, 60_000);
afterAll(async () => {
  await Promise.all(terminators.map((terminator) => new Promise((resolve) => terminator.close(resolve))));
  await server.close();
  await rm(directory, { recursive: true, force: true });
});

describe('TLS failures', () => {
  const expected: Record<string, [RegExp, RegExp]> = {
    'self-signed': [/DEPTH_ZERO_SELF_SIGNED_CERT/, /connect: \{ ca \}/],
    expired: [/CERT_HAS_EXPIRED/, /validity period/],
    'wrong host name': [/ERR_TLS_CERT_ALTNAME_INVALID/, /not for this host name/],
    'unknown CA': [/UNABLE_TO_VERIFY_LEAF_SIGNATURE/, /connect: \{ ca \}/],
    'no TLS at that address': [/ERR_SSL_/, /Is it an https server/],
  };
  it.each(Object.keys(expected))('%s: RWS_TLS at once, not retried, saying what failed and what to do', async (name) => {
    const url = httpsSession(cases[name] as string);
    const [code, advice] = expected[name] as [RegExp, RegExp];
    // The CA is trusted here unless the case is about the CA: each case fails for its own reason.
    const dispatcher = name === 'wrong host name' || name === 'expired' ? new Agent({ connect: { ca } }) : undefined;
    const stream = createResumableWriteStream({ url, chunkSize: K256, retry: FAST_RETRY, ...(dispatcher ? { dispatcher } : {}) });
    const retries: unknown[] = [];
    stream.on('retry', (event) => retries.push(event));
    const error = await pipeline(source(makeData(K256 + 1)), stream).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TlsError);
    expect(error).toMatchObject({ code: 'RWS_TLS', bytesCommitted: 0, url, tlsCode: expect.stringMatching(code) });
    expect((error as Error).message).toMatch(code);
    expect((error as Error).message).toMatch(advice);
    expect((error as Error).message).not.toContain(new URL(url).searchParams.get('upload_id'));
    expect(retries).toEqual([]);
    await dispatcher?.close();
  });

  it('with the CA supplied as the message says, the upload goes through', async () => {
    const url = httpsSession(cases['unknown CA'] as string);
    const dispatcher = new Agent({ connect: { ca } });
    const data = makeData(2 * K256 + 3);
    await pipeline(source(data), createResumableWriteStream({ url, chunkSize: K256, dispatcher }));
    expect(server.session(plainUrl(url)).object?.data?.equals(data)).toBe(true);
    await dispatcher.close();
  });

  it('session initiation reports it the same way', async () => {
    const error = await createGcsSession({ bucket: 'b', name: 'o', token: 't', apiEndpoint: cases['self-signed'] as string }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'RWS_TLS' });
  });
});
