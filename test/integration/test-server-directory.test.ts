/**
 * The test servers' `directory` option: an upload interrupted by closing server 1 resumes against
 * server 2, started on the same directory and port, and stores exactly (GCS resumable, GCS XML
 * multipart, S3), as it would across a real service's restart; what a damaged directory does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createResumableWriteStream, type ResumableWriteStream } from '../../src/index.js';
import { createS3TestServer, createTestServer, DamagedDirectoryError, type S3TestServer, type TestServer, type TestServerOptions } from '../../src/testing/index.js';
import { FAST_RETRY, K256, MiB, makeData } from './helpers.js';

const PART = 5 * MiB;
const FIXTURE = join(import.meta.dirname, '../fixtures/directory-server.mjs');
let directory: string;
const open: Array<TestServer | S3TestServer> = [];
const children = new Set<ChildProcess>();
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'rws-directory-'));
});
afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const server of open.splice(0)) await server.close();
  await rm(directory, { recursive: true, force: true });
});

async function gcsServer(port = 0, options: TestServerOptions = {}): Promise<TestServer> {
  const server = await createTestServer({ directory, port, ...options });
  open.push(server);
  return server;
}

async function s3Server(port = 0): Promise<S3TestServer> {
  const server = await createS3TestServer({ directory, port });
  open.push(server);
  return server;
}

const portOf = (url: string) => Number(new URL(url).port);

/** A server in a process of its own (test/fixtures/directory-server.mjs) on `directory`. */
async function serverProcess(kind: 'gcs' | 's3', port: number): Promise<{ url: string; kill(): Promise<void> }> {
  const child = spawn(process.execPath, [FIXTURE, kind, directory, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => children.delete(child));
  let timer: NodeJS.Timeout | undefined;
  const url = await new Promise<string>((resolve, reject) => {
    timer = setTimeout(() => reject(new Error('the server process did not listen in 10 s')), 10_000);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /\{"url":"([^"]+)"\}/.exec(output);
      if (match) resolve(match[1] as string);
    });
    void exited.then(() => reject(new Error(`the server process exited: ${output}`)));
  }).finally(() => clearTimeout(timer));
  return {
    url,
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Retries long enough to outlast a server process's start (node, then the import). */
const OUTLAST_RESTART = { ...FAST_RETRY, retries: 40, maxTimeout: 200 };

async function until(condition: () => boolean): Promise<void> {
  for (const started = Date.now(); !condition(); await new Promise((resolve) => setTimeout(resolve, 5))) {
    if (Date.now() - started > 10_000) throw new Error('condition not met in 10 s');
  }
}

/**
 * Writes `data[0, split)`, waits until server 1 holds some of it (`stored`), closes it and starts
 * server 2 (`restart`) while the stream is mid-upload, then writes the rest and ends.
 */
async function interrupted(stream: ResumableWriteStream, data: Buffer, split: number, stored: () => boolean, restart: () => Promise<void>): Promise<unknown> {
  const ended = new Promise<void>((resolve, reject) => {
    stream.once('error', reject);
    stream.once('finish', resolve);
  });
  stream.write(data.subarray(0, split));
  await until(stored);
  await restart();
  stream.end(data.subarray(split));
  return ended.then(() => undefined, (error: unknown) => error);
}

describe('directory: an upload survives the server being closed and started again', () => {
  it('GCS resumable: the session URI stays valid, the status query finds the persisted offset, the object is exact', async () => {
    // Slow enough that a chunk is always in flight when it closes.
    const first = await gcsServer(0, { bandwidth: 2 * MiB });
    const uri = first.createSession({ bucket: 'bkt', name: 'resumed.bin', contentType: 'text/plain', metadata: { owner: 'b' } });
    const data = makeData(3 * MiB + 5);
    const stream = createResumableWriteStream({ url: uri, chunkSize: K256, retry: FAST_RETRY });
    let second: TestServer | undefined;
    let persistedAtClose = 0;
    const inFlight = () => first.session(uri).persisted >= MiB && first.session(uri).requests.at(-1)?.status === undefined;
    const error = await interrupted(stream, data, 2 * MiB, inFlight, async () => {
      await first.close();
      persistedAtClose = first.session(uri).persisted;
      second = await gcsServer(portOf(first.url));
    });
    expect(error).toBeUndefined();
    const server = second as TestServer;
    expect(server.object('bkt', 'resumed.bin')).toMatchObject({ size: data.length, contentType: 'text/plain', metadata: { owner: 'b' } });
    expect(server.object('bkt', 'resumed.bin')?.data?.equals(data)).toBe(true);
    // Server 2 was asked where the session stood and was sent only what it did not hold.
    const uploads = server.session(uri).requests.filter((entry) => entry.kind === 'upload');
    expect(server.session(uri).requests.some((entry) => entry.kind === 'query')).toBe(true);
    expect(Number(/^bytes (\d+)-/.exec(uploads[0]?.contentRange ?? '')?.[1])).toBeGreaterThanOrEqual(persistedAtClose);
  });

  it('GCS XML multipart: the upload id stays valid, the stored parts survive, the object is exact', async () => {
    const first = await gcsServer();
    const data = makeData(2 * PART + 7);
    const stream = createResumableWriteStream({ gcs: { bucket: 'bkt', name: 'parts.bin', apiEndpoint: first.url, token: 't' }, chunkSize: PART, retry: FAST_RETRY });
    let second: TestServer | undefined;
    const error = await interrupted(stream, data, PART + MiB, () => first.multipart.openUploads()[0]?.parts === 1, async () => {
      await first.close();
      second = await gcsServer(portOf(first.url));
      expect(second.multipart.openUploads()).toEqual([expect.objectContaining({ name: 'parts.bin', parts: 1 })]);
    });
    expect(error).toBeUndefined();
    const server = second as TestServer;
    expect(server.object('bkt', 'parts.bin')?.data?.equals(data)).toBe(true);
    expect(server.multipart.openUploads()).toEqual([]);
    expect(server.multipart.requests.some((entry) => entry.operation === 'part' && entry.partNumber === 1)).toBe(false);
  });

  it('S3: the upload id stays valid, the stored parts survive, Complete assembles them exactly', async () => {
    const first = await s3Server();
    const data = makeData(2 * PART + 7);
    const s3 = { bucket: 'bkt', key: 'parts.bin', endpoint: first.endpoint, credentials: first.credentials };
    const stream = createResumableWriteStream({ s3, chunkSize: PART, retry: FAST_RETRY });
    let second: S3TestServer | undefined;
    const error = await interrupted(stream, data, PART + MiB, () => first.openUploads()[0]?.parts === 1, async () => {
      await first.close();
      second = await s3Server(portOf(first.endpoint));
      expect(second.openUploads()).toEqual([expect.objectContaining({ key: 'bkt/parts.bin', parts: 1 })]);
    });
    expect(error).toBeUndefined();
    const server = second as S3TestServer;
    expect(server.object('bkt', 'parts.bin')?.equals(data)).toBe(true);
    expect(server.openUploads()).toEqual([]);
    expect(server.requests.some((entry) => entry.operation === 'part' && entry.partNumber === 1)).toBe(false);
  });

  it('finalized objects and sessions survive a further restart; a finalized session still answers 200', async () => {
    const first = await gcsServer();
    const uri = first.createSession({ bucket: 'bkt', name: 'done.bin' });
    const answer = await request(uri, { method: 'PUT', headers: { 'content-range': 'bytes 0-2/3' }, body: 'abc' });
    await answer.body.dump();
    expect(answer.statusCode).toBe(200);
    await first.close();
    const second = await gcsServer(portOf(first.url));
    expect(second.object('bkt', 'done.bin')).toMatchObject({ size: 3, generation: '1' });
    expect(second.object('bkt', 'done.bin')?.data?.toString()).toBe('abc');
    const query = await request(uri, { method: 'PUT', headers: { 'content-range': 'bytes */*' } });
    await query.body.dump();
    expect(query.statusCode).toBe(200);
    // Generations go on from the last one, as the next object shows.
    const next = second.createSession({ bucket: 'bkt', name: 'done.bin' });
    await (await request(next, { method: 'PUT', headers: { 'content-range': 'bytes 0-0/1' }, body: 'z' })).body.dump();
    expect(second.object('bkt', 'done.bin')).toMatchObject({ size: 1, generation: '2' });
  });

  it('S3: objects survive, with the headers they were created with', async () => {
    const first = await s3Server();
    const stream = createResumableWriteStream({ s3: { bucket: 'bkt', key: 'small.txt', endpoint: first.endpoint, credentials: first.credentials, contentType: 'text/plain' }, retry: FAST_RETRY });
    await new Promise<void>((resolve, reject) => {
      stream.once('error', reject);
      stream.end(Buffer.from('hello'), resolve);
    });
    await first.close();
    const second = await s3Server(portOf(first.endpoint));
    expect(second.object('bkt', 'small.txt')?.toString()).toBe('hello');
    expect(second.objectHeaders('bkt', 'small.txt')).toMatchObject({ 'content-type': 'text/plain' });
  });
});

describe('directory: the server process SIGKILLed mid-upload, a new one started on the same directory and port', () => {
  it('GCS resumable: the new process resumes the session; the object is exact', async () => {
    const first = await serverProcess('gcs', 0);
    const initiation = await request(`${first.url}/upload/storage/v1/b/bkt/o?uploadType=resumable&name=killed.bin`, { method: 'POST', body: '{}' });
    await initiation.body.dump();
    const uri = initiation.headers['location'] as string;
    const data = makeData(3 * MiB + 5);
    const stream = createResumableWriteStream({ url: uri, chunkSize: K256, retry: OUTLAST_RESTART });
    let committed = 0;
    stream.on('progress', (progress: { bytesCommitted: number }) => (committed = progress.bytesCommitted));
    const error = await interrupted(stream, data, 2 * MiB, () => committed >= MiB, async () => {
      await first.kill();
      await serverProcess('gcs', portOf(first.url));
    });
    expect(error).toBeUndefined();
    for (const child of children) child.kill('SIGKILL');
    await until(() => children.size === 0);
    expect((await gcsServer()).object('bkt', 'killed.bin')?.data?.equals(data)).toBe(true);
  });

  it('S3: the new process completes the upload with the parts the killed one stored; the object is exact', async () => {
    const first = await serverProcess('s3', 0);
    const data = makeData(2 * PART + 7);
    const s3 = { bucket: 'bkt', key: 'killed.bin', endpoint: first.url, credentials: { accessKeyId: 'test-key', secretAccessKey: 'test-secret' } };
    const stream = createResumableWriteStream({ s3, chunkSize: PART, retry: OUTLAST_RESTART });
    let committed = 0;
    stream.on('progress', (progress: { bytesCommitted: number }) => (committed = progress.bytesCommitted));
    const error = await interrupted(stream, data, PART + MiB, () => committed >= PART, async () => {
      await first.kill();
      await serverProcess('s3', portOf(first.url));
    });
    expect(error).toBeUndefined();
    for (const child of children) child.kill('SIGKILL');
    await until(() => children.size === 0);
    const server = await s3Server();
    expect(server.object('bkt', 'killed.bin')?.equals(data)).toBe(true);
    expect(server.openUploads()).toEqual([]);
  });
});

describe('directory: what a damaged directory does', () => {
  async function gcsSessionWithBytes(): Promise<{ uri: string; port: number; file: (suffix: string) => string }> {
    const first = await gcsServer();
    const uri = first.createSession();
    await (await request(uri, { method: 'PUT', headers: { 'content-range': `bytes 0-${K256 - 1}/*` }, body: Buffer.alloc(K256, 7) })).body.dump();
    await first.close();
    const id = new URL(uri).searchParams.get('upload_id') as string;
    return { uri, port: portOf(first.url), file: (suffix) => join(directory, 'gcs-sessions', `${id}.${suffix}`) };
  }

  it('a record that is not JSON: createTestServer rejects with a DamagedDirectoryError naming the file', async () => {
    const { file } = await gcsSessionWithBytes();
    await writeFile(file('json'), '{"identity": {');
    const error = await createTestServer({ directory }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DamagedDirectoryError);
    const { file: named } = error as DamagedDirectoryError;
    expect(named).toMatch(/^gcs-sessions\/[0-9a-f]{32}\.json$/);
    // The file is named by the session's id, its credential: the message shows only its start.
    expect((error as Error).message).toMatch(/gcs-sessions\/[0-9a-f]{6}…\.json: not valid JSON/);
    expect((error as Error).message).not.toContain(named.slice('gcs-sessions/'.length, -'.json'.length));
  });

  it('a record missing a field: rejected, naming the file and the field', async () => {
    const { file } = await gcsSessionWithBytes();
    await writeFile(file('json'), '{"persisted": 1}');
    await expect(createTestServer({ directory })).rejects.toThrow(/gcs-sessions\/[0-9a-f]{6}…\.json: field "identity" should be an object/);
  });

  it('the bytes file missing: rejected, naming it and the length its record says', async () => {
    const { file } = await gcsSessionWithBytes();
    await rm(file('data'));
    await expect(createTestServer({ directory })).rejects.toThrow(new RegExp(`gcs-sessions/[0-9a-f]{6}…\\.data: 0 bytes, its record says ${K256}`));
  });

  it('bytes past the record (a process killed between the two writes) are cut: the session resumes at the recorded offset', async () => {
    const { uri, port, file } = await gcsSessionWithBytes();
    await appendFile(file('data'), Buffer.alloc(1000, 1));
    const server = await gcsServer(port);
    const query = await request(uri, { method: 'PUT', headers: { 'content-range': 'bytes */*' } });
    await query.body.dump();
    expect(query.statusCode).toBe(308);
    expect(query.headers['range']).toBe(`bytes=0-${K256 - 1}`);
    expect(server.session(uri).persisted).toBe(K256);
  });

  it('S3: a part file missing: createS3TestServer rejects, naming it', async () => {
    const first = await s3Server();
    const stream = createResumableWriteStream({ s3: { bucket: 'bkt', key: 'k', endpoint: first.endpoint, credentials: first.credentials }, chunkSize: PART, retry: FAST_RETRY });
    stream.write(makeData(PART + 1));
    await until(() => first.openUploads()[0]?.parts === 1);
    await first.close();
    stream.destroy();
    const folder = join(directory, 's3-uploads');
    for (const name of await readdir(folder)) if (name.endsWith('.part-1')) await rm(join(folder, name));
    await expect(createS3TestServer({ directory })).rejects.toThrow(/s3-uploads\/[0-9a-f]+\.part-1: 0 bytes, its record says 5242880/);
  });
});

describe('directory: validation', () => {
  it.each([[''], [5], [{}]])('directory %j: a TypeError naming it', async (value) => {
    await expect(createTestServer({ directory: value as string })).rejects.toThrow(TypeError);
    await expect(createTestServer({ directory: value as string })).rejects.toThrow(/`directory`/);
    await expect(createS3TestServer({ directory: value as string })).rejects.toThrow(/`directory`/);
  });

  it('with storeObjects: false: a TypeError naming both', async () => {
    await expect(createTestServer({ directory, storeObjects: false })).rejects.toThrow(/`directory`.*`storeObjects: false`/);
    await expect(createS3TestServer({ directory, storeObjects: false })).rejects.toThrow(/`directory`.*`storeObjects: false`/);
  });

  it('S3 port: a RangeError naming it', async () => {
    await expect(createS3TestServer({ port: -1 })).rejects.toThrow(/`port`/);
  });
});
