/** 'progress' carries bytesSent, which moves as body bytes go out, between acknowledgements (GCS, S3). */
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResumableWriteStream, type UploadProgress } from '../../src/index.js';
import { createTestServer, type TestServer } from '../../src/testing/index.js';
import { FAST_RETRY, MiB, makeData, sha256, source } from './helpers.js';
import { PART, startS3, type S3Bench } from './s3-helpers.js';

let gcs: TestServer;
let s3: S3Bench;
beforeAll(async () => {
  [gcs, s3] = await Promise.all([createTestServer({ bandwidth: 8 * MiB }), startS3()]);
});
afterAll(async () => {
  await Promise.all([gcs.close(), s3.close()]);
});

function checkInvariants(events: UploadProgress[]): void {
  for (const event of events) {
    expect(event.bytesCommitted).toBeLessThanOrEqual(event.bytesSent);
    expect(event.bytesSent).toBeLessThanOrEqual(event.bytesWritten);
  }
}

describe("'progress' bytesSent", () => {
  it('GCS: progress between acknowledgements, with bytesSent ahead of bytesCommitted; the last event has all three equal', async () => {
    const data = makeData(2 * MiB);
    const url = gcs.createSession();
    const stream = createResumableWriteStream({ url, chunkSize: MiB, retry: FAST_RETRY });
    const events: UploadProgress[] = [];
    stream.on('progress', (progress) => events.push(progress));
    await pipeline(source(data), stream);
    checkInvariants(events);
    // Bytes of the first chunk were reported on their way, before its acknowledgement.
    expect(events.some((event) => event.bytesCommitted === 0 && event.bytesSent >= 256 * 1024)).toBe(true);
    expect(events.at(-1)).toEqual({ bytesWritten: data.length, bytesSent: data.length, bytesCommitted: data.length });
    expect(sha256(gcs.session(url).object?.data as Buffer)).toBe(sha256(data));
  });

  it('S3: parts in flight count as sent until they are committed', async () => {
    const events: UploadProgress[] = [];
    const stream = createResumableWriteStream({ s3: { bucket: 'bkt', key: 'progress/sent2.bin', endpoint: s3.proxy.url, credentials: s3.s3.credentials, queueSize: 2 }, chunkSize: PART, retry: FAST_RETRY });
    stream.on('progress', (progress) => events.push(progress));
    await pipeline(source(makeData(3 * PART)), stream);
    checkInvariants(events);
    expect(events.some((event) => event.bytesSent > event.bytesCommitted)).toBe(true);
    expect(events.at(-1)).toEqual({ bytesWritten: 3 * PART, bytesSent: 3 * PART, bytesCommitted: 3 * PART });
  });
});
