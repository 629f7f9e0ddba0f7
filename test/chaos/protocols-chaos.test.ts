/**
 * Chaos for tus, S3 and Azure, property-based like chaos.test.ts: random lengths, write sizes, chunk
 * (part) sizes, parallelism and fault schedules, injected by the fault proxy on real sockets in
 * front of the real @tus/server, the loopback S3 server and Azurite. Invariant: the stored object is
 * exactly the input, or the stream failed with a typed error and nothing different was completed
 * (tus: the upload is not complete; S3: no object but the exact input, no parts left behind) —
 * never a hang, never an unhandled rejection. An upload that is exactly the input may exist after
 * a failure: a final request (tus PATCH, S3 PutObject or Complete) succeeded but its answer was
 * lost and what followed failed, so the stream reports the failure it saw rather than claim a
 * success it could not confirm. Fixed seed in `npm test`; CHAOS_SEED / CHAOS_PATH replay a failure;
 * `npm run soak -- --minutes N` runs both with fresh seeds, half of the time each.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResumableWriteStream, createTusUpload, ResumableUploadError } from '../../src/index.js';
import { createS3TestServer, createTestServer, startFaultProxy, type FaultProxy, type ProxyFaultRule, type S3TestServer, type TestServer } from '../../src/testing/index.js';
import { AZURITE_KEY, startAzurite, type Azurite } from '../integration/azurite.js';
import { startTusServer, type TusTestServer } from '../integration/tus-server.js';
import { makeInput, runBounded } from './bounded.js';

/** `npm run soak -- --minutes N` gives each protocol half of the N minutes, with fresh seeds. */
const MINUTES = Number(process.env['CHAOS_MINUTES'] ?? 0);
const RUNS = MINUTES > 0 ? 1_000_000 : Number(process.env['CHAOS_PROTOCOL_RUNS'] ?? 30);
const TEST_TIMEOUT_MS = MINUTES > 0 ? (MINUTES / 2) * 60_000 + 120_000 : 240_000;
const FIXED_SEED = 20_261_122;
const MiB = 1024 * 1024;
const RETRY = { retries: 6, minTimeout: 1, maxTimeout: 10, requeryDelay: 5 };
const TIMEOUTS = { headersTimeout: 250, bodyTimeout: 1000 };

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

function proxyFault(methods: readonly string[]): fc.Arbitrary<ProxyFaultRule> {
  return fc.record({
    fault: fc.oneof(
      fc.constantFrom('return-503', 'return-500', 'return-429', 'return-reset-connection', 'stall-for-400ms', 'lose-final-answer', 'return-403'),
      fc.integer({ min: 0, max: 32 }).map((n) => `return-reset-connection-after-${n * 16}K`),
    ),
    method: fc.constantFrom(...methods),
    on: fc.integer({ min: 1, max: 6 }),
  });
}

/** `run` returns 'stored' or the failure's code. */
async function assertProperty<T>(arbitrary: fc.Arbitrary<T>, run: (spec: T) => Promise<string>, label: string): Promise<void> {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const counts: Record<string, number> = {};
  try {
    await fc.assert(
      fc.asyncProperty(arbitrary, async (spec) => {
        const result = await run(spec);
        counts[result] = (counts[result] ?? 0) + 1;
        expect(unhandled).toEqual([]);
      }),
      {
        numRuns: RUNS,
        ...(process.env['CHAOS_SEED'] ? { seed: Number(process.env['CHAOS_SEED']) } : MINUTES > 0 ? {} : { seed: FIXED_SEED }),
        ...(MINUTES > 0 ? { interruptAfterTimeLimit: (MINUTES / 2) * 60_000 } : {}),
        ...(process.env['CHAOS_PATH'] ? { path: process.env['CHAOS_PATH'] } : {}),
        endOnFailure: true,
      },
    );
  } finally {
    process.off('unhandledRejection', onUnhandled);
    const total = Object.values(counts).reduce((sum, count) => sum + count, 0);
    const failed = Object.entries(counts).filter(([result]) => result !== 'stored').map(([code, count]) => `${code} ×${count}`);
    console.log(`${label}: ${total} schedules, ${counts['stored'] ?? 0} stored exactly${failed.length ? `, typed failures: ${failed.join(', ')}` : ''}`);
  }
}

describe('tus chaos', () => {
  let tus: TusTestServer;
  beforeAll(async () => {
    tus = await startTusServer();
  });
  afterAll(() => tus.close());

  const scenario = fc.record({
    size: fc.oneof(fc.constantFrom(0, 1, 65_536, 262_144), fc.integer({ min: 0, max: 1536 * 1024 })),
    chunkSize: fc.integer({ min: 1, max: 600_000 }),
    writeSize: fc.integer({ min: 1, max: 128 * 1024 }),
    faults: fc.array(proxyFault(['PATCH', 'PATCH', 'HEAD']), { maxLength: 3 }),
    seed: fc.integer({ min: 0, max: 255 }),
  });

  it('exact bytes or a typed error, never a hang', { timeout: TEST_TIMEOUT_MS }, async () => {
    await assertProperty(
      scenario,
      async (spec) => {
        tus.proxy.clearFaults();
        const url = await createTusUpload({ endpoint: tus.directEndpoint });
        const viaProxy = url.replace(tus.directEndpoint, tus.endpoint);
        for (const rule of spec.faults) tus.proxy.addFault(rule);
        const data = makeInput(spec.size, spec.seed);
        // A 1-byte chunk on a large input is a million requests: keep chunks ≥ 1/64 of the input.
        const chunkSize = Math.max(spec.chunkSize, Math.ceil(spec.size / 64));
        const dispatcher = new Agent();
        const stream = createResumableWriteStream({ protocol: 'tus', url: viaProxy, chunkSize, dispatcher, retry: RETRY, timeouts: TIMEOUTS });
        const outcome = await runBounded(data, spec.writeSize, stream);
        await dispatcher.close();
        tus.proxy.clearFaults();
        const stored = await tus.stored(url);
        const complete = stored.size !== undefined && stored.offset === stored.size;
        const context = `${String(outcome)} ${JSON.stringify({ ...spec, chunkSize })}`;
        if (outcome === undefined) {
          expect(complete, context).toBe(true);
          expect(sha256(stored.data), context).toBe(sha256(data));
          return 'stored';
        }
        expect(outcome, context).toBeInstanceOf(ResumableUploadError);
        expect(!complete || (stored.size === data.length && sha256(stored.data) === sha256(data)), context).toBe(true);
        return (outcome as ResumableUploadError).code;
      },
      'tus chaos',
    );
  });
});

/** Sizes, part sizes, parallelism and faults for a parts protocol (S3, GCS XML multipart). */
const partsScenario = fc.record({
  size: fc.oneof(fc.constantFrom(0, 1, 5 * MiB - 1, 5 * MiB, 5 * MiB + 1, 10 * MiB), fc.integer({ min: 0, max: 16 * MiB })),
  partSize: fc.constantFrom(5 * MiB, 6 * MiB),
  queueSize: fc.integer({ min: 1, max: 4 }),
  writeSize: fc.integer({ min: 1024, max: 2 * MiB }),
  faults: fc.array(
    fc.oneof(proxyFault(['PUT', 'PUT', 'POST', 'GET']), fc.record({ fault: fc.constant('corrupt-byte'), method: fc.constant('PUT'), on: fc.integer({ min: 1, max: 4 }) })),
    { maxLength: 3 },
  ),
  checksum: fc.constantFrom('crc32c' as const, 'md5' as const, false as const),
  seed: fc.integer({ min: 0, max: 255 }),
});
type PartsSpec = typeof partsScenario extends fc.Arbitrary<infer T> ? T : never;

/**
 * One schedule through the proxy: 'stored' when the object is exactly the input, else the typed
 * failure's code, with no object but the exact input and no upload left holding parts.
 */
async function runPartsSchedule(spec: PartsSpec, proxy: FaultProxy, upload: (dispatcher: Agent) => { stream: ReturnType<typeof createResumableWriteStream>; stored: () => Uint8Array | undefined; partsLeft: () => number }): Promise<string> {
  proxy.clearFaults();
  // Without a checksum a corrupted byte cannot be detected: that is the documented trade-off.
  for (const rule of spec.faults) if (spec.checksum !== false || rule.fault !== 'corrupt-byte') proxy.addFault(rule);
  const data = makeInput(spec.size, spec.seed);
  const dispatcher = new Agent();
  const target = upload(dispatcher);
  const outcome = await runBounded(data, spec.writeSize, target.stream);
  await dispatcher.close();
  proxy.clearFaults();
  const stored = target.stored();
  const context = `${String(outcome)} ${JSON.stringify(spec)}`;
  if (outcome === undefined) {
    expect(stored && sha256(stored), context).toBe(sha256(data));
    return 'stored';
  }
  expect(outcome, context).toBeInstanceOf(ResumableUploadError);
  expect(stored === undefined || sha256(stored) === sha256(data), context).toBe(true);
  expect(target.partsLeft(), context).toBe(0);
  return (outcome as ResumableUploadError).code;
}

describe('S3 chaos', () => {
  let s3: S3TestServer;
  let proxy: FaultProxy;
  let keys = 0;
  beforeAll(async () => {
    s3 = await createS3TestServer();
    proxy = await startFaultProxy({ target: s3.endpoint });
  });
  afterAll(async () => {
    await proxy.close();
    await s3.close();
  });

  it('exact bytes or a typed error with no parts left, never a hang', { timeout: TEST_TIMEOUT_MS }, async () => {
    await assertProperty(
      partsScenario,
      (spec) =>
        runPartsSchedule(spec, proxy, (dispatcher) => {
          const key = `chaos/${++keys}`;
          const stream = createResumableWriteStream({
            s3: { bucket: 'bkt', key, endpoint: proxy.url, credentials: s3.credentials, queueSize: spec.queueSize },
            chunkSize: spec.partSize,
            checksum: spec.checksum,
            dispatcher,
            retry: RETRY,
            timeouts: TIMEOUTS,
          });
          // A CreateMultipartUpload whose answer was lost leaves an empty upload the client never
          // learned the id of (S3's own behaviour; a lifecycle rule removes it): no parts, no cost.
          const partsLeft = () => s3.openUploads().filter((upload) => upload.key === `bkt/${key}` && upload.parts > 0).length;
          return { stream, stored: () => s3.object('bkt', key), partsLeft };
        }),
      'S3 chaos',
    );
  });
});

describe('GCS XML multipart chaos', () => {
  const TOKEN = 'chaos-token';
  let gcs: TestServer;
  let proxy: FaultProxy;
  let names = 0;
  beforeAll(async () => {
    gcs = await createTestServer({ token: TOKEN });
    proxy = await startFaultProxy({ target: gcs.url });
  });
  afterAll(async () => {
    await proxy.close();
    await gcs.close();
  });

  it('exact bytes or a typed error with no parts left, never a hang', { timeout: TEST_TIMEOUT_MS }, async () => {
    await assertProperty(
      partsScenario,
      (spec) =>
        runPartsSchedule(spec, proxy, (dispatcher) => {
          const name = `chaos/${++names}`;
          const stream = createResumableWriteStream({
            gcs: { bucket: 'bkt', name, apiEndpoint: proxy.url, token: TOKEN, queueSize: spec.queueSize },
            chunkSize: spec.partSize,
            checksum: spec.checksum,
            dispatcher,
            retry: RETRY,
            timeouts: TIMEOUTS,
          });
          // As with S3, an initiation whose answer was lost leaves an empty upload behind.
          const partsLeft = () => gcs.multipart.openUploads().filter((upload) => upload.name === name && upload.parts > 0).length;
          return { stream, stored: () => gcs.object('bkt', name)?.data, partsLeft };
        }),
      'GCS XML multipart chaos',
    );
  });
});

describe('Azure chaos', () => {
  let azurite: Azurite;
  let container: string;
  let blobs = 0;
  beforeAll(async () => {
    azurite = await startAzurite();
    container = await azurite.createContainer('chaos');
  }, 60_000);
  afterAll(() => azurite?.close());

  const scenario = fc.record({
    size: fc.oneof(fc.constantFrom(0, 1, 256 * 1024 - 1, 256 * 1024, 256 * 1024 + 1, 1024 * 1024), fc.integer({ min: 0, max: 1536 * 1024 })),
    blockSize: fc.constantFrom(128 * 1024, 256 * 1024, 300_000),
    queueSize: fc.integer({ min: 1, max: 4 }),
    writeSize: fc.integer({ min: 1024, max: 256 * 1024 }),
    faults: fc.array(
      fc.oneof(proxyFault(['PUT', 'PUT', 'PUT', 'GET', 'HEAD']), fc.record({ fault: fc.constant('corrupt-byte'), method: fc.constant('PUT'), on: fc.integer({ min: 1, max: 4 }) })),
      { maxLength: 3 },
    ),
    checksum: fc.constantFrom('crc32c' as const, 'md5' as const, false as const),
    seed: fc.integer({ min: 0, max: 255 }),
  });

  it('exact bytes or a typed error and no blob, never a hang', { timeout: TEST_TIMEOUT_MS }, async () => {
    const proxy = azurite.proxy as FaultProxy;
    await assertProperty(
      scenario,
      async (spec) => {
        proxy.clearFaults();
        // Without a checksum a corrupted byte cannot be detected: that is the documented trade-off.
        for (const rule of spec.faults) if (spec.checksum !== false || rule.fault !== 'corrupt-byte') proxy.addFault(rule);
        const blob = `chaos/${++blobs}`;
        const data = makeInput(spec.size, spec.seed);
        const dispatcher = new Agent();
        const stream = createResumableWriteStream({
          protocol: 'azure',
          url: `${container}/${blob}`,
          azure: { accountKey: AZURITE_KEY },
          queueSize: spec.queueSize,
          chunkSize: spec.blockSize,
          checksum: spec.checksum,
          dispatcher,
          retry: RETRY,
          timeouts: TIMEOUTS,
        });
        const outcome = await runBounded(data, spec.writeSize, stream);
        await dispatcher.close();
        proxy.clearFaults();
        const stored = await azurite.read('chaos', blob);
        const context = `${String(outcome)} ${JSON.stringify(spec)}`;
        if (outcome === undefined) {
          expect(stored && sha256(stored), context).toBe(sha256(data));
          return 'stored';
        }
        expect(outcome, context).toBeInstanceOf(ResumableUploadError);
        // A commit or Put Blob that succeeded with its answer lost, then a failure: the blob is the input.
        expect(stored === undefined || sha256(stored) === sha256(data), context).toBe(true);
        return (outcome as ResumableUploadError).code;
      },
      'Azure chaos',
    );
  });
});
