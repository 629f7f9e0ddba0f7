/** Checkpoints, and resuming an upload a crashed process started. */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { inspect } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileCheckpointStore, createResumableWriteStream, parseCheckpoint, type Checkpoint } from '../../src/index.js';
import { createTestServer, type TestServer } from '../../src/testing/index.js';
import { FAST_RETRY, K256, makeData, sha256, source } from './helpers.js';

let server: TestServer;
let directory: string;
beforeAll(async () => {
  server = await createTestServer();
  directory = await mkdtemp(join(tmpdir(), 'rws-resume-'));
});
afterAll(async () => {
  await server.close();
  await rm(directory, { recursive: true, force: true });
});

const closed = (stream: Writable) => new Promise((resolve) => stream.once('close', resolve));

/** Uploads the first `chunks` chunks of `data`, then "crashes" (destroy); returns the last checkpoint. */
async function uploadPart(data: Buffer, chunks: number, checksum: 'crc32c' | 'both' = 'crc32c') {
  const url = server.createSession();
  const stream = createResumableWriteStream({ url, chunkSize: K256, checksum });
  const checkpoints: Checkpoint[] = [];
  stream.on('checkpoint', (checkpoint) => checkpoints.push(checkpoint));
  stream.on('error', () => {});
  const done = new Promise<void>((resolve) => stream.on('checkpoint', (checkpoint) => checkpoint.bytesCommitted >= chunks * K256 && resolve()));
  stream.write(data.subarray(0, (chunks + 1) * K256));
  await done;
  stream.destroy();
  await closed(stream);
  return { url, checkpoint: checkpoints.at(-1) as Checkpoint, checkpoints };
}

describe('checkpoints', () => {
  it('one before the first byte, one per acknowledgement, serializable, and inspect() redacts the URI', async () => {
    const data = makeData(4 * K256);
    const { url, checkpoints } = await uploadPart(data, 3);
    expect(checkpoints.map((checkpoint) => checkpoint.bytesCommitted)).toEqual([0, K256, 2 * K256, 3 * K256]);
    expect(checkpoints[0]?.crc32cState).toBe(0);
    const [first] = checkpoints as [Checkpoint];
    expect(parseCheckpoint(JSON.parse(JSON.stringify(first)))).toEqual(first);
    expect(first.url).toBe(url);
    expect(inspect(first)).not.toContain(new URL(url).searchParams.get('upload_id'));
    expect(inspect(first)).toContain('upload_id=…');
  });

  it('checkpoints come with checksum: false too (without crc32cState)', async () => {
    const stream = createResumableWriteStream({ url: server.createSession(), chunkSize: K256, checksum: false });
    const checkpoints: Checkpoint[] = [];
    stream.on('checkpoint', (checkpoint) => checkpoints.push(checkpoint));
    await pipeline(source(makeData(3 * K256 + 1)), stream);
    expect(checkpoints.map((checkpoint) => checkpoint.bytesCommitted)).toEqual([0, K256, 2 * K256, 3 * K256]);
    expect(checkpoints.every((checkpoint) => checkpoint.crc32cState === undefined)).toBe(true);
  });

  it('the file store writes atomically with mode 0600, loads, and clears', async () => {
    const path = join(directory, 'store.json');
    const store = createFileCheckpointStore(path);
    expect(await store.load()).toBeUndefined();
    const checkpoints = Array.from({ length: 20 }, (_, index) => parseCheckpoint({ version: 1, url: 'https://h/x?upload_id=s', bytesCommitted: index * K256, crc32cState: index, createdAt: 'now' }));
    await Promise.all(checkpoints.map((checkpoint) => store.save(checkpoint)));
    expect((await store.load())?.bytesCommitted).toBe(19 * K256);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await store.clear();
    expect(await store.load()).toBeUndefined();
    await store.clear();
  });

  it('a stored checkpoint is cleared once the upload succeeds', async () => {
    const path = join(directory, 'cleared.json');
    const data = makeData(3 * K256 + 1);
    await pipeline(source(data), createResumableWriteStream({ url: server.createSession(), chunkSize: K256, checkpointStore: createFileCheckpointStore(path) }));
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  // A store that cannot save: test/integration/checkpoint-safety.test.ts.
});

describe('resume', () => {
  it("from-start: the input is written again from byte 0; the committed prefix is checked and skipped", async () => {
    const data = makeData(6 * K256 + 77);
    const { url, checkpoint } = await uploadPart(data, 3);
    const before = server.session(url).requests.length;
    const stream = createResumableWriteStream({ resume: checkpoint, chunkSize: K256, retry: FAST_RETRY });
    await pipeline(source(data), stream);
    expect(await stream.committedOffset()).toBe(3 * K256);
    const snapshot = server.session(url);
    expect(sha256(snapshot.object?.data as Buffer)).toBe(sha256(data));
    expect(stream.result?.verified).toBe(true);
    const after = snapshot.requests.slice(before).map((entry) => entry.contentRange);
    expect(after[0]).toBe('bytes */*');
    expect(after[1]).toBe(`bytes ${3 * K256}-${4 * K256 - 1}/*`);
  });

  it("from-committed: the caller reopens its source at committedOffset()", async () => {
    const data = makeData(5 * K256 + 3);
    const { url, checkpoint } = await uploadPart(data, 2);
    const stream = createResumableWriteStream({ resume: checkpoint, resumeInput: 'from-committed', chunkSize: K256 });
    const offset = await stream.committedOffset();
    expect(offset).toBe(2 * K256);
    await pipeline(source(data.subarray(offset)), stream);
    expect(sha256(server.session(url).object?.data as Buffer)).toBe(sha256(data));
    expect(stream.result?.verified).toBe(true);
  });

  it('different input written again → RWS_RESUME_MISMATCH, nothing more sent', async () => {
    const data = makeData(5 * K256);
    const { url, checkpoint } = await uploadPart(data, 2);
    const other = Buffer.from(data);
    other[100] = (other[100] as number) ^ 0xff;
    const before = server.session(url).requests.length;
    const error = await pipeline(source(other), createResumableWriteStream({ resume: checkpoint, chunkSize: K256 })).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'RWS_RESUME_MISMATCH' });
    expect(server.session(url).requests.slice(before).map((entry) => entry.contentRange)).toEqual(['bytes */*']);
    expect(server.session(url).finalized).toBe(false);
  });

  it('input shorter than what the server holds → RWS_RESUME_MISMATCH', async () => {
    const data = makeData(5 * K256);
    const { checkpoint } = await uploadPart(data, 3);
    const error = await pipeline(source(data.subarray(0, K256)), createResumableWriteStream({ resume: checkpoint, chunkSize: K256, checksum: false })).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'RWS_RESUME_MISMATCH' });
  });

  it('the previous process had finished (its final answer lost): verified against what is written again', async () => {
    const url = server.createSession({ faults: ['lose-final-answer'] });
    const data = makeData(2 * K256 + 5);
    const first = createResumableWriteStream({ url, chunkSize: K256, retry: { retries: 0 } });
    const checkpoints: Checkpoint[] = [];
    first.on('checkpoint', (checkpoint) => checkpoints.push(checkpoint));
    await pipeline(source(data), first).catch(() => {});
    expect(server.session(url).finalized).toBe(true);
    const stream = createResumableWriteStream({ resume: checkpoints.at(-1) as Checkpoint, chunkSize: K256 });
    await pipeline(source(data), stream);
    expect(stream.result).toMatchObject({ status: 200, verified: true });
  });

  it('from-committed with MD5 is refused at construction', () => {
    const checkpoint = parseCheckpoint({ version: 1, url: 'https://h/x', bytesCommitted: 0, createdAt: 'now' });
    expect(() => createResumableWriteStream({ resume: checkpoint, resumeInput: 'from-committed', checksum: 'both' })).toThrow(RangeError);
    expect(() => createResumableWriteStream({ url: 'https://h/x', resume: true })).toThrow(/needs a `checkpointStore`/);
  });
});

describe('surviving a crash of the uploading process', () => {
  const script = join(import.meta.dirname, '..', 'fixtures', 'crash-upload.mjs');
  const run = (args: string[]) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, exited, output: () => output };
  };

  it('SIGKILL mid-upload; a second process resumes from the checkpoint file; the object gunzips to the file', async () => {
    const slow = await createTestServer({ latencyMs: 40 });
    const input = join(directory, 'input.log');
    const checkpointFile = join(directory, 'crash-checkpoint.json');
    // Half random (so gzip output spans many chunks), half text.
    const content = Buffer.concat([randomBytes(3 * 1024 * 1024), makeData(3 * 1024 * 1024, true)]);
    await writeFile(input, content);
    const url = slow.createSession();

    const first = run([url, input, checkpointFile]);
    const deadline = Date.now() + 15_000;
    let committed = 0;
    while (committed < 4 * K256 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      committed = await readFile(checkpointFile, 'utf8').then((text) => JSON.parse(text).bytesCommitted as number, () => 0);
    }
    first.child.kill('SIGKILL');
    expect(await first.exited).toBeNull();
    expect(committed).toBeGreaterThanOrEqual(4 * K256);
    expect(slow.session(url).finalized).toBe(false);
    const requestsBefore = slow.session(url).requests.length;

    const second = run(['-', input, checkpointFile]);
    expect(await second.exited, second.output()).toBe(0);
    expect(second.output()).toMatch(/done 200 verified=true/);
    const snapshot = slow.session(url);
    expect(gunzipSync(snapshot.object?.data as Buffer).equals(content)).toBe(true);
    // The second process started where the server stood, not from byte 0.
    const resumed = snapshot.requests.slice(requestsBefore);
    expect(resumed[0]?.contentRange).toBe('bytes */*');
    expect(Number(/^bytes (\d+)-/.exec(resumed[1]?.contentRange ?? '')?.[1])).toBeGreaterThanOrEqual(committed);
    await expect(stat(checkpointFile)).rejects.toMatchObject({ code: 'ENOENT' });
    await slow.close();
  });
});
