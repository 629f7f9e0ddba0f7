/**
 * The Azure adapter against Azurite over https (Bearer tokens need it), one operation at a time
 * through a minimal PartsCall (one attempt, no retries): the wire cases the stream's tests reach
 * only by luck — another upload's blocks, blocks already committed, blocks gone at commit, a
 * corrupt block — and each credential: Shared Key, SAS, a TokenCredential.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChecksumMismatchError, CredentialsError, HttpStatusError, SessionExpiredError, redactUrl } from '../../src/errors.js';
import type { OutgoingPart, PartsCall, PartsProtocol } from '../../src/parts/protocol.js';
import { createAzureProtocol } from '../../src/protocols/azure/adapter.js';
import { validateAzure } from '../../src/protocols/azure/options.js';
import { blockId, newUploadId, withQuery } from '../../src/protocols/azure/wire.js';
import { createUndiciTransport, type Transport } from '../../src/transport.js';
import { AZURITE_KEY, accountSas, fakeEntraToken, startAzurite, type Azurite } from './azurite.js';

const run = promisify(execFile);
let azurite: Azurite;
let container: string;
let transport: Transport;

beforeAll(async () => {
  azurite = await startAzurite({ tls: true });
  transport = createUndiciTransport({ dispatcher: azurite.dispatcher, headersTimeout: 10_000, bodyTimeout: 10_000 });
  container = await azurite.createContainer('adapter');
});
afterAll(async () => {
  await azurite?.close();
});

function callFor(protocol: PartsProtocol): PartsCall {
  const call: PartsCall = {
    async send(what, build, body) {
      const request = await build();
      const answer = await transport.send({ ...request, headers: { ...request.headers }, ...(body === undefined ? {} : { body }), signal: AbortSignal.timeout(10_000), maxBodyBytes: 1024 * 1024 });
      if (answer.status >= 200 && answer.status < 300) return answer;
      throw protocol.answerError(what, answer, call);
    },
    sendOnce: (what, build) => call.send(what, build),
    redactedUrl: redactUrl(protocol.targetUrl),
    context: () => ({}),
  };
  return call;
}

const sharedKey = { accountKey: AZURITE_KEY };

function adapter(blob: string, azure: object = sharedKey, headers: Record<string, string> = {}) {
  const protocol = createAzureProtocol(validateAzure(azure, `${container}/${blob}`, headers));
  return { protocol, call: callFor(protocol) };
}

function part(partNumber: number, bytes: Buffer, start = 0): OutgoingPart {
  return { partNumber, start, length: bytes.length, body: [bytes], digests: { md5: createHash('md5').update(bytes).digest('base64') } };
}

const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('base64');

describe('the Azure adapter on Azurite', () => {
  it('stages blocks in any order, lists only its own, commits them in order with the stream MD5 stored', async () => {
    const { protocol, call } = adapter('order.bin');
    const uploadId = await protocol.create(call);
    const other = adapter('order.bin');
    await other.protocol.putPart(other.call, newUploadId(), part(1, Buffer.from('another upload')));
    const [a, b, c] = [Buffer.from('first '), Buffer.from('second '), Buffer.from('third')];
    const stored = await Promise.all([protocol.putPart(call, uploadId, part(3, c, 13)), protocol.putPart(call, uploadId, part(1, a)), protocol.putPart(call, uploadId, part(2, b, 6))]);
    const listed = await protocol.listParts(call, uploadId);
    expect([...listed.keys()].sort()).toEqual([1, 2, 3]);
    expect(listed.get(2)).toEqual({ partNumber: 2, size: b.length, tag: blockId(uploadId, 2, md5(b)), md5Hex: createHash('md5').update(b).digest('hex') });
    const whole = Buffer.concat([a, b, c]);
    const result = await protocol.complete(call, uploadId, stored.sort((x, y) => x.partNumber - y.partNumber), { md5: md5(whole) });
    expect(result.verified).toBe(true);
    expect(await azurite.read('adapter', 'order.bin')).toEqual(whole);
    expect((await azurite.send('HEAD', `${azurite.accountUrl}/adapter/order.bin`)).headers['content-md5']).toBe(md5(whole));
  });

  it('reads an upload whose blocks are committed as completed (gone), and a blob without blocks as an upload with none', async () => {
    const { protocol, call } = adapter('listed.bin');
    const uploadId = await protocol.create(call);
    expect((await protocol.listParts(call, uploadId)).size).toBe(0);
    const stored = await protocol.putPart(call, uploadId, part(1, Buffer.from('x')));
    await protocol.complete(call, uploadId, [stored], {});
    await expect(protocol.listParts(call, uploadId)).rejects.toBeInstanceOf(SessionExpiredError);
  });

  it('commits again after a lost answer (<Latest> finds the committed blocks)', async () => {
    const { protocol, call } = adapter('twice.bin');
    const uploadId = await protocol.create(call);
    const stored = await protocol.putPart(call, uploadId, part(1, Buffer.from('once')));
    await protocol.complete(call, uploadId, [stored], { md5: md5(Buffer.from('once')) });
    const again = await protocol.complete(call, uploadId, [stored], { md5: md5(Buffer.from('once')) });
    expect(again.status).toBe(201);
    expect(await azurite.read('adapter', 'twice.bin')).toEqual(Buffer.from('once'));
  });

  it('reports blocks missing at commit as gone, and commits nothing', async () => {
    const { protocol, call } = adapter('missing.bin');
    const uploadId = await protocol.create(call);
    const stored = await protocol.putPart(call, uploadId, part(1, Buffer.from('here')));
    const missing = { ...stored, partNumber: 2, tag: blockId(uploadId, 2) };
    await expect(protocol.complete(call, uploadId, [stored, missing], {})).rejects.toBeInstanceOf(SessionExpiredError);
    expect(await azurite.read('adapter', 'missing.bin')).toBeUndefined();
  });

  it('refuses a block whose MD5 is not its bytes (RWS_CHECKSUM_MISMATCH)', async () => {
    const { protocol, call } = adapter('corrupt.bin');
    const bad = { ...part(1, Buffer.from('bytes')), digests: { md5: md5(Buffer.from('other')) } };
    await expect(protocol.putPart(call, await protocol.create(call), bad)).rejects.toBeInstanceOf(ChecksumMismatchError);
  });

  it('writes a small stream as one Put Blob with its MD5, even when the stream computed only CRC32C', async () => {
    const { protocol, call } = adapter('whole.bin', sharedKey, { 'x-ms-meta-origin': 'test', 'x-ms-blob-content-type': 'text/plain' });
    const result = await protocol.putWhole(call, [Buffer.from('small')], { crc32c: 'AAAAAA==' });
    expect(result.verified).toBe(true);
    const head = await azurite.send('HEAD', `${azurite.accountUrl}/adapter/whole.bin`);
    expect(head.headers).toMatchObject({ 'content-md5': md5(Buffer.from('small')), 'content-type': 'text/plain', 'x-ms-meta-origin': 'test' });
  });

  it('confirms a blob completed before only by its size and stored MD5', async () => {
    const { protocol, call } = adapter('whole.bin');
    const gone = new SessionExpiredError(404, 'gone');
    const written = { size: 5, digests: {}, partMd5Hex: [], md5Hex: createHash('md5').update('small').digest('hex') };
    await expect(protocol.confirmCompleted(call, written, gone)).resolves.toMatchObject({ verified: true });
    await expect(protocol.confirmCompleted(call, { ...written, md5Hex: createHash('md5').update('SMALL').digest('hex') }, gone)).rejects.toBe(gone);
    await expect(adapter('nothing.bin').protocol.confirmCompleted(call, written, gone)).rejects.toBe(gone);
  });
});

describe('Azure credentials on Azurite', () => {
  it('takes a SAS in the URL as the credential', async () => {
    const protocol = createAzureProtocol(validateAzure(undefined, `${container}/sas.bin?${accountSas()}`, {}));
    const result = await protocol.putWhole(callFor(protocol), [Buffer.from('by sas')], {});
    expect(result.status).toBe(201);
    expect(await azurite.read('adapter', 'sas.bin')).toEqual(Buffer.from('by sas'));
  });

  it('is refused, not retried, with a wrong key and with a SAS without write permission', async () => {
    const wrong = adapter('denied.bin', { accountKey: Buffer.alloc(64, 1).toString('base64') });
    const refused = await wrong.protocol.putWhole(wrong.call, [Buffer.from('no')], {}).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(HttpStatusError);
    // Azure says 403 AuthenticationFailed; Azurite with OAuth on says 400 InvalidAuthenticationInfo.
    expect([400, 403]).toContain((refused as HttpStatusError).status);
    expect(refused).toMatchObject({ retryable: false });
    const readOnly = createAzureProtocol(validateAzure(undefined, `${container}/denied.bin?${accountSas('rl')}`, {}));
    const message = String(await readOnly.putWhole(callFor(readOnly), [Buffer.from('no')], {}).catch((error: Error) => error.message));
    expect(message).toContain('403');
    expect(message).not.toMatch(/sig=[^…]/);
  });

  it('asks a TokenCredential for the storage scope and fails typed when it has none', async () => {
    const scopes: unknown[] = [];
    const credential = {
      async getToken(scope: string | string[]) {
        scopes.push(scope);
        return null;
      },
    };
    const { protocol, call } = adapter('token.bin', { credential });
    await expect(protocol.putWhole(call, [Buffer.from('t')], {})).rejects.toBeInstanceOf(CredentialsError);
    expect(scopes).toEqual(['https://storage.azure.com/.default']);
  });

  it('sends its token as Bearer, which Azurite checks (audience, issuer, lifetime)', async () => {
    const credential = { getToken: async () => ({ token: fakeEntraToken(), expiresOnTimestamp: Date.now() + 3_600_000 }) };
    const { protocol, call } = adapter('token.bin', { credential });
    await protocol.putWhole(call, [Buffer.from('by token')], {});
    expect(await azurite.read('adapter', 'token.bin')).toEqual(Buffer.from('by token'));
    const stranger = { getToken: async () => ({ token: 'not-a-jwt', expiresOnTimestamp: Date.now() + 3_600_000 }) };
    const refused = adapter('token.bin', { credential: stranger });
    await expect(refused.protocol.putWhole(refused.call, [Buffer.from('no')], {})).rejects.toMatchObject({ status: 403, retryable: false });
  });
});

describe('withQuery on a real SAS', () => {
  it('keeps every SAS parameter Azurite checks', () => {
    const sas = accountSas();
    expect(withQuery(`${container}/b?${sas}`, { comp: 'block' })).toBe(`${container}/b?${sas}&comp=block`);
  });
});

describe('DefaultAzureCredential', () => {
  it('is loaded only when no credential is given, and its absence says what to install', async () => {
    const { protocol, call } = adapter('default.bin', {});
    await expect(protocol.putWhole(call, [Buffer.from('d')], {})).rejects.toBeInstanceOf(CredentialsError);
    expect(azurite.proxy?.requests ?? []).toEqual([]);
    // Vite resolves imports its own way: the message a user sees comes from Node itself (built code).
    const script = `import('${pathToFileURL(join(import.meta.dirname, '..', '..', 'dist', 'protocols', 'azure', 'auth.js')).href}')
      .then((auth) => auth.defaultAzureCredential().getToken('s')).catch((error) => console.log(error.code, error.message))`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
    expect(stdout).toContain('RWS_CREDENTIALS');
    expect(stdout).toContain('npm install @azure/identity@^4');
  });
});
