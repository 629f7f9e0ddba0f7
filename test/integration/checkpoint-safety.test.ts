/**
 * What a crash, a failing checkpoint store or a deliberate abort may leave behind: always a
 * resumable upload or a typed error, never a finalized object after a failure, no stray files,
 * and no process killed by an 'error' it could not listen to.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileCheckpointStore, createResumableWriteStream, type Checkpoint, type CheckpointStore } from '../../src/index.js';
import { createTestServer, type TestServer } from '../../src/testing/index.js';
import { FAST_RETRY, K256, killWhenPrinted, makeData, runFixture, source } from './helpers.js';

let server: TestServer;
let directory: string;
beforeAll(async () => {
  server = await createTestServer();
  directory = await mkdtemp(join(tmpdir(), 'rws-safety-'));
});
afterAll(async () => {
  await server.close();
  await rm(directory, { recursive: true, force: true });
});

const fixtures = join(import.meta.dirname, '..', 'fixtures');
const withBytes = (uri: string) => server.session(uri).requests.filter((entry) => entry.kind === 'upload');

/** A store in memory whose saves the test controls: each save runs `onSave` first. */
function controlledStore(onSave: (checkpoint: Checkpoint, index: number) => Promise<void>): CheckpointStore & { saved: Checkpoint[] } {
  const saved: Checkpoint[] = [];
  return {
    saved,
    load: async () => saved.at(-1),
    save: async (checkpoint) => {
      await onSave(checkpoint, saved.length);
      saved.push(checkpoint);
    },
    clear: async () => {
      saved.length = 0;
    },
  };
}

describe('the first checkpoint', () => {
  it('is saved (offset 0, with the session URI) before any byte leaves', async () => {
    const url = server.createSession();
    const requestsAtSave: number[] = [];
    const store = controlledStore(async (checkpoint) => {
      if (checkpoint.bytesCommitted === 0) {
        requestsAtSave.push(withBytes(url).length);
        await new Promise((resolve) => setTimeout(resolve, 100));
        requestsAtSave.push(withBytes(url).length);
      }
    });
    const data = makeData(2 * K256 + 5);
    await pipeline(source(data), createResumableWriteStream({ url, chunkSize: K256, checkpointStore: store }));
    expect(requestsAtSave).toEqual([0, 0]);
    expect(server.session(url).object?.data?.equals(data)).toBe(true);
  });

  it('a store that cannot save it fails the stream before any byte is sent', async () => {
    const url = server.createSession();
    const store = controlledStore(async () => {
      throw new Error('disk full');
    });
    const error = await pipeline(source(makeData(3 * K256)), createResumableWriteStream({ url, chunkSize: K256, checkpointStore: store })).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'RWS_CHECKPOINT', message: expect.stringMatching(/disk full/) });
    expect(withBytes(url)).toEqual([]);
  });

  it('a process killed after the server kept bytes it never acknowledged is resumed by the next', async () => {
    const input = join(directory, 'unacknowledged.bin');
    const checkpointFile = join(directory, 'unacknowledged.json');
    const content = randomBytes(3 * K256);
    await writeFile(input, content);
    // The first request keeps 256 KiB, then answers 503 asking for a 30 s wait: the process is
    // killed while it waits, holding no acknowledgement.
    const url = server.createSession({ faults: [{ fault: 'return-503-after-256K', retryAfter: 30 }] });
    await killWhenPrinted(join(fixtures, 'crash-upload.mjs'), [url, input, checkpointFile], (line) => line.startsWith('retry'));
    expect(server.session(url).persisted).toBe(K256);

    const second = await runFixture(join(fixtures, 'crash-upload.mjs'), ['-', input, checkpointFile]);
    expect(second.code, second.output).toBe(0);
    expect(second.output).toMatch(/done 200 verified=true/);
    expect(gunzipSync(server.session(url).object?.data as Buffer).equals(content)).toBe(true);
  });
});

describe('a checkpoint that cannot be saved', () => {
  it('stops the final request: nothing is finalized (a save that fails late)', async () => {
    const url = server.createSession();
    const store = controlledStore(async (checkpoint) => {
      if (checkpoint.bytesCommitted === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 150));
      throw new Error('no space left on device');
    });
    const error = await pipeline(source(makeData(2 * K256 + 100)), createResumableWriteStream({ url, chunkSize: K256, checkpointStore: store, retry: FAST_RETRY })).catch(
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({ code: 'RWS_CHECKPOINT' });
    expect(server.session(url).finalized).toBe(false);
    expect(withBytes(url).map((entry) => entry.contentRange)).not.toContain(`bytes ${2 * K256}-${2 * K256 + 99}/${2 * K256 + 100}`);
  });
});

describe('the file store', () => {
  it('refuses a path in a folder that does not exist, at once', () => {
    expect(() => createFileCheckpointStore(join(directory, 'missing-dir', 'x.json'))).toThrow(TypeError);
    expect(() => createFileCheckpointStore(join(directory, 'missing-dir', 'x.json'))).toThrow(/`path`.*missing-dir/);
  });

  it('a folder removed after the store was made fails the stream before any byte is sent', async () => {
    const folder = join(directory, 'removed');
    await mkdir(folder);
    const store = createFileCheckpointStore(join(folder, 'x.json'));
    await rm(folder, { recursive: true });
    const url = server.createSession();
    const error = await pipeline(source(makeData(3 * K256)), createResumableWriteStream({ url, chunkSize: K256, checkpointStore: store })).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'RWS_CHECKPOINT' });
    expect(withBytes(url)).toEqual([]);
  });

  it('leaves no temporary file: a killed process’s is replaced, a failed save removes its own, clear() removes both', async () => {
    const folder = await mkdtemp(join(directory, 'tmp-'));
    const path = join(folder, 'upload.json');
    const checkpoint = { version: 1, url: 'https://h/x?upload_id=secret', protocol: 'gcs', bytesCommitted: 0, createdAt: 'now' } as const;
    // What a process killed between the write and the rename leaves.
    await writeFile(`${path}.tmp`, '{"url":"https://h/x?upload_id=secret"');
    const store = createFileCheckpointStore(path);
    await store.save(checkpoint);
    expect(await readdir(folder)).toEqual(['upload.json']);
    await writeFile(`${path}.tmp`, 'left by a killed process');
    await store.clear();
    expect(await readdir(folder)).toEqual([]);
    // A rename that fails (the checkpoint path is a folder): the temporary file goes too.
    await mkdir(path);
    await writeFile(join(path, 'keep'), '');
    await expect(store.save(checkpoint)).rejects.toThrow();
    expect(await readdir(folder)).toEqual(['upload.json']);
  });

  const canMount = process.getuid?.() === 0 && spawnSync('mount', ['--version']).status === 0;
  it.runIf(canMount)('on a full filesystem: RWS_CHECKPOINT, nothing finalized, no temporary file left', async () => {
    const mountPoint = await mkdtemp(join(directory, 'full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mountPoint]);
    try {
      // Fill it, leaving less than a checkpoint's size.
      spawnSync('dd', ['if=/dev/zero', `of=${join(mountPoint, 'filler')}`, 'bs=4k', 'count=64']);
      const url = server.createSession();
      const error = await pipeline(
        source(makeData(2 * K256 + 1)),
        createResumableWriteStream({ url, chunkSize: K256, checkpointStore: createFileCheckpointStore(join(mountPoint, 'upload.json')) }),
      ).catch((caught: unknown) => caught);
      expect(error).toMatchObject({ code: 'RWS_CHECKPOINT', message: expect.stringMatching(/ENOSPC/) });
      expect(server.session(url).finalized).toBe(false);
      expect(await readdir(mountPoint)).toEqual(['filler']);
    } finally {
      execFileSync('umount', [mountPoint]);
    }
  });
});

describe('a program with no error listener', () => {
  const deliberate = join(fixtures, 'deliberate.mjs');

  it('survives `await stream.cancel()`; the stream is errored with RWS_ABORTED', async () => {
    const url = server.createSession();
    const { code, output } = await runFixture(deliberate, ['cancel', url]);
    expect(output).toBe('cancelled 499 errored=RWS_ABORTED\nalive\n');
    expect(code).toBe(0);
    expect(server.session(url).finalized).toBe(false);
  });

  it('survives its signal firing before anything was written; nothing is sent', async () => {
    const url = server.createSession();
    const { code, output } = await runFixture(deliberate, ['signal', url]);
    expect(output).toBe('aborted errored=RWS_ABORTED\nalive\n');
    expect(code).toBe(0);
    expect(server.session(url).requests).toEqual([]);
  });

  it('pipeline() still reports a cancel as RWS_ABORTED', async () => {
    const url = server.createSession();
    const stream = createResumableWriteStream({ url, chunkSize: K256 });
    stream.once('progress', () => void stream.cancel());
    const error = await pipeline(source(makeData(8 * K256)), stream).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'RWS_ABORTED' });
    expect(server.session(url).finalized).toBe(false);
  });

  const valid = { version: 1, url: 'http://127.0.0.1:1/upload?upload_id=x', protocol: 'gcs', bytesCommitted: 0, createdAt: 'now' };
  const corrupt: Array<[string, string]> = [
    ['not JSON', 'garbage'],
    ['truncated', JSON.stringify(valid).slice(0, 30)],
    ['wrong version', JSON.stringify({ ...valid, version: 2 })],
    ['no url', JSON.stringify({ ...valid, url: undefined })],
    ['negative offset', JSON.stringify({ ...valid, bytesCommitted: -1 })],
    ['unknown protocol', JSON.stringify({ ...valid, protocol: 'ftp' })],
    ['crc32cState out of range', JSON.stringify({ ...valid, crc32cState: 2 ** 33 })],
  ];
  it.each(corrupt)('survives a rejected committedOffset() (checkpoint %s): RWS_CHECKPOINT', async (name, text) => {
    const path = join(directory, `corrupt-${name.replaceAll(' ', '-')}.json`);
    await writeFile(path, text);
    const { code, output } = await runFixture(deliberate, ['from-committed', path]);
    expect(output).toBe('rejected RWS_CHECKPOINT\nalive\n');
    expect(code).toBe(0);
  });
});
