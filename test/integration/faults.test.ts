/**
 * Every fault of the test server's vocabulary, on the first, a middle and the final request,
 * on real loopback sockets. The invariant: the stored object is exactly the bytes written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, type FaultRule, type TestServer } from '../../src/testing/index.js';
import { K256, sha256, storedBytes, upload } from './helpers.js';

let server: TestServer;
beforeAll(async () => {
  server = await createTestServer();
});
afterAll(() => server.close());

const CHUNK = 2 * K256;
// Requests: 1 = bytes 0-524287, 2 = 524288-1048575 (the middle), 3 = 1048576-1572863, 4 = final.
const SIZE = 3 * CHUNK + 17;
const WHERE = { first: 1, middle: 2, final: 'final' } as const;

const FAULTS = [
  'return-408', 'return-429', 'return-500', 'return-502', 'return-503', 'return-504',
  'return-reset-connection', 'persist-only-256K', 'omit-range', 'stall-for-1s',
];

const cases: Array<[string, keyof typeof WHERE, FaultRule]> = [];
for (const fault of FAULTS) {
  for (const where of Object.keys(WHERE) as Array<keyof typeof WHERE>) {
    const rule: FaultRule = { fault, on: WHERE[where], ...(fault === 'return-429' ? { retryAfter: 0 } : {}) };
    cases.push([fault, where, rule]);
  }
}
// "after NK" faults keep the object's first N KiB: they fire on the request that crosses N KiB.
cases.push(
  ['return-503-after-256K', 'first', { fault: 'return-503-after-256K' }],
  ['return-503-after-768K', 'middle', { fault: 'return-503-after-768K' }],
  ['return-503-after-1536K', 'final', { fault: 'return-503-after-1536K' }],
  ['return-reset-connection-after-256K', 'first', { fault: 'return-reset-connection-after-256K' }],
  ['return-reset-connection-after-768K', 'middle', { fault: 'return-reset-connection-after-768K' }],
  ['return-reset-connection-after-1536K', 'final', { fault: 'return-reset-connection-after-1536K' }],
  ['lose-final-answer', 'final', { fault: 'lose-final-answer' }],
);

describe('faults recovered: the object is exactly the bytes written', () => {
  it.each(cases)('%s on the %s request', async (_fault, _where, rule) => {
    const outcome = await upload(server, {
      size: SIZE,
      chunkSize: CHUNK,
      faults: [rule],
      // Below the 1 s stall, with room for an ordinary answer on a loaded machine.
      options: { timeouts: { headersTimeout: 600 } },
    });
    expect(outcome.error, outcome.wire.join('\n')).toBeUndefined();
    expect(sha256(storedBytes(server, outcome.uri) as Buffer)).toBe(sha256(outcome.data));
    const entries = server.session(outcome.uri).requests;
    expect(entries.some((entry) => entry.fault === rule.fault), 'the fault fired').toBe(true);
    // Exactly one request finalized the object, and nothing was sent after it. The finalizing one
    // declares the total: a request stalled at the server is processed when its stall ends, and if
    // the object exists by then it is answered 200 (as GCS answers any request to a completed
    // session) without having finalized anything — on a slow machine, before this check runs.
    const finalized = entries.findIndex((entry) => (entry.status === 200 || entry.status === 'lost') && entry.contentRange?.endsWith(`/${SIZE}`) === true);
    expect(finalized).toBeGreaterThanOrEqual(0);
    expect(entries.slice(finalized + 1).every((entry) => entry.contentRange === 'bytes */*'), outcome.wire.join('\n')).toBe(true);
  });
});

describe('recovery details', () => {
  it('a reset mid-body: status query, then resume from what the server kept', async () => {
    const outcome = await upload(server, { size: SIZE, chunkSize: CHUNK, faults: ['return-reset-connection-after-768K'] });
    expect(outcome.error).toBeUndefined();
    expect(outcome.wire.slice(0, 4)).toEqual([
      'bytes 0-524287/* 308',
      'bytes 524288-1048575/* reset',
      'bytes */* 308',
      'bytes 786432-1310719/* 308',
    ]);
    expect(outcome.retries).toHaveLength(1);
    expect(outcome.retries[0]).toMatchObject({ attempt: 1, offset: CHUNK, error: { code: 'RWS_NETWORK' } });
  });

  it('persist-only on the final request: resend the rest, then complete', async () => {
    const outcome = await upload(server, { size: CHUNK + K256 + 100, chunkSize: CHUNK, faults: [{ fault: 'persist-only-256K', on: 'final' }] });
    expect(outcome.error).toBeUndefined();
    // The final request went out whole; the server kept 256 KiB of it; the rest is resent as final.
    expect(outcome.wire.slice(1)).toEqual(['bytes 524288-786531/786532 308', 'bytes 786432-786531/786532 200']);
    expect(sha256(storedBytes(server, outcome.uri) as Buffer)).toBe(sha256(outcome.data));
  });

  it('Retry-After is honoured', async () => {
    const outcome = await upload(server, { size: 100, faults: [{ fault: 'return-429', retryAfter: 1 }] });
    expect(outcome.error).toBeUndefined();
    expect(outcome.retries[0]?.delayMs).toBeGreaterThanOrEqual(1000);
  });

  it('a stall past headersTimeout is a typed timeout, then recovered', async () => {
    const outcome = await upload(server, { size: CHUNK, faults: ['stall-for-2s'], options: { timeouts: { headersTimeout: 200 } } });
    expect(outcome.error).toBeUndefined();
    expect(outcome.retries[0]?.error).toMatchObject({ code: 'RWS_TIMEOUT' });
  });

  it('omit-range on a status query after confirmed bytes: waits and asks once more', async () => {
    const outcome = await upload(server, {
      size: 2 * CHUNK + 17,
      chunkSize: CHUNK,
      faults: [{ fault: 'return-503', on: 2 }, { fault: 'omit-range', target: 'query' }],
    });
    expect(outcome.error).toBeUndefined();
    expect(outcome.wire.slice(1, 4)).toEqual(['bytes 524288-1048575/* 503', 'bytes */* 308', 'bytes */* 308']);
  });

  it('the retry budget is restored whenever the committed offset advances', async () => {
    const outcome = await upload(server, {
      size: 4 * CHUNK,
      chunkSize: CHUNK,
      faults: ['return-503-after-256K', 'return-503-after-768K', 'return-503-after-1280K', 'return-503-after-1792K'],
      options: { retry: { retries: 1 } },
    });
    expect(outcome.error).toBeUndefined();
    expect(outcome.retries.length).toBe(4);
    expect(outcome.retries.every((event) => event.attempt === 1)).toBe(true);
  });
});
