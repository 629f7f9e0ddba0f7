/**
 * S3 multipart against the project's strict loopback S3 server (src/testing/s3-server.ts), with
 * faults on real sockets from the proxy in front of it; and a compatibility pass against s3rver.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createResumableWriteStream, type Checkpoint, type ResumableWriteStreamOptions } from '../../src/index.js';
import { partSizeOf } from '../../src/protocols/s3/wire.js';
import { createS3TestServer, startFaultProxy, type FaultProxy, type ProxyFaultRule, type S3TestServer } from '../../src/testing/index.js';
import { FAST_RETRY, MiB, killAfterCheckpoint, makeData, runFixture, sha256, source } from './helpers.js';

const PART = 5 * MiB;
let s3: S3TestServer;
let proxy: FaultProxy;
let keys = 0;

beforeAll(async () => {
  s3 = await createS3TestServer();
  proxy = await startFaultProxy({ target: s3.endpoint });
});
afterEach(() => proxy.clearFaults());
afterAll(async () => {
  await proxy.close();
  await s3.close();
});

interface S3Case {
  size: number;
  writeSize?: number;
  faults?: ProxyFaultRule[];
  options?: Partial<ResumableWriteStreamOptions>;
  s3?: Record<string, unknown>;
}

function streamFor(key: string, spec: Pick<S3Case, 'options' | 's3'> = {}) {
  return createResumableWriteStream({
    s3: { bucket: 'bkt', key, endpoint: proxy.url, credentials: s3.credentials, ...spec.s3 },
    chunkSize: PART,
    ...spec.options,
    retry: { ...FAST_RETRY, ...spec.options?.retry },
  });
}

async function uploadS3(spec: S3Case) {
  const key = `objects/${++keys} name with spaces+plus.bin`;
  for (const fault of spec.faults ?? []) proxy.addFault(fault);
  const before = s3.requests.length;
  const data = makeData(spec.size);
  const stream = streamFor(key, spec);
  const error = await pipeline(source(data, spec.writeSize ?? 256 * 1024), stream).then(() => undefined, (caught: unknown) => caught);
  const wire = s3.requests.slice(before).map((entry) => `${entry.operation}${entry.partNumber ?? ''} ${entry.status}`);
  return { key, data, stream, error, wire, stored: s3.object('bkt', key) };
}

async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 5000) throw new Error('condition not met within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
}

function expectStoredExactly(outcome: Awaited<ReturnType<typeof uploadS3>>) {
  expect(outcome.error).toBeUndefined();
  expect(outcome.stored?.length).toBe(outcome.data.length);
  expect(sha256(outcome.stored as Buffer)).toBe(sha256(outcome.data));
  expect(outcome.stream.bytesCommitted).toBe(outcome.data.length);
  expect(outcome.stream.result?.verified).toBe(true);
}

describe('s3: sizes across the 5 MiB part boundary', () => {
  it.each([
    ['empty stream', 0, ['put 200']],
    ['1 byte', 1, ['put 200']],
    ['5 MiB − 1', PART - 1, ['put 200']],
    ['5 MiB: one part, one PutObject', PART, ['put 200']],
    ['5 MiB + 1', PART + 1, ['create 200', 'part1 200', 'part2 200', 'complete 200']],
    ['10 MiB: two parts exactly', 2 * PART, ['create 200', 'part1 200', 'part2 200', 'complete 200']],
  ])('%s', async (_name, size, wire) => {
    const outcome = await uploadS3({ size });
    expectStoredExactly(outcome);
    expect([...outcome.wire].sort()).toEqual([...wire].sort());
  });

  it('3 parts + 17 bytes through 64 KiB writes, parts in parallel, memory bounded by (queueSize + 1) parts', async () => {
    const outcome = await uploadS3({ size: 3 * PART + 17, writeSize: 64 * 1024, s3: { queueSize: 2 } });
    expectStoredExactly(outcome);
    expect(outcome.wire.filter((line) => line.startsWith('part'))).toHaveLength(4);
    expect(outcome.stream.peakBytesRetained).toBeLessThanOrEqual(3 * PART + 64 * 1024);
  });

  it('queueSize 4 really sends parts at once', async () => {
    // The first part is held for 2 s at the proxy: a serial client would send nothing else meanwhile.
    const front = await startFaultProxy({ target: s3.endpoint });
    front.addFault({ fault: 'stall-for-2s', method: 'PUT' });
    try {
      const data = makeData(6 * PART);
      // One write: parts 1–4 go out at once (part 5 waits until one of them is back: 4 parts held at most).
      await pipeline(source(data, data.length), streamFor('parallel/object', { s3: { endpoint: front.url } }));
      expect(sha256(s3.object('bkt', 'parallel/object') as Buffer)).toBe(sha256(data));
      expect(front.maxInFlight).toBeGreaterThanOrEqual(3);
      expect(front.maxInFlight).toBeLessThanOrEqual(4);
    } finally {
      await front.close();
    }
  });

  it.each([
    ['crc32c', true],
    [false, true],
    ['both', false],
  ] as const)('a slow part 1 holds back the parts after it only while their bytes are needed (checksum %s: parts stored ahead forgotten: %s)', async (checksum, forgets) => {
    // Part 1 reaches the server 2 s late. Parts stored ahead of it are forgotten (their bytes
    // dropped) when the whole-stream digests can do without them, so parts 3… go meanwhile; with
    // MD5 (which hashes every byte in order) they stay held, and part 3 waits for part 1.
    const front = await startFaultProxy({ target: s3.endpoint });
    front.addFault({ fault: 'stall-for-2s', method: 'PUT', pathIncludes: 'partNumber=1&' });
    try {
      const data = makeData(6 * PART + 5);
      const before = s3.requests.length;
      const key = `slow-first/${String(checksum)}`;
      const stream = streamFor(key, { s3: { endpoint: front.url, queueSize: 2 }, options: { checksum } });
      await pipeline(source(data, 64 * 1024), stream);
      expect(sha256(s3.object('bkt', key) as Buffer)).toBe(sha256(data));
      expect(stream.result?.verified).toBe(checksum !== false);
      const arrived = s3.requests.slice(before).filter((entry) => entry.operation === 'part').map((entry) => entry.partNumber);
      expect([...arrived].sort((a, b) => (a as number) - (b as number))).toEqual([1, 2, 3, 4, 5, 6, 7]);
      if (forgets) expect(arrived.indexOf(1)).toBeGreaterThan(arrived.indexOf(4));
      else expect(arrived.indexOf(1)).toBeLessThan(arrived.indexOf(3));
      expect(stream.peakBytesRetained).toBeLessThanOrEqual(3 * PART + 64 * 1024);
    } finally {
      await front.close();
    }
  });

  it('a source that needs no I/O (a generator) does not hold the first request back until the buffer is full', async () => {
    // Such a source feeds writes from microtasks only; the stream gives the event loop a turn
    // every MiB, so the upload's creation goes out once part 1 is written, not after part 5.
    const data = makeData(8 * PART);
    let yielded = 0;
    let yieldedAtCreation: number | undefined;
    const push = s3.requests.push.bind(s3.requests);
    s3.requests.push = (...entries) => {
      if (yieldedAtCreation === undefined && entries.some((entry) => entry.method === 'POST')) yieldedAtCreation = yielded;
      return push(...entries);
    };
    const generator = Readable.from((function* () {
      for (let offset = 0; offset < data.length; offset += 64 * 1024) {
        yielded += 64 * 1024;
        yield data.subarray(offset, offset + 64 * 1024);
      }
    })(), { objectMode: false });
    try {
      await pipeline(generator, streamFor('generator/object', { s3: { queueSize: 4 } }));
    } finally {
      s3.requests.push = push;
    }
    expect(sha256(s3.object('bkt', 'generator/object') as Buffer)).toBe(sha256(data));
    expect(yieldedAtCreation).toBeGreaterThan(PART);
    expect(yieldedAtCreation).toBeLessThan(3 * PART);
  });

  it.each([['crc32c'], ['md5'], ['both'], [false]] as const)('checksum %s: per-part digests S3 verifies', async (checksum) => {
    const outcome = await uploadS3({ size: PART + 3, options: { checksum } });
    expect(outcome.error).toBeUndefined();
    expect(sha256(outcome.stored as Buffer)).toBe(sha256(outcome.data));
    // With no digest of ours to compare, nothing is claimed as verified.
    expect(outcome.stream.result?.verified).toBe(checksum !== false);
  });
});

describe('s3: faults on real sockets', () => {
  it.each([
    ['the first part', 1],
    ['a middle part', 3],
    ['the final part', 4],
  ])('connection cut mid-%s: the part is sent again, nothing else', async (_name, on) => {
    // PUT requests: part1..part4 in order of sending (queueSize 1 keeps the order fixed).
    const outcome = await uploadS3({ size: 3 * PART + 100_000, s3: { queueSize: 1 }, faults: [{ fault: 'return-reset-connection-after-64K', method: 'PUT', on }] });
    expectStoredExactly(outcome);
    const parts = outcome.wire.filter((line) => line.startsWith('part'));
    expect(parts).toHaveLength(5);
    expect(parts.filter((line) => !line.endsWith(' 200'))).toHaveLength(1);
  });

  it.each(['return-503', 'return-500', 'return-429', 'return-reset-connection', 'stall-for-50ms'])('%s on a part is retried', async (fault) => {
    expectStoredExactly(await uploadS3({ size: 2 * PART + 1, faults: [{ fault, method: 'PUT', on: 2 }] }));
  });

  it('503 on CreateMultipartUpload and on CompleteMultipartUpload are retried', async () => {
    expectStoredExactly(await uploadS3({ size: 2 * PART + 1, faults: [{ fault: 'return-503', method: 'POST', on: 1 }, { fault: 'return-503', method: 'POST', on: 2 }] }));
  });

  it('Complete answering 200 with an <Error> body is a failure, retried, never success', async () => {
    s3.completeErrorOnce();
    const outcome = await uploadS3({ size: PART + 1 });
    expectStoredExactly(outcome);
    expect(outcome.wire.filter((line) => line.startsWith('complete'))).toHaveLength(2);
  });

  it("a lost Complete answer: the retry finds no upload, the object is checked and accepted", async () => {
    const outcome = await uploadS3({ size: PART + 1, options: { checksum: 'both' }, faults: [{ fault: 'lose-final-answer', method: 'POST', on: 2 }] });
    expectStoredExactly(outcome);
    expect(outcome.wire.filter((line) => line.startsWith('complete'))).toEqual(['complete 200', 'complete 404']);
  });

  it.each([
    ['first', 1],
    ['middle', 2],
    ['final', 3],
  ])('the %s part corrupted on the wire once: refused by its digest, sent again, the object is exact (one extra request)', async (_name, on) => {
    const outcome = await uploadS3({ size: 2 * PART + 1, s3: { queueSize: 1 }, faults: [{ fault: 'corrupt-byte', method: 'PUT', on, times: 1 }] });
    expectStoredExactly(outcome);
    const parts = outcome.wire.filter((line) => line.startsWith('part'));
    expect(parts).toHaveLength(4);
    expect(parts.filter((line) => line === `part${on} 200`)).toHaveLength(1);
    expect(parts[on - 1]).toMatch(new RegExp(`^part${on} 400$`));
  });

  it.each([
    ['first', 1],
    ['middle', 2],
    ['final', 3],
  ])('the %s part corrupted on every send → RWS_CHECKSUM_MISMATCH after 2 resends, nothing completed, upload aborted', async (_name, on) => {
    const outcome = await uploadS3({ size: 2 * PART + 1, s3: { queueSize: 1 }, faults: [{ fault: 'corrupt-byte', method: 'PUT', on, times: 10 }] });
    expect(outcome.error).toMatchObject({ code: 'RWS_CHECKSUM_MISMATCH' });
    expect(outcome.stored).toBeUndefined();
    expect(outcome.wire.filter((line) => line === `part${on} 400`)).toHaveLength(3);
    expect(outcome.wire.some((line) => line.startsWith('complete'))).toBe(false);
    expect(outcome.wire.at(-1)).toBe('abort 204');
    expect(s3.openUploads().filter((upload) => upload.key.endsWith(outcome.key))).toEqual([]);
  });

  it('a part that fails for good fails the stream: no Complete, the other parts stop, the upload is aborted (aws-sdk-js-v3 #2311)', async () => {
    const outcome = await uploadS3({ size: 4 * PART + 1, faults: [{ fault: 'return-403', method: 'PUT', on: 2 }] });
    expect(outcome.error).toMatchObject({ code: 'RWS_HTTP_STATUS', status: 403 });
    expect(outcome.stored).toBeUndefined();
    expect(outcome.wire.some((line) => line.startsWith('complete'))).toBe(false);
    expect(outcome.wire.at(-1)).toBe('abort 204');
    expect(s3.openUploads().filter((upload) => upload.key.endsWith(outcome.key))).toEqual([]);
  });

  it('retries running out on one part → RWS_RETRIES_EXHAUSTED, never a completed object missing it', async () => {
    const outcome = await uploadS3({ size: 3 * PART, options: { retry: { retries: 2 } }, faults: [{ fault: 'return-503', method: 'PUT', on: 2, times: 10 }] });
    expect(outcome.error).toMatchObject({ code: 'RWS_RETRIES_EXHAUSTED' });
    expect(outcome.stored).toBeUndefined();
    expect(outcome.wire.some((line) => line.startsWith('complete'))).toBe(false);
  });

  it('wrong credentials → 403 SignatureDoesNotMatch, the secret in no message', async () => {
    const outcome = await uploadS3({ size: PART + 1, s3: { credentials: { accessKeyId: s3.credentials.accessKeyId, secretAccessKey: 'not-the-secret-XYZ' } } });
    expect(outcome.error).toMatchObject({ code: 'RWS_HTTP_STATUS', status: 403 });
    expect(String((outcome.error as Error).message)).toMatch(/SignatureDoesNotMatch/);
    expect(String((outcome.error as Error).message)).not.toContain('not-the-secret-XYZ');
  });
});

describe('s3: cancel, keep, resume', () => {
  it('cancel() sends AbortMultipartUpload (204): no parts left, no object', async () => {
    const stream = streamFor('cancel/me');
    stream.on('error', () => {});
    stream.write(makeData(2 * PART + 1));
    await new Promise((resolve) => stream.once('progress', resolve));
    expect(await stream.cancel()).toEqual({ status: 204 });
    expect(s3.openUploads().filter((upload) => upload.key === 'bkt/cancel/me')).toEqual([]);
    expect(s3.object('bkt', 'cancel/me')).toBeUndefined();
  });

  it('destroyed with leavePartsOnError: the parts stay; a checkpoint resumes from the committed offset with ListParts (paginated)', async () => {
    const paged = await createS3TestServer({ partsPerPage: 2 });
    try {
      const data = makeData(6 * PART + 9);
      const options = { s3: { bucket: 'bkt', key: 'resume/me', endpoint: paged.endpoint, credentials: paged.credentials, leavePartsOnError: true }, chunkSize: PART, retry: FAST_RETRY };
      const first = createResumableWriteStream(options);
      first.on('error', () => {});
      let checkpoint: Checkpoint | undefined;
      first.on('checkpoint', (saved) => (checkpoint = saved));
      first.write(data.subarray(0, 5 * PART + 1));
      await new Promise<void>((resolve) => first.on('checkpoint', (saved) => saved.bytesCommitted >= 4 * PART && resolve()));
      first.destroy();
      await new Promise((resolve) => first.once('close', resolve));
      expect(paged.openUploads()).toEqual([expect.objectContaining({ key: 'bkt/resume/me', parts: expect.any(Number) })]);
      expect(checkpoint).toMatchObject({ protocol: 's3', bytesCommitted: expect.any(Number) });
      const committed = (checkpoint as Checkpoint).bytesCommitted;
      // A request of the destroyed stream may still be reaching the server (same process): let it land first.
      await until(() => paged.requests.every((entry) => entry.status !== 0));
      const before = paged.requests.length;
      expect(checkpoint).toMatchObject({ partSize: PART });
      // Another chunkSize on resume: the parts are still cut as the checkpoint says.
      const second = createResumableWriteStream({ ...options, chunkSize: 2 * PART, resume: checkpoint, resumeInput: 'from-committed' });
      expect(await second.committedOffset()).toBe(committed);
      await pipeline(source(data.subarray(committed)), second);
      expect(sha256(paged.object('bkt', 'resume/me') as Buffer)).toBe(sha256(data));
      const after = paged.requests.slice(before).map((entry) => entry.operation);
      expect(after.filter((operation) => operation === 'list').length).toBeGreaterThanOrEqual(2);
      expect(after.filter((operation) => operation === 'part').length).toBeLessThanOrEqual(7 - committed / PART);
    } finally {
      await paged.close();
    }
  });

  describe('a crash after Complete succeeded but before the checkpoint was cleared', () => {
    async function completedWithCheckpoint(key: string, data: Buffer): Promise<Checkpoint> {
      let checkpoint: Checkpoint | undefined;
      const first = streamFor(key);
      first.on('checkpoint', (saved) => (checkpoint = saved));
      await pipeline(source(data), first);
      expect(s3.openUploads().filter((upload) => upload.key === `bkt/${key}`)).toEqual([]);
      return checkpoint as Checkpoint;
    }

    it('resumed from the start: the input written again is checked against the object (part MD5s → ETag) and finishes', async () => {
      const data = makeData(2 * PART + 5);
      const checkpoint = await completedWithCheckpoint('done/before', data);
      const before = s3.requests.length;
      const second = streamFor('done/before', { options: { resume: checkpoint } });
      await pipeline(source(data), second);
      expect(second.result).toMatchObject({ verified: true });
      expect(second.bytesCommitted).toBe(data.length);
      expect(second.peakBytesRetained).toBeLessThanOrEqual(256 * 1024);
      expect(s3.requests.slice(before).map((entry) => `${entry.operation} ${entry.status}`)).toEqual(['list 404', 'head 200']);
    });

    it('other bytes written again: RWS_SESSION_EXPIRED, the object untouched', async () => {
      const data = makeData(2 * PART + 5);
      const checkpoint = await completedWithCheckpoint('done/other', data);
      const other = Buffer.from(data);
      other[PART + 7] = (other[PART + 7] as number) ^ 1;
      const error = await pipeline(source(other), streamFor('done/other', { options: { resume: checkpoint } })).then(() => undefined, (caught: unknown) => caught);
      expect(error).toMatchObject({ code: 'RWS_SESSION_EXPIRED' });
      expect(sha256(s3.object('bkt', 'done/other') as Buffer)).toBe(sha256(data));
    });

    it('from the committed offset there is nothing to check against: RWS_SESSION_EXPIRED', async () => {
      const data = makeData(2 * PART + 5);
      const checkpoint = await completedWithCheckpoint('done/committed', data);
      const stream = streamFor('done/committed', { options: { resume: checkpoint, resumeInput: 'from-committed' } });
      const error = await pipeline(source(data.subarray(checkpoint.bytesCommitted)), stream).then(() => undefined, (caught: unknown) => caught);
      expect(error).toMatchObject({ code: 'RWS_SESSION_EXPIRED' });
    });
  });

  it('a resume whose ListParts fails leaves the parts in place (resume implies leavePartsOnError)', async () => {
    const first = streamFor('resume/keep', { s3: { leavePartsOnError: true } });
    first.on('error', () => {});
    let checkpoint: Checkpoint | undefined;
    first.on('checkpoint', (saved) => (checkpoint = saved));
    first.write(makeData(2 * PART + 1));
    await new Promise((resolve) => first.once('checkpoint', resolve));
    first.destroy();
    await new Promise((resolve) => first.once('close', resolve));
    proxy.addFault({ fault: 'return-403', method: 'GET' });
    const second = streamFor('resume/keep', { options: { resume: checkpoint } });
    const error = await pipeline(source(makeData(10)), second).then(() => undefined, (caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'RWS_HTTP_STATUS', status: 403 });
    expect(s3.openUploads().filter((upload) => upload.key === 'bkt/resume/keep')).toEqual([expect.objectContaining({ parts: expect.any(Number) })]);
  });

  it('credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (none at all: the default chain, test/integration/credentials-aws.test.ts)', async () => {
    const saved = { ...process.env };
    try {
      process.env['AWS_ACCESS_KEY_ID'] = s3.credentials.accessKeyId;
      process.env['AWS_SECRET_ACCESS_KEY'] = s3.credentials.secretAccessKey;
      const data = makeData(1000);
      await pipeline(source(data), createResumableWriteStream({ s3: { bucket: 'bkt', key: 'env/creds', endpoint: s3.endpoint } }));
      expect(s3.object('bkt', 'env/creds')?.equals(data)).toBe(true);
    } finally {
      process.env = saved;
    }
  });

  it('options: s3 needs protocol s3 and no url; parts of 5 MiB to 5 GiB; no memoryBudget yet; plain http only to loopback', () => {
    const s3Options = { bucket: 'b', key: 'k', credentials: { accessKeyId: 'a', secretAccessKey: 's' } };
    expect(() => createResumableWriteStream({ protocol: 'gcs', s3: s3Options } as never)).toThrow(/protocol: 's3'/);
    expect(() => createResumableWriteStream({ protocol: 's3' } as never)).toThrow(/needs an `s3` option/);
    expect(() => createResumableWriteStream({ s3: s3Options, url: 'https://x.example/u' })).toThrow(/`url` does not apply/);
    expect(() => createResumableWriteStream({ s3: s3Options, chunkSize: PART - 1 })).toThrow(RangeError);
    expect(() => createResumableWriteStream({ s3: { ...s3Options, bucket: '' } })).toThrow(/s3\.bucket/);
    expect(() => createResumableWriteStream({ s3: { ...s3Options, queueSize: 0 } })).toThrow(/s3\.queueSize/);
    expect(() => createResumableWriteStream({ s3: { ...s3Options, credentials: { accessKeyId: 'a', secretAccessKey: 42 as unknown as string } } })).toThrow(
      /s3\.credentials\.secretAccessKey` to be a non-empty string, received number$/,
    );
    expect(() => createResumableWriteStream({ s3: { ...s3Options, endpoint: 'http://minio.example:9000' } })).toThrow(/allowInsecureHttp/);
  });

  it('the part size doubles every 900 parts, so 10,000 parts from 5 MiB reach past S3’s 5 TiB limit', () => {
    expect(partSizeOf(1, PART)).toBe(PART);
    expect(partSizeOf(900, PART)).toBe(PART);
    expect(partSizeOf(901, PART)).toBe(2 * PART);
    let total = 0;
    for (let part = 1; part <= 10_000; part++) total += partSizeOf(part, PART);
    expect(total).toBeGreaterThan(5 * 1024 ** 4);
    expect(partSizeOf(10_000, PART)).toBeLessThanOrEqual(5 * 1024 ** 3);
  });
});

describe('s3: surviving a crash of the uploading process', () => {
  const script = join(import.meta.dirname, '..', 'fixtures', 'crash-upload-s3.mjs');

  it('SIGKILL mid-upload; a second process resumes from the checkpoint file, keeps the parts it can verify; the object gunzips to the file', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'rws-s3-crash-'));
    try {
      const input = join(directory, 'input.bin');
      const data = randomBytes(24 * MiB);
      await writeFile(input, data);
      const checkpointFile = join(directory, 'checkpoint.json');
      const env = { ...process.env, AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey };
      proxy.addFault({ fault: 'stall-for-150ms', method: 'PUT', times: 1000 });
      await killAfterCheckpoint(script, [proxy.url, input, checkpointFile, 'fresh'], 2 * PART, env);
      proxy.clearFaults();
      const before = s3.requests.length;
      const second = await runFixture(script, [proxy.url, input, checkpointFile, 'resume'], env);
      expect(second.code).toBe(0);
      expect(second.output).toMatch(/done 200 verified=true/);
      expect(sha256(gunzipSync(s3.object('bkt', 'crash/object.gz') as Buffer))).toBe(sha256(data));
      // (A part the killed process had sent may still arrive through the stalling proxy: not counted.)
      const resent = s3.requests.slice(before).filter((entry) => entry.operation === 'part' && entry.status === 200).length;
      // gzip of random data is ~24 MiB: 5 parts; at least the 2 checkpointed ones were kept.
      expect(resent).toBeLessThanOrEqual(3);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});

describe('s3: compatibility with s3rver (a registry S3 server)', () => {
  it('the default checksum (crc32c), which s3rver ignores: the first part is sent again with Content-MD5, the later ones carry it; stored exactly, verified', async () => {
    const { default: S3rver } = await import('s3rver');
    const directory = await mkdtemp(join(tmpdir(), 'rws-s3rver-'));
    const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: 'bkt', configs: [] }] });
    const { port } = (await server.run()) as unknown as { port: number };
    const front = await startFaultProxy({ target: `http://127.0.0.1:${port}` });
    // The first part's byte is flipped on the wire: s3rver stores it; the copy sent with Content-MD5 replaces it.
    front.addFault({ fault: 'corrupt-byte', method: 'PUT', on: 1 });
    try {
      const data = makeData(2 * PART + 3);
      const stream = createResumableWriteStream({
        s3: { bucket: 'bkt', key: 'compat/crc.bin', endpoint: front.url, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, queueSize: 1 },
        chunkSize: PART,
        retry: FAST_RETRY,
      });
      await pipeline(source(data), stream);
      expect(stream.result?.verified).toBe(true);
      const answer = await fetch(`http://127.0.0.1:${port}/bkt/compat/crc.bin`);
      expect(sha256(Buffer.from(await answer.arrayBuffer()))).toBe(sha256(data));
      expect(front.requests.filter((entry) => entry.method === 'PUT')).toHaveLength(4);
    } finally {
      await front.close();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    }
  });

  // s3rver checks no SigV4 signature and answers 405 to ListParts and AbortMultipartUpload, so
  // resume and abort are tested against the strict loopback server above; this is the basic flow.
  it.each([
    ['1 byte', 1, undefined],
    ['5 MiB + 1', PART + 1, undefined],
    ['2 parts + 3', 2 * PART + 3, undefined],
    ['2 parts + 3, the second part cut mid-body and retried', 2 * PART + 3, { fault: 'return-reset-connection-after-64K', method: 'PUT', on: 2 }],
    ['2 parts + 3, a 503 on Complete retried', 2 * PART + 3, { fault: 'return-503', method: 'POST', on: 2 }],
  ] as const)('%s: stored exactly', async (_name, size, fault) => {
    const { default: S3rver } = await import('s3rver');
    const directory = await mkdtemp(join(tmpdir(), 'rws-s3rver-'));
    const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: 'bkt', configs: [] }] });
    const { port } = (await server.run()) as unknown as { port: number };
    const front = await startFaultProxy({ target: `http://127.0.0.1:${port}` });
    if (fault) front.addFault(fault);
    try {
      const data = makeData(size);
      const stream = createResumableWriteStream({
        s3: { bucket: 'bkt', key: 'compat/object.bin', endpoint: front.url, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
        chunkSize: PART,
        checksum: 'md5',
        retry: FAST_RETRY,
      });
      await pipeline(source(data), stream);
      expect(stream.result?.verified).toBe(true);
      const answer = await fetch(`http://127.0.0.1:${port}/bkt/compat/object.bin`);
      expect(sha256(Buffer.from(await answer.arrayBuffer()))).toBe(sha256(data));
      if (fault) expect(front.requests.some((entry) => entry.fault === fault.fault)).toBe(true);
    } finally {
      await front.close();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    }
  });
});
