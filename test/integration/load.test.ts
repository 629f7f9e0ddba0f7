/**
 * Many streams through one dispatcher to one server: they all complete with the right bytes, and
 * a shared memory budget bounds what they hold together.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryBudget, createResumableWriteStream, type MemoryBudget } from '../../src/index.js';
import { createTestServer, type TestServer } from '../../src/testing/index.js';
import { K256 } from './helpers.js';

let server: TestServer;
beforeAll(async () => {
  // Objects are checked by their digests (MD5 and CRC32C of what the server persisted).
  server = await createTestServer({ storeObjects: false });
});
afterAll(() => server.close());

const MiB = 1024 * 1024;

function streamData(index: number, size: number): Buffer {
  const data = Buffer.alloc(size);
  for (let offset = 0; offset < size; offset += 4096) data.writeUInt32BE((index * 2654435761 + offset) >>> 0, offset);
  return data;
}

async function uploadMany(count: number, size: number, options: { chunkSize: number; memoryBudget?: MemoryBudget }) {
  const dispatcher = new Agent({ connections: 64 });
  let peakRetained = 0;
  const results = await Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const url = server.createSession({ name: `load-${index}` });
      const data = streamData(index, size);
      const stream = createResumableWriteStream({ url, dispatcher, checksum: 'both', ...options });
      const source = Readable.from((function* () {
        for (let offset = 0; offset < size; offset += 256 * 1024) {
          peakRetained = Math.max(peakRetained, stream.bytesRetained);
          yield Buffer.from(data.subarray(offset, offset + 256 * 1024));
        }
      })());
      await pipeline(source, stream);
      return { url, md5: createHash('md5').update(data).digest('base64'), result: stream.result };
    }),
  );
  await dispatcher.close();
  return { results, peakRetained };
}

describe('load', () => {
  it('200 concurrent streams of 8 MiB each through one dispatcher all complete with the right bytes', async () => {
    const { results } = await uploadMany(200, 8 * MiB, { chunkSize: 2 * MiB });
    for (const { url, md5, result } of results) {
      const object = server.session(url).object;
      expect(object?.size).toBe(8 * MiB);
      expect(object?.md5Hash).toBe(md5);
      expect(result?.verified).toBe(true);
    }
  }, 120_000);

  it('a shared memory budget: writers wait instead of holding more than it allows', async () => {
    const budget = createMemoryBudget(16 * MiB);
    const { results } = await uploadMany(40, 4 * MiB, { chunkSize: MiB, memoryBudget: budget });
    expect(results.every(({ url, md5 }) => server.session(url).object?.md5Hash === md5)).toBe(true);
    expect(budget.peakBytesReserved).toBeLessThanOrEqual(16 * MiB);
    expect(budget.bytesReserved).toBe(0);
  }, 60_000);

  // Such a source feeds writes from microtasks only; the stream gives the event loop a turn every
  // MiB, so chunk 1 reaches the server while chunk 2 is written — with a budget as without one.
  it.each([['without'], ['with']] as const)('a source that needs no I/O (a generator), %s a memory budget: chunk 1 goes out before the writer waits', async (budgeted) => {
    const chunkSize = 4 * MiB;
    const url = server.createSession({ name: `generator-${budgeted}` });
    const data = streamData(7, 6 * chunkSize);
    const stream = createResumableWriteStream({ url, chunkSize, ...(budgeted === 'with' ? { memoryBudget: createMemoryBudget(64 * MiB) } : {}) });
    const sessionId = server.session(url).id;
    let yieldedAtFirstPut: number | undefined;
    const source = Readable.from((function* () {
      for (let offset = 0; offset < data.length; offset += 64 * 1024) {
        if (yieldedAtFirstPut === undefined && server.requests.some((entry) => entry.sessionId === sessionId && entry.method === 'PUT')) yieldedAtFirstPut = offset;
        yield data.subarray(offset, offset + 64 * 1024);
      }
    })(), { objectMode: false });
    await pipeline(source, stream);
    expect(server.session(url).object?.md5Hash).toBe(createHash('md5').update(data).digest('base64'));
    // Without the turns, nothing reached the server before two chunks were held and the writer waited.
    expect(yieldedAtFirstPut).toBeGreaterThanOrEqual(chunkSize);
    expect(yieldedAtFirstPut).toBeLessThan(2 * chunkSize);
  });

  it('a budget smaller than one chunk is refused at construction', () => {
    expect(() => createResumableWriteStream({ url: server.createSession(), chunkSize: 4 * K256, memoryBudget: createMemoryBudget(K256) })).toThrow(
      /`memoryBudget` \(262144 bytes\) to hold at least one chunk/,
    );
  });

  it('a stream destroyed while waiting for the budget leaves the queue and returns what it held', async () => {
    const budget = createMemoryBudget(MiB);
    const holder = createResumableWriteStream({ url: server.createSession(), chunkSize: MiB, memoryBudget: budget });
    holder.write(Buffer.alloc(MiB / 2));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const waiter = createResumableWriteStream({ url: server.createSession(), chunkSize: MiB, memoryBudget: budget });
    waiter.on('error', () => {});
    waiter.write(Buffer.alloc(10));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(budget.bytesReserved).toBe(MiB);
    waiter.destroy();
    holder.destroy();
    await new Promise((resolve) => holder.once('close', resolve));
    expect(budget.bytesReserved).toBe(0);
  });
});
