/**
 * "after NK" means one thing in the GCS test server and in the fault proxy (faults.ts): N KiB
 * into the object. The same fault, injected by the server or by the proxy in front of it, leaves
 * the session in the same state; a request that names no offset counts from its body's start.
 */
import { createServer } from 'node:http';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, startFaultProxy, type FaultProxy, type TestServer } from '../../src/testing/index.js';
import { listenOnLoopback, type LoopbackListener } from '../../src/testing/http-harness.js';
import { K256 } from './helpers.js';

const KIB = 1024;
let server: TestServer;
let proxy: FaultProxy;

beforeAll(async () => {
  // Persistence to the KiB, so the kept bytes show exactly where the cut was.
  server = await createTestServer({ persistStep: KIB });
  proxy = await startFaultProxy({ target: server.url });
});
afterAll(async () => {
  await Promise.all([proxy.close(), server.close()]);
});

/** Waits (at most 5 s) until `done` holds; the assertions after it say what was wrong otherwise. */
async function until(done: () => boolean): Promise<void> {
  for (let waited = 0; !done() && waited < 5000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** PUTs chunks of 256 KiB from offset 0 until one fails; the statuses, 'dropped' for a cut connection. */
async function putChunks(url: string, count: number): Promise<Array<number | 'dropped'>> {
  const outcomes: Array<number | 'dropped'> = [];
  for (let index = 0; index < count; index++) {
    const start = index * K256;
    const outcome = await request(url, {
      method: 'PUT',
      headers: { 'content-range': `bytes ${start}-${start + K256 - 1}/*`, 'content-length': String(K256) },
      body: Buffer.alloc(K256, index + 1),
    }).then(
      async (answer) => (await answer.body.dump(), answer.statusCode),
      () => 'dropped' as const,
    );
    outcomes.push(outcome);
    if (outcome !== 308) break;
  }
  return outcomes;
}

/** The same session state, with the fault armed in the server or in the proxy. */
async function viaServerAndProxy(fault: string): Promise<Array<{ outcomes: Array<number | 'dropped'>; persisted: number }>> {
  const direct = server.createSession({ faults: [fault] });
  const directOutcomes = await putChunks(direct, 3);
  const proxied = server.createSession().replace(server.url, proxy.url);
  proxy.addFault({ fault, method: 'PUT' });
  const proxiedOutcomes = await putChunks(proxied, 3);
  // The target notices the cut connection a moment after the client does: its last request is logged complete then.
  await until(() => server.session(proxied.replace(proxy.url, server.url)).requests.every((entry) => entry.status !== undefined));
  return [
    { outcomes: directOutcomes, persisted: server.session(direct).persisted },
    { outcomes: proxiedOutcomes, persisted: server.session(proxied.replace(proxy.url, server.url)).persisted },
  ];
}

describe('"after NK" counts object offsets, in the server and in the proxy alike', () => {
  it('return-reset-connection-after-320K: the first chunk goes through, the second is cut 64 KiB in', async () => {
    const [direct, proxied] = await viaServerAndProxy('return-reset-connection-after-320K');
    expect(direct).toEqual({ outcomes: [308, 'dropped'], persisted: 320 * KIB });
    expect(proxied).toEqual(direct);
  });

  it('return-503-after-576K: 503 on the third chunk, with the bytes before 576 KiB kept', async () => {
    const [direct, proxied] = await viaServerAndProxy('return-503-after-576K');
    expect(direct).toEqual({ outcomes: [308, 308, 503], persisted: 576 * KIB });
    expect(proxied).toEqual(direct);
  });

  it('the proxy reads the offset from tus Upload-Offset; a request naming none counts from its body', async () => {
    const received: number[] = [];
    const target = createServer((req, res) => {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => (bytes += chunk.length));
      req.on('close', () => received.push(bytes));
      req.on('end', () => res.writeHead(204).end());
    });
    const listener: LoopbackListener = await listenOnLoopback(target);
    const front = await startFaultProxy({ target: `http://127.0.0.1:${listener.port}` });
    try {
      front.addFault({ fault: 'return-reset-connection-after-320K', method: 'PATCH' });
      front.addFault({ fault: 'return-reset-connection-after-64K', method: 'PUT' });
      const send = (method: string, headers: Record<string, string>) =>
        request(`${front.url}/x`, { method, headers: { ...headers, 'content-length': String(K256) }, body: Buffer.alloc(K256) }).then(
          async (answer) => (await answer.body.dump(), answer.statusCode),
          () => 'dropped',
        );
      expect(await send('PATCH', { 'upload-offset': '0' })).toBe(204);
      expect(await send('PATCH', { 'upload-offset': String(K256) })).toBe('dropped');
      expect(await send('PUT', {})).toBe('dropped');
      await until(() => received.length === 3);
      // Closes may land in either order under load: the counts, not their order.
      expect([...received].sort((a, b) => a - b)).toEqual([64 * KIB, 64 * KIB, K256]);
      expect(front.requests.map((entry) => entry.fault)).toEqual([undefined, 'return-reset-connection-after-320K', 'return-reset-connection-after-64K']);
    } finally {
      await front.close();
      await listener.close();
    }
  });

  it('the proxy refuses the faults only a GCS server can do, naming those it can', () => {
    expect(() => proxy.addFault({ fault: 'omit-range' })).toThrow(/can't do "omit-range": only return-NNN\[-after-NK\], return-reset-connection\[-after-NK\], stall-for-Ts, lose-final-answer, corrupt-byte/);
  });
});
