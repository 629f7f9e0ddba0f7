/** Starting sessions, and sessions created lazily by a factory. */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGcsSession, createRedivisSession, createResumableWriteStream, initiateSession } from '../../src/index.js';
import { createTestServer, type TestServer } from '../../src/testing/index.js';
import { FAST_RETRY, K256, makeData, sha256, source } from './helpers.js';
import { createScriptedServer } from './scripted-server.js';

let server: TestServer;
beforeAll(async () => {
  server = await createTestServer({ token: 'secret-token' });
});
afterAll(() => server.close());

describe('createGcsSession', () => {
  it.each(['json', 'xml'] as const)('%s API: initiates, and the session takes an upload', async (api) => {
    const url = await createGcsSession({ bucket: 'bkt', name: `dir/${api}.gz`, token: 'secret-token', apiEndpoint: server.url, api, contentType: 'application/gzip' });
    expect(url).toMatch(/upload_id=/);
    const data = makeData(3 * K256 + 3);
    await pipeline(source(data), createResumableWriteStream({ url, chunkSize: K256 }));
    const object = server.object('bkt', `dir/${api}.gz`);
    expect(object?.contentType).toBe('application/gzip');
    expect(sha256(object?.data as Buffer)).toBe(sha256(data));
  });

  it.each(['json', 'xml'] as const)('%s API: custom metadata is given where GCS reads it, and stored', async (api) => {
    const name = `meta/${api}`;
    const url = await createGcsSession({ bucket: 'bkt', name, token: 'secret-token', apiEndpoint: server.url, api, metadata: { metadata: { host: 'web1' } } });
    await pipeline(source(makeData(K256 + 1)), createResumableWriteStream({ url, chunkSize: K256 }));
    expect(server.object('bkt', name)?.metadata).toEqual({ host: 'web1' });
    expect(server.session(url).requests.every((entry) => entry.ignoredHeaders.length === 0)).toBe(true);
  });

  it('getToken is asked for a token on every attempt', async () => {
    let asked = 0;
    const url = await createGcsSession({ bucket: 'b', name: 'n', apiEndpoint: server.url, getToken: async () => (++asked, 'secret-token') });
    expect(url).toMatch(/upload_id=/);
    expect(asked).toBe(1);
  });

  it('a wrong token is a typed 401 that never prints the token', async () => {
    const error = await createGcsSession({ bucket: 'b', name: 'n', apiEndpoint: server.url, token: 'WRONG-TOKEN-123' }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'RWS_HTTP_STATUS', status: 401 });
    expect(String((error as Error).message)).not.toContain('WRONG-TOKEN-123');
  });

  it('validates its options', async () => {
    await expect(createGcsSession({ bucket: '', name: 'n' })).rejects.toThrow(/`bucket` to be a non-empty string/);
    await expect(createGcsSession({ bucket: 'b', name: 'n', api: 'soap' as never })).rejects.toThrow(/`api` to be 'json' or 'xml'/);
  });
});

describe('initiateSession', () => {
  it('retries 503 and network errors, then reads Location (relative ones too)', async () => {
    const scripted = await createScriptedServer((request, res, req) => {
      if (request.number === 1) res.writeHead(503).end();
      else if (request.number === 2) req.socket.destroy();
      else res.writeHead(201, { location: '/session/abc?upload_id=xyz' }).end();
    });
    const url = await initiateSession({ url: scripted.url, retry: FAST_RETRY });
    expect(url).toBe(`${new URL(scripted.url).origin}/session/abc?upload_id=xyz`);
    expect(scripted.hits).toHaveLength(3);
    await scripted.close();
  });

  it('a 2xx without Location is a protocol error', async () => {
    const scripted = await createScriptedServer((_request, res) => res.writeHead(200).end());
    await expect(initiateSession({ url: scripted.url })).rejects.toMatchObject({ code: 'RWS_PROTOCOL' });
    await scripted.close();
  });
});

describe('createRedivisSession', () => {
  it('returns { url, id } and the session speaks the Redivis dialect', async () => {
    const session = await createRedivisSession({ table: 'user.dataset.table', size: 2 * K256 + 1, token: 'secret-token', apiEndpoint: server.url });
    expect(session.id).toMatch(/^[0-9a-f]{32}$/);
    const data = makeData(2 * K256 + 1);
    await pipeline(source(data), createResumableWriteStream({ url: session.url, chunkSize: K256, totalSize: data.length }));
    const snapshot = server.session(session.url);
    // Two chunks, and one status query: Redivis's final answer carries no digests to check.
    expect(snapshot.requests.map((entry) => entry.status)).toEqual([200, 200, 200, 200]);
    expect(sha256(snapshot.object?.data as Buffer)).toBe(sha256(data));
  });

  it('requires a size', async () => {
    await expect(createRedivisSession({ table: 't', size: -1 })).rejects.toThrow(RangeError);
  });
});

describe('url as an async factory', () => {
  it('creates the session lazily: none before the first write', async () => {
    let created = 0;
    const stream = createResumableWriteStream({ url: async () => (++created, server.createSession()), chunkSize: K256 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(created).toBe(0);
    expect(stream.redactedUrl).toBe('<session not created yet>');
    await pipeline(Readable.from([Buffer.alloc(10)]), stream);
    expect(created).toBe(1);
    expect(stream.redactedUrl).toMatch(/upload_id=…$/);
  });

  it('asks the factory at the first write, so its round trip overlaps the filling of the first chunk', async () => {
    let created = 0;
    let url = '';
    const stream = createResumableWriteStream({ url: async () => ((url = server.createSession()), ++created, url), chunkSize: K256 });
    const done = new Promise<void>((resolve, reject) => stream.on('finish', resolve).on('error', reject));
    stream.write(Buffer.alloc(10, 1));
    for (let waited = 0; created === 0 && waited < 2000; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(created).toBe(1);
    // The session exists; no byte has been sent yet (the first chunk is not full).
    expect(server.session(url).requests).toEqual([]);
    stream.end(Buffer.alloc(5, 2));
    await done;
    expect(created).toBe(1);
    expect(server.session(url).requests.map((entry) => `${entry.contentRange} ${String(entry.status)}`)).toEqual(['bytes 0-14/15 200']);
  });

  it('a factory that fails: the stream fails with its error, and it is not asked again on every write', async () => {
    const failure = new Error('no token');
    let asked = 0;
    const stream = createResumableWriteStream({ url: async () => (asked++, Promise.reject(failure)), chunkSize: K256, retry: FAST_RETRY });
    const error = await pipeline(source(makeData(3 * K256), 1024), stream).catch((caught: unknown) => caught);
    expect(error).toBe(failure);
    expect(stream.bytesCommitted).toBe(0);
    expect(asked).toBeLessThanOrEqual(2);
  });

  it('cancel() while the factory is still answering deletes the session it then gets', async () => {
    let release: ((url: string) => void) | undefined;
    const url = server.createSession();
    const stream = createResumableWriteStream({ url: () => new Promise<string>((resolve) => (release = resolve)), chunkSize: K256 });
    stream.on('error', () => undefined);
    stream.write(Buffer.alloc(10));
    for (let waited = 0; release === undefined && waited < 2000; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5));
    const cancelled = stream.cancel();
    release?.(url);
    await cancelled;
    expect(server.session(url).requests.map((entry) => entry.method)).toEqual(['DELETE']);
    expect(server.session(url).finalized).toBe(false);
  });

  it('a session gone while every byte is held: a new session, started over', async () => {
    const sessions: string[] = [];
    const factory = async () => {
      const url = server.createSession(sessions.length === 0 ? { faults: ['session-gone'] } : {});
      sessions.push(url);
      return url;
    };
    const data = makeData(K256 / 2);
    await pipeline(source(data), createResumableWriteStream({ url: factory, chunkSize: K256, retry: FAST_RETRY }));
    expect(sessions).toHaveLength(2);
    expect(server.session(sessions[0] as string).finalized).toBe(false);
    expect(sha256(server.session(sessions[1] as string).object?.data as Buffer)).toBe(sha256(data));
  });

  it('gone after bytes were released: the typed error, no new session', async () => {
    const sessions: string[] = [];
    const factory = async () => {
      const url = server.createSession({ faults: [{ fault: 'session-gone', on: 2 }] });
      sessions.push(url);
      return url;
    };
    const error = await pipeline(source(makeData(3 * K256)), createResumableWriteStream({ url: factory, chunkSize: K256 })).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'RWS_SESSION_EXPIRED', bytesCommitted: K256 });
    expect(sessions).toHaveLength(1);
  });
});
