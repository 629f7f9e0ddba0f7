/**
 * `protocol: 'azure'` end to end against Azurite through the fault proxy: sizes around the block
 * size, faults on the first, middle and final block and on the commit, cancel, the credentials,
 * and a SIGKILLed process resumed from its checkpoint file.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createResumableWriteStream, type ResumableWriteStreamOptions } from '../../src/index.js';
import { AZURITE_KEY, accountSas, startAzurite, type Azurite } from './azurite.js';
import { FAST_RETRY, killAfterCheckpoint, makeData, runFixture, sha256, source } from './helpers.js';

const BLOCK = 256 * 1024;
let azurite: Azurite;
let container: string;

beforeAll(async () => {
  azurite = await startAzurite();
  container = await azurite.createContainer('stream');
});
afterAll(async () => {
  await azurite?.close();
});
afterEach(() => azurite.proxy?.clearFaults());

function azureStream(blob: string, options: Partial<ResumableWriteStreamOptions> = {}) {
  return createResumableWriteStream({
    protocol: 'azure',
    url: `${container}/${blob}`,
    azure: { accountKey: AZURITE_KEY },
    chunkSize: BLOCK,
    ...options,
    retry: { ...FAST_RETRY, ...options.retry },
  });
}

/** What each request was, in order: `block N`, `list`, `commit`, `put-blob`, `head`, with its status. */
function wire(from: number): string[] {
  return (azurite.proxy?.requests ?? []).slice(from).map((entry) => {
    const query = new URL(entry.path, 'http://x').searchParams;
    const comp = query.get('comp');
    const what = comp === 'block' ? `block ${Number(Buffer.from(query.get('blockid') ?? '', 'base64').toString('latin1').slice(16, 23))}` : comp === 'blocklist' ? (entry.method === 'GET' ? 'list' : 'commit') : entry.method === 'HEAD' ? 'head' : 'put-blob';
    return `${what} ${entry.status ?? 'dropped'}`;
  });
}

async function upload(blob: string, size: number, options: Partial<ResumableWriteStreamOptions> = {}, data = makeData(size)) {
  const before = azurite.proxy?.requests.length ?? 0;
  const stream = azureStream(blob, options);
  const error = await pipeline(source(data, 64 * 1024), stream).then(() => undefined, (caught: unknown) => caught);
  return { data, stream, error, wire: wire(before), stored: await azurite.read('stream', blob) };
}

describe('azure: sizes around the block size', () => {
  it.each([
    ['empty', 0],
    ['1 byte', 1],
    ['block − 1', BLOCK - 1],
    ['one block exactly', BLOCK],
    ['block + 1', BLOCK + 1],
    ['3 blocks exactly', 3 * BLOCK],
    ['3 blocks + 1', 3 * BLOCK + 1],
  ])('%s: the blob is exactly the bytes written, verified', async (name, size) => {
    const outcome = await upload(`sizes/${name.replace(/\W+/g, '-')}`, size);
    expect(outcome.error).toBeUndefined();
    expect(sha256(outcome.stored as Buffer)).toBe(sha256(outcome.data));
    expect(outcome.stream.result?.verified).toBe(true);
    if (size <= BLOCK) expect(outcome.wire).toEqual(['put-blob 201']);
    else expect(outcome.wire.slice(-2)).toEqual(['commit 201', 'head 200']);
  });

  it('blocks go in parallel, up to queueSize', async () => {
    azurite.proxy?.addFault({ fault: 'stall-for-100ms', method: 'PUT', times: 8 });
    const outcome = await upload('sizes/parallel', 8 * BLOCK, { queueSize: 4 });
    expect(outcome.error).toBeUndefined();
    expect(sha256(outcome.stored as Buffer)).toBe(sha256(outcome.data));
    expect(azurite.proxy?.maxInFlight).toBeGreaterThanOrEqual(2);
  });

  it('a slow block does not hold the others back: blocks stored ahead of it are forgotten, memory stays bounded', async () => {
    // The first block put is held 1.5 s at the proxy; with queueSize 2, a window of held blocks
    // would let at most one more block through meanwhile. Forgotten, they all go.
    const proxy = azurite.proxy as NonNullable<typeof azurite.proxy>;
    proxy.addFault({ fault: 'stall-for-1500ms', method: 'PUT', on: 1 });
    const before = proxy.requests.length;
    let passedBeforeAnswer: number | undefined;
    const watcher = setInterval(() => {
      const stalled = proxy.requests.slice(before).find((entry) => entry.fault !== undefined);
      if (stalled?.status !== undefined && passedBeforeAnswer === undefined) passedBeforeAnswer = wire(before).filter((line) => line.startsWith('block') && !line.endsWith('dropped')).length - 1;
    }, 5);
    try {
      const outcome = await upload('sizes/slow-block', 8 * BLOCK + 3, { queueSize: 2 });
      expect(outcome.error).toBeUndefined();
      expect(sha256(outcome.stored as Buffer)).toBe(sha256(outcome.data));
      expect(passedBeforeAnswer).toBeGreaterThanOrEqual(5);
      expect(outcome.stream.peakBytesRetained).toBeLessThanOrEqual(3 * BLOCK + 64 * 1024);
    } finally {
      clearInterval(watcher);
    }
  });
});

describe('azure: faults', () => {
  it.each([
    ['first block', 1],
    ['middle block', 2],
    ['final block', 4],
  ])('503 on the %s: that block alone is sent again; the blob is exact', async (_name, on) => {
    azurite.proxy?.addFault({ fault: 'return-503', method: 'PUT', on });
    const outcome = await upload(`faults/503-${on}`, 3 * BLOCK + 7, { queueSize: 1 });
    expect(outcome.error).toBeUndefined();
    expect(sha256(outcome.stored as Buffer)).toBe(sha256(outcome.data));
    expect(outcome.wire.filter((line) => line === `block ${on} 503`)).toHaveLength(1);
    expect(outcome.wire.filter((line) => line === `block ${on} 201`)).toHaveLength(1);
  });

  it.each([
    ['first block', 1],
    ['final block', 4],
  ])('the connection cut halfway through the %s: sent again; the blob is exact', async (_name, on) => {
    azurite.proxy?.addFault({ fault: 'return-reset-connection-after-64K', method: 'PUT', on });
    const outcome = await upload(`faults/reset-${on}`, 3 * BLOCK + 7, { queueSize: 1 });
    expect(outcome.error).toBeUndefined();
    expect(sha256(outcome.stored as Buffer)).toBe(sha256(outcome.data));
  });

  it("the commit's answer lost: the commit is sent again, finds its blocks committed, and the blob is exact", async () => {
    azurite.proxy?.addFault({ fault: 'lose-final-answer', method: 'PUT', on: 3 });
    const outcome = await upload('faults/lost-commit', 2 * BLOCK, { queueSize: 1 });
    expect(outcome.error).toBeUndefined();
    expect(sha256(outcome.stored as Buffer)).toBe(sha256(outcome.data));
    expect(outcome.wire).toEqual(['block 1 201', 'block 2 201', 'commit dropped', 'commit 201', 'head 200']);
  });

  it.each([
    ['first', 1],
    ['middle', 2],
    ['final', 3],
  ])('the %s block corrupted on the wire once: refused by its MD5, staged again, the blob is exact (one extra request)', async (_name, on) => {
    azurite.proxy?.addFault({ fault: 'corrupt-byte', method: 'PUT', on, times: 1 });
    const outcome = await upload(`faults/corrupt-once-${on}`, 3 * BLOCK, { queueSize: 1 });
    expect(outcome.error).toBeUndefined();
    expect(sha256(outcome.stored as Buffer)).toBe(sha256(outcome.data));
    expect(outcome.stream.result?.verified).toBe(true);
    const blocks = outcome.wire.filter((line) => line.startsWith('block'));
    expect(blocks).toHaveLength(4);
    expect(blocks[on - 1]).toBe(`block ${on} 400`);
    expect(blocks[on]).toBe(`block ${on} 201`);
  });

  it.each([
    ['first', 1],
    ['middle', 2],
    ['final', 3],
  ])('the %s block corrupted on every send: RWS_CHECKSUM_MISMATCH after 2 resends, nothing committed', async (_name, on) => {
    azurite.proxy?.addFault({ fault: 'corrupt-byte', method: 'PUT', on, times: 10 });
    const outcome = await upload(`faults/corrupt-${on}`, 3 * BLOCK, { queueSize: 1 });
    expect(outcome.error).toMatchObject({ code: 'RWS_CHECKSUM_MISMATCH' });
    expect(outcome.stored).toBeUndefined();
    expect(outcome.wire.filter((line) => line === `block ${on} 400`)).toHaveLength(3);
    expect(outcome.wire.some((line) => line.startsWith('commit'))).toBe(false);
  });

  it('a block refused for good (403) fails the stream and nothing is committed', async () => {
    azurite.proxy?.addFault({ fault: 'return-403', method: 'PUT', on: 2 });
    const outcome = await upload('faults/refused', 3 * BLOCK, { queueSize: 1 });
    expect(outcome.error).toMatchObject({ code: 'RWS_HTTP_STATUS', status: 403 });
    expect(outcome.stored).toBeUndefined();
    expect(outcome.wire.some((line) => line.startsWith('commit'))).toBe(false);
  });
});

describe('azure: cancel and credentials', () => {
  it('cancel(): RWS_ABORTED, no request to clean up (none can drop staged blocks), an existing blob untouched', async () => {
    await upload('cancel/existing', 10);
    const before = azurite.proxy?.requests.length ?? 0;
    const stream = azureStream('cancel/existing');
    const failed = new Promise((resolve) => stream.once('error', resolve));
    stream.write(makeData(2 * BLOCK));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await stream.cancel()).toEqual({ status: 204 });
    expect(await failed).toMatchObject({ code: 'RWS_ABORTED' });
    expect(wire(before).every((line) => line.startsWith('block'))).toBe(true);
    expect((await azurite.read('stream', 'cancel/existing'))?.length).toBe(10);
  });

  it('a SAS in the URL is the credential, and no message prints it', async () => {
    const sas = accountSas();
    const data = makeData(2 * BLOCK + 1);
    const stream = createResumableWriteStream({ protocol: 'azure', url: `${container}/creds/sas.bin?${sas}`, chunkSize: BLOCK, retry: FAST_RETRY });
    await pipeline(source(data), stream);
    expect(sha256((await azurite.read('stream', 'creds/sas.bin')) as Buffer)).toBe(sha256(data));
    azurite.proxy?.addFault({ fault: 'return-403', method: 'PUT' });
    const refused = await pipeline(source(data), createResumableWriteStream({ protocol: 'azure', url: `${container}/creds/sas2.bin?${sas}`, chunkSize: BLOCK, retry: FAST_RETRY })).catch((error: Error) => error);
    expect(String((refused as Error).message)).not.toContain(new URLSearchParams(sas).get('sig') as string);
  });
});

describe('azure: surviving a crash of the uploading process', () => {
  const script = join(import.meta.dirname, '..', 'fixtures', 'crash-upload-azure.mjs');

  it('SIGKILL mid-upload; a second process resumes from the checkpoint file (Get Block List), keeps the blocks it can verify; the blob gunzips to the file', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'rws-azure-crash-'));
    try {
      const input = join(directory, 'input.bin');
      const data = randomBytes(6 * 1024 * 1024);
      await writeFile(input, data);
      const checkpointFile = join(directory, 'checkpoint.json');
      const env = { ...process.env, AZURE_STORAGE_KEY: AZURITE_KEY };
      const url = `${container}/crash/object.gz`;
      azurite.proxy?.addFault({ fault: 'stall-for-100ms', method: 'PUT', times: 1000 });
      await killAfterCheckpoint(script, [url, input, checkpointFile, 'fresh'], 2 * 1024 * 1024, env);
      azurite.proxy?.clearFaults();
      const before = azurite.proxy?.requests.length ?? 0;
      const second = await runFixture(script, [url, input, checkpointFile, 'resume'], env);
      expect(second.output).toMatch(/done 201 verified=true/);
      expect(second.code).toBe(0);
      expect(sha256(gunzipSync((await azurite.read('stream', 'crash/object.gz')) as Buffer))).toBe(sha256(data));
      const resumed = wire(before);
      expect(resumed[0]).toBe('list 200');
      // Killed after the checkpoint at 2 MiB: the two blocks below it were kept (their ids carry their MD5).
      expect(resumed).not.toContain('block 1 201');
      expect(resumed).not.toContain('block 2 201');
      expect(resumed.slice(-2)).toEqual(['commit 201', 'head 200']);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
