/** Consumers: CommonJS require() on Node ≥ 20.19 (require(esm)), and the exports map by name. */
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';

const run = promisify(execFile);
let consumer: string;
beforeAll(async () => {
  consumer = await mkdtemp(join(tmpdir(), 'rws-consumer-'));
  await mkdir(join(consumer, 'node_modules'));
  await symlink(resolve(import.meta.dirname, '..', '..'), join(consumer, 'node_modules', 'resumable-write-stream'), 'dir');
});
afterAll(() => rm(consumer, { recursive: true, force: true }));

it('a CommonJS consumer can require() the package and its testing entry by name', async () => {
  const script = `
    const rws = require('resumable-write-stream');
    const testing = require('resumable-write-stream/testing');
    const ok = typeof rws.createResumableWriteStream === 'function' && typeof testing.createTestServer === 'function';
    process.stdout.write(ok ? 'ok' : 'missing');`;
  const { stdout } = await run(process.execPath, ['-e', script], { cwd: consumer });
  expect(stdout).toBe('ok');
});

it('an ESM consumer imports it by name; internals are not exported', async () => {
  const script = `
    import { createResumableWriteStream } from 'resumable-write-stream';
    let internal = 'hidden';
    try { await import('resumable-write-stream/dist/offset/upload-state.js'); internal = 'exposed'; } catch {}
    process.stdout.write(typeof createResumableWriteStream + ' ' + internal);`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: consumer });
  expect(stdout).toBe('function hidden');
});
