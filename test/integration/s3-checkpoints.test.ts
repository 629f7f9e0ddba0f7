/**
 * S3 checkpoints and crashes: the upload id is checkpointed (offset 0) and saved before any part
 * goes, so a process killed at any moment leaves a checkpoint that resumes its upload — never an
 * orphaned upload; a resume adopts the parts the server has, whatever offset the checkpoint
 * says; and a checkpoint that could not be saved stops the stream before Complete.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseCheckpoint, type Checkpoint, type CheckpointStore } from '../../src/index.js';
import { MiB, killAfterCheckpoint, makeData, runFixture, sha256, source } from './helpers.js';
import { PART, s3Stream, startS3, uploadTo, type S3Bench } from './s3-helpers.js';

let bench: S3Bench;
beforeAll(async () => {
  bench = await startS3();
});
afterEach(() => bench.proxy.clearFaults());
afterAll(() => bench.close());

/** A store in memory whose save fails (after 50 ms, while the stream goes on) from its `failFrom`-th call on. */
function failingStore(failFrom: number): CheckpointStore & { saved: Checkpoint[]; history: Checkpoint[]; calls: number } {
  const store = {
    saved: [] as Checkpoint[],
    history: [] as Checkpoint[],
    calls: 0,
    load: async () => store.saved.at(-1),
    async save(checkpoint: Checkpoint) {
      store.calls++;
      if (store.calls >= failFrom) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        throw new Error('ENOSPC: no space left on device, write');
      }
      store.saved.push(checkpoint);
      store.history.push(checkpoint);
    },
    clear: async () => {
      store.saved.length = 0;
    },
  };
  return store;
}

async function until(what: string, condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 5000) throw new Error(`not within 5 s: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('s3: the upload id is checkpointed before any part goes', () => {
  it('the first checkpoint is at offset 0, right after CreateMultipartUpload, and saved before part 1 is sent', async () => {
    const store = failingStore(Infinity);
    const partsSent = () => bench.s3.requests.filter((entry) => entry.operation === 'part').length;
    const before = partsSent();
    const partsWhenSaved: number[] = [];
    const save = store.save.bind(store);
    store.save = async (checkpoint) => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      await save(checkpoint);
      partsWhenSaved.push(partsSent() - before);
    };
    await pipeline(source(makeData(2 * PART + 1)), s3Stream(bench, 'ckpt/first', { checkpointStore: store }));
    expect(partsWhenSaved[0]).toBe(0);
    expect(store.history[0]).toMatchObject({ bytesCommitted: 0, protocol: 's3', partSize: PART, url: expect.stringMatching(/\?uploadId=/) });
  });

  it('the save of that checkpoint failing: RWS_CHECKPOINT, no part sent, the upload aborted (nothing could resume it)', async () => {
    const outcome = await uploadTo(bench, 'ckpt/unsaved', 2 * PART + 1, { checkpointStore: failingStore(1) });
    expect(outcome.error).toMatchObject({ code: 'RWS_CHECKPOINT' });
    expect(outcome.wire).toEqual(['create 200', 'abort 204']);
    expect(bench.s3.openUploads().filter((upload) => upload.key === 'bkt/ckpt/unsaved')).toEqual([]);
  });
});

describe('s3: a failed checkpoint save stops the final request', () => {
  it('a save failing mid-stream (a full disk): RWS_CHECKPOINT and no CompleteMultipartUpload reached the server', async () => {
    const outcome = await uploadTo(bench, 'ckpt/full-disk', PART + 1, { checkpointStore: failingStore(2), s3: { queueSize: 1 } });
    expect(outcome.error).toMatchObject({ code: 'RWS_CHECKPOINT' });
    expect(outcome.wire.filter((line) => line.startsWith('complete'))).toEqual([]);
    expect(outcome.stored).toBeUndefined();
  });
});

describe('s3: a resume adopts what the server has', () => {
  /** A stream killed (destroyed, parts kept) once `parts` parts are on the server; a checkpoint of its upload at offset 0. */
  async function interrupted(key: string, parts: number) {
    const data = makeData(4 * PART + 7);
    const checkpoints: Checkpoint[] = [];
    // Straight to the server: a part cut by destroy() then fails there at once.
    const stream = s3Stream(bench, key, { s3: { leavePartsOnError: true, queueSize: 2, endpoint: bench.s3.endpoint } });
    stream.on('error', () => {});
    stream.on('checkpoint', (checkpoint) => checkpoints.push(checkpoint));
    stream.write(data);
    const stored = () => bench.s3.openUploads().find((upload) => upload.key === `bkt/${key}`)?.parts ?? 0;
    await until(`${parts} parts stored and a checkpoint`, () => stored() >= parts && checkpoints.length > 0);
    stream.destroy();
    await new Promise((resolve) => stream.once('close', resolve));
    // Let a request of the destroyed stream still on its way land first (same process).
    await until('every request answered', () => bench.s3.requests.every((entry) => entry.status !== 0));
    const last = JSON.parse(JSON.stringify(checkpoints.at(-1))) as Record<string, unknown>;
    return { data, checkpoint: parseCheckpoint({ ...last, bytesCommitted: 0, crc32cState: 0 }) };
  }

  it.each(['from-start', 'from-committed'] as const)('checkpoint at offset 0, parts on the server beyond it, %s: the parts are kept, the object is exact', async (resumeInput) => {
    const key = `ckpt/adopt-${resumeInput}`;
    const { data, checkpoint } = await interrupted(key, 2);
    const outcome = await uploadTo(bench, key, 0, { resume: checkpoint, resumeInput, s3: { endpoint: bench.s3.endpoint } }, data);
    expect(outcome.error).toBeUndefined();
    expect(sha256(outcome.stored as Buffer)).toBe(sha256(data));
    expect(outcome.stream.result?.verified).toBe(true);
    // (A part the destroyed stream had on its way may still be logged here, answered 500.)
    expect(outcome.wire.filter((line) => !line.endsWith(' 500'))[0]).toBe('list 200');
    expect(outcome.wire.filter((line) => line.startsWith('part') && line.endsWith(' 200')).length).toBeLessThanOrEqual(3);
    expect(outcome.wire.filter((line) => line.startsWith('create'))).toEqual([]);
  });
});

describe('s3: SIGKILL between CreateMultipartUpload and the first part’s answer', () => {
  const script = join(import.meta.dirname, '..', 'fixtures', 'crash-upload-s3.mjs');

  it('the resumed process adopts the upload: exactly one upload ever created, none left open, the object exact', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'rws-s3-early-crash-'));
    try {
      const input = join(directory, 'input.bin');
      const data = randomBytes(12 * MiB);
      await writeFile(input, data);
      const checkpointFile = join(directory, 'checkpoint.json');
      const env = { ...process.env, AWS_ACCESS_KEY_ID: bench.s3.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: bench.s3.credentials.secretAccessKey };
      const before = bench.s3.requests.length;
      // Parts are held at the proxy: none is answered before the kill.
      bench.proxy.addFault({ fault: 'stall-for-2s', method: 'PUT', times: 1000 });
      await killAfterCheckpoint(script, [bench.proxy.url, input, checkpointFile, 'fresh'], 0, env);
      expect(bench.s3.requests.slice(before).filter((entry) => entry.operation === 'part' && entry.status === 200)).toEqual([]);
      bench.proxy.clearFaults();
      const second = await runFixture(script, [bench.proxy.url, input, checkpointFile, 'resume'], env);
      expect(second.code).toBe(0);
      expect(second.output).toMatch(/done 200 verified=true/);
      expect(sha256(gunzipSync(bench.s3.object('bkt', 'crash/object.gz') as Buffer))).toBe(sha256(data));
      expect(bench.s3.requests.slice(before).filter((entry) => entry.operation === 'create')).toHaveLength(1);
      expect(bench.s3.openUploads().filter((upload) => upload.key === 'bkt/crash/object.gz')).toEqual([]);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
