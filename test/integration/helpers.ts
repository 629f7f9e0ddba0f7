import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { createResumableWriteStream, type ResumableWriteStream, type ResumableWriteStreamOptions, type RetryEvent } from '../../src/index.js';
import type { FaultRule, SessionOptions, TestServer } from '../../src/testing/index.js';

export const K256 = 262144;
export const MiB = 1024 * 1024;

/** Fast retries for tests: the behaviour is the same, only the waits are shorter. */
export const FAST_RETRY = { minTimeout: 5, maxTimeout: 50, requeryDelay: 20 } as const;

export const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Random bytes, or compressible text when `compressible`. */
export function makeData(size: number, compressible = false): Buffer {
  if (!compressible) return randomBytes(size);
  const line = Buffer.from('2026-11-22T02:39:00Z INFO shipping log line with some repeated words\n');
  const data = Buffer.alloc(size);
  for (let offset = 0; offset < size; offset += line.length) line.copy(data, offset);
  // A little entropy so gzip output is not trivially small.
  for (let offset = 0; offset < size; offset += 997) data[offset] = offset & 255;
  return data;
}

/** Yields `data` in writes of `writeSize` (subarrays: no copies). */
export function source(data: Buffer, writeSize = 64 * 1024): Readable {
  return Readable.from((function* () {
    for (let offset = 0; offset < data.length; offset += writeSize) yield data.subarray(offset, offset + writeSize);
  })(), { objectMode: false });
}

export interface UploadCase {
  size: number;
  chunkSize?: number;
  writeSize?: number;
  faults?: ReadonlyArray<FaultRule | string>;
  gzip?: boolean;
  session?: SessionOptions;
  options?: Partial<ResumableWriteStreamOptions>;
}

export interface UploadOutcome {
  uri: string;
  data: Buffer;
  /** What the server should hold: `data`, or its gzip. */
  expected: Buffer | undefined;
  stream: ResumableWriteStream;
  error: unknown;
  retries: RetryEvent[];
  /** Content-Range and answer of every request to the session, in order. */
  wire: string[];
}

export async function upload(server: TestServer, spec: UploadCase): Promise<UploadOutcome> {
  const uri = server.createSession({ ...spec.session, faults: spec.faults ?? [] });
  const data = makeData(spec.size, spec.gzip);
  const stream = createResumableWriteStream({
    url: uri,
    chunkSize: spec.chunkSize ?? 2 * K256,
    ...spec.options,
    retry: { ...FAST_RETRY, ...spec.options?.retry },
  });
  const retries: RetryEvent[] = [];
  stream.on('retry', (event) => retries.push(event));
  const gzipped: Buffer[] = [];
  const steps = spec.gzip
    ? pipeline(source(data, spec.writeSize), createGzip(), async function* (chunks) {
        for await (const chunk of chunks) {
          gzipped.push(chunk as Buffer);
          yield chunk;
        }
      }, stream)
    : pipeline(source(data, spec.writeSize), stream);
  const error = await steps.then(() => undefined, (caught: unknown) => caught);
  const snapshot = server.session(uri);
  return {
    uri,
    data,
    expected: spec.gzip ? Buffer.concat(gzipped) : data,
    stream,
    error,
    retries,
    wire: snapshot.requests.map((entry) => `${entry.contentRange ?? entry.method} ${String(entry.status)}`),
  };
}

export function storedBytes(server: TestServer, uri: string): Buffer | undefined {
  return server.session(uri).object?.data;
}

/**
 * Starts a crash fixture (test/fixtures/crash-upload*.mjs), waits until it prints a checkpoint at
 * or past `offset`, kills it with SIGKILL and waits for it to die. Rejects when it ends first or
 * has not got that far within `timeoutMs`.
 */
export function killAfterCheckpoint(script: string, args: string[], offset: number, env?: NodeJS.ProcessEnv, timeoutMs = 20_000): Promise<void> {
  return killWhenPrinted(script, args, (line) => Number(/checkpoint (\d+)/.exec(line)?.[1] ?? -1) >= offset, env, timeoutMs);
}

/** Starts a fixture and SIGKILLs it as soon as it prints a line that `shouldKill` accepts. */
export async function killWhenPrinted(script: string, args: string[], shouldKill: (line: string) => boolean, env?: NodeJS.ProcessEnv, timeoutMs = 20_000): Promise<void> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'], ...(env ? { env } : {}) });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`the fixture printed nothing to kill it for within ${timeoutMs} ms`)), timeoutMs);
      child.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().split('\n').some(shouldKill)) resolve();
      });
      child.once('exit', () => reject(new Error('the fixture ended before it was killed')));
    });
  } finally {
    clearTimeout(timer);
    child.kill('SIGKILL');
    await exited;
  }
}

/** Runs a fixture to its end: its exit code and what it printed on stdout. */
export async function runFixture(script: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'], ...(env ? { env } : {}) });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
}
