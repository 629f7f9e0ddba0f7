/**
 * How many connections an upload opens, counted from undici's diagnostics channel against real
 * loopback servers. A sequential upload must stay on one warm connection (a second one pays a
 * handshake and a slow start, and each then idles for a whole chunk); a fault that kills the
 * connection costs exactly one more; parallel S3 parts use at most queueSize connections.
 * Every test talks to a server or proxy on a port of its own, so connections kept alive by
 * earlier tests are not counted, nor reused.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { pipeline } from 'node:stream/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Agent, Client, Pool, type Dispatcher } from 'undici';
import { createResumableWriteStream, createTusUpload, initiateSession, type ResumableWriteStreamOptions } from '../../src/index.js';
import { createUndiciTransport } from '../../src/transport.js';
import { createS3TestServer, createTestServer, startFaultProxy, type FaultProxy, type FaultRule, type ProxyFaultRule, type S3TestServer, type TestServer } from '../../src/testing/index.js';
import { FAST_RETRY, K256, MiB, makeData, sha256, source } from './helpers.js';
import { startTusServer, type TusTestServer } from './tus-server.js';

interface Counted<T> {
  /** Connections undici opened to the server's port. */
  connections: number;
  /** Answers from that port with `Connection: close`: each costs the next request a new connection. */
  closedByServer: number;
  result: T;
}

/** Counts, from undici's diagnostics channels, what `run` does on connections to `origin`'s port. */
async function counting<T>(origin: string, run: () => Promise<T>): Promise<Counted<T>> {
  const port = new URL(origin).port;
  let connections = 0;
  let closedByServer = 0;
  const onConnected = (message: unknown) => {
    if (String((message as { connectParams: { port: string | number } }).connectParams.port) === port) connections++;
  };
  const onHeaders = (message: unknown) => {
    const { request, response } = message as { request: { origin: string }; response: { headers: Buffer[] } };
    if (new URL(request.origin).port !== port) return;
    const raw = response.headers.map(String);
    if (raw.some((value, at) => at % 2 === 0 && value.toLowerCase() === 'connection' && /close/i.test(raw[at + 1] ?? ''))) closedByServer++;
  };
  diagnosticsChannel.subscribe('undici:client:connected', onConnected);
  diagnosticsChannel.subscribe('undici:request:headers', onHeaders);
  try {
    const result = await run();
    return { connections, closedByServer, result };
  } finally {
    diagnosticsChannel.unsubscribe('undici:client:connected', onConnected);
    diagnosticsChannel.unsubscribe('undici:request:headers', onHeaders);
  }
}

async function uploadGcs(server: TestServer, size: number, faults: FaultRule[] = [], options: Partial<ResumableWriteStreamOptions> = {}) {
  const url = server.createSession({ faults });
  const data = makeData(size);
  const stream = createResumableWriteStream({ url, chunkSize: K256, retry: FAST_RETRY, ...options });
  await pipeline(source(data), stream);
  const session = server.session(url);
  expect(session.finalized).toBe(true);
  expect(sha256(session.object?.data ?? Buffer.alloc(0))).toBe(sha256(data));
  return session;
}

describe('connections: GCS', () => {
  let server: TestServer;
  beforeEach(async () => {
    server = await createTestServer();
  });
  afterEach(async () => {
    await server.close();
  });

  // The next request dispatched as soon as send() returns, as the drivers do. Through undici
  // alone, the second request would find the first connection not yet handed back, and open one.
  it.each<[string, () => Dispatcher | undefined]>([
    ['the shared default Agent', () => undefined],
    ['a caller-given Agent', () => new Agent({ connections: 16 })],
  ])('the transport: chunks sent back to back through %s share one connection', async (_name, makeDispatcher) => {
    const dispatcher = makeDispatcher();
    const transport = createUndiciTransport({ dispatcher, headersTimeout: 10_000, bodyTimeout: 10_000 });
    const url = server.createSession();
    const chunk = makeData(K256);
    const { connections } = await counting(server.url, async () => {
      for (let index = 0; index < 6; index++) {
        const range = `bytes ${index * K256}-${(index + 1) * K256 - 1}/${index === 5 ? 6 * K256 : '*'}`;
        const answer = await transport.send({ method: 'PUT', url, headers: { 'content-range': range }, body: [chunk], signal: AbortSignal.timeout(10_000), maxBodyBytes: 4096 });
        expect(answer.status).toBe(index === 5 ? 200 : 308);
      }
    });
    await dispatcher?.close();
    expect(connections).toBe(1);
  });

  it('a multi-chunk upload through the shared default Agent opens one connection', async () => {
    const { connections, result } = await counting(server.url, () => uploadGcs(server, 8 * K256 + 1000));
    expect(result.requests.filter((entry) => entry.kind === 'upload')).toHaveLength(9);
    expect(connections).toBe(1);
  });

  it('creating the session over HTTP and then uploading shares that one connection', async () => {
    const { connections } = await counting(server.url, async () => {
      const url = await initiateSession({ url: `${server.url}/upload/storage/v1/b/bkt/o?uploadType=resumable&name=one-connection` });
      await pipeline(source(makeData(4 * K256)), createResumableWriteStream({ url, chunkSize: K256, retry: FAST_RETRY }));
    });
    expect(connections).toBe(1);
  });

  it('a connection reset mid-upload costs exactly one more connection', async () => {
    const { connections, result } = await counting(server.url, () =>
      uploadGcs(server, 8 * K256, [{ fault: 'return-reset-connection-after-768K' }]),
    );
    expect(result.requests.some((entry) => entry.status === 'reset')).toBe(true);
    expect(connections).toBe(2);
  });

  it.each<[string, () => Dispatcher]>([
    ['Agent', () => new Agent({ connections: 16 })],
    ['Pool', () => new Pool(server.url, { connections: 16 })],
    ['Client', () => new Client(server.url)],
  ])('a caller-given %s is used, for one connection', async (_name, makeDispatcher) => {
    const dispatcher = makeDispatcher();
    let connectedThroughCaller = 0;
    dispatcher.on('connect', () => connectedThroughCaller++);
    try {
      const { connections } = await counting(server.url, () => uploadGcs(server, 6 * K256, [], { dispatcher }));
      expect(connections).toBe(1);
      expect(connectedThroughCaller).toBe(1);
    } finally {
      await dispatcher.close();
    }
  });
});

describe('connections: tus', () => {
  let tus: TusTestServer;
  let proxy: FaultProxy;
  beforeAll(async () => {
    tus = await startTusServer();
  });
  afterAll(async () => {
    await tus.close();
  });
  beforeEach(async () => {
    proxy = await startFaultProxy({ target: new URL(tus.directEndpoint).origin });
  });
  afterEach(async () => {
    await proxy.close();
  });

  async function uploadTus(size: number, faults: ProxyFaultRule[] = []) {
    const url = await createTusUpload({ endpoint: `${proxy.url}/files` });
    for (const fault of faults) proxy.addFault(fault);
    const data = makeData(size);
    const stream = createResumableWriteStream({ protocol: 'tus', url, chunkSize: K256, retry: FAST_RETRY });
    await pipeline(source(data), stream);
    expect(sha256((await tus.stored(url)).data)).toBe(sha256(data));
  }

  // @tus/server, behind Node's http server, answers HEAD with `Connection: close`: the upload
  // reconnects once after each HEAD, and stays on that connection.
  it('creation, HEAD and every PATCH of a multi-chunk upload: one connection, plus one per connection the server closed', async () => {
    const counted = await counting(proxy.url, () => uploadTus(6 * K256 + 10));
    expect(proxy.requests.map((entry) => entry.method)).toEqual(['POST', 'HEAD', ...Array<string>(7).fill('PATCH')]);
    expect(counted.closedByServer).toBe(1);
    expect(counted.connections).toBe(1 + counted.closedByServer);
  });

  it('a connection killed mid-PATCH costs exactly one more connection', async () => {
    const counted = await counting(proxy.url, () => uploadTus(6 * K256, [{ fault: 'return-reset-connection-after-576K', method: 'PATCH', on: 3 }]));
    expect(proxy.requests.filter((entry) => entry.fault !== undefined)).toHaveLength(1);
    // The HEAD that follows the kill closes its connection too.
    expect(counted.closedByServer).toBe(2);
    expect(counted.connections).toBe(1 + counted.closedByServer + 1);
  });
});

describe('connections: S3 multipart', () => {
  const PART = 5 * MiB;
  let s3: S3TestServer;
  let proxy: FaultProxy;
  beforeAll(async () => {
    s3 = await createS3TestServer();
  });
  afterAll(async () => {
    await s3.close();
  });
  beforeEach(async () => {
    proxy = await startFaultProxy({ target: s3.endpoint });
  });
  afterEach(async () => {
    await proxy.close();
  });

  it.each([1, 2, 3])('queueSize %i: one connection per part in flight, each kept for the next part', async (queueSize) => {
    const key = `connections-${queueSize}`;
    const data = makeData(6 * PART + 1000);
    const { connections } = await counting(proxy.url, () =>
      pipeline(
        source(data, 256 * 1024),
        createResumableWriteStream({ s3: { bucket: 'bkt', key, endpoint: proxy.url, credentials: s3.credentials, queueSize }, chunkSize: PART, retry: FAST_RETRY }),
      ),
    );
    expect(sha256(s3.object('bkt', key) ?? Buffer.alloc(0))).toBe(sha256(data));
    expect(proxy.maxInFlight).toBe(queueSize);
    expect(connections).toBe(queueSize);
  });
});
