/**
 * S3 servers that behave as Ceph RGW 16 does, reproduced by the loopback S3 server's switches:
 * flexible checksums accepted and ignored (nothing echoed), an empty ETag from Complete, and
 * NoSuchKey for an upload that is gone. Corruption on the wire comes from the fault proxy.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/index.js';
import { makeData, sha256 } from './helpers.js';
import { PART, s3Stream, startS3, uploadTo, type S3Bench } from './s3-helpers.js';

let ignoring: S3Bench;
let rgw: S3Bench;
beforeAll(async () => {
  ignoring = await startS3({ ignoreChecksums: true });
  rgw = await startS3({ ignoreChecksums: true, emptyCompleteEtag: true, uploadGoneCode: 'NoSuchKey' });
});
afterEach(() => {
  ignoring.proxy.clearFaults();
  rgw.proxy.clearFaults();
});
afterAll(async () => {
  await ignoring.close();
  await rgw.close();
});

describe('s3: a server that ignores CRC32C (checksum: crc32c, the default)', () => {
  it('a part whose CRC32C was not echoed is sent again with Content-MD5, and so is every later part: a byte flipped on the wire is caught', async () => {
    ignoring.proxy.addFault({ fault: 'corrupt-byte', method: 'PUT', on: 1 });
    const outcome = await uploadTo(ignoring, 'ignore/flipped', 3 * PART + 1, { s3: { queueSize: 1 } });
    expect(outcome.error).toBeUndefined();
    expect(sha256(outcome.stored as Buffer)).toBe(sha256(outcome.data));
    expect(outcome.stream.result?.verified).toBe(true);
    expect(outcome.wire).toEqual(['create 200', 'part1 200', 'part1 200', 'part2 200', 'part3 200', 'part4 200', 'complete 200']);
    const parts = outcome.requests.filter((entry) => entry.operation === 'part');
    expect(parts.map((entry) => entry.headers['content-md5'] !== undefined)).toEqual([false, true, true, true, true]);
  });

  it('a part corrupted on every attempt: BadDigest on Content-MD5 → RWS_CHECKSUM_MISMATCH, nothing completed', async () => {
    ignoring.proxy.addFault({ fault: 'corrupt-byte', method: 'PUT', on: 2, times: 50 });
    const outcome = await uploadTo(ignoring, 'ignore/always', 2 * PART + 1, { s3: { queueSize: 1 } });
    expect(outcome.error).toMatchObject({ code: 'RWS_CHECKSUM_MISMATCH' });
    expect(outcome.stored).toBeUndefined();
    expect(outcome.wire.some((line) => line.startsWith('complete'))).toBe(false);
  });

  it('a stream that fits in one part: PutObject carries Content-MD5 too, so a flipped byte is refused before it is stored', async () => {
    ignoring.proxy.addFault({ fault: 'corrupt-byte', method: 'PUT', on: 1, times: 50 });
    const outcome = await uploadTo(ignoring, 'ignore/put', 1000);
    expect(outcome.error).toMatchObject({ code: 'RWS_CHECKSUM_MISMATCH' });
    expect(outcome.stored).toBeUndefined();
    ignoring.proxy.clearFaults();
    const clean = await uploadTo(ignoring, 'ignore/put-clean', 1000);
    expect(clean.stream.result?.verified).toBe(true);
  });
});

describe('s3: Ceph RGW 16 (checksums ignored, empty Complete ETag, NoSuchKey)', () => {
  it('Complete answering <ETag></ETag>: a signed HEAD gives the object’s ETag and size, checked against the parts’ MD5s', async () => {
    const outcome = await uploadTo(rgw, 'rgw/empty-etag', 2 * PART + 3);
    expect(outcome.error).toBeUndefined();
    expect(sha256(outcome.stored as Buffer)).toBe(sha256(outcome.data));
    expect(outcome.wire.slice(-2)).toEqual(['complete 200', 'head 200']);
    expect(outcome.stream.result).toMatchObject({ verified: true, body: { bucket: 'bkt', key: 'rgw/empty-etag', etag: expect.stringMatching(/-3$/) } });
  });

  it('the HEAD showing another ETag than the parts make → RWS_CHECKSUM_MISMATCH', async () => {
    // Another writer replaces the object between this stream's Complete and its HEAD (held 4 s at the proxy).
    const data = makeData(PART + 1);
    const before = rgw.s3.requests.length;
    const stream = s3Stream(rgw, 'rgw/changed', { s3: { queueSize: 1 } });
    rgw.proxy.addFault({ fault: 'stall-for-4s', method: 'HEAD' });
    const done = new Promise<unknown>((resolve) => {
      stream.on('error', resolve);
      stream.on('finish', () => resolve(undefined));
    });
    stream.end(data);
    for (let waited = 0; !rgw.s3.requests.slice(before).some((entry) => entry.operation === 'complete' && entry.status === 200); waited += 5) {
      if (waited > 10_000) throw new Error('no Complete within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const other = await uploadTo(rgw, 'rgw/changed', PART + 1);
    expect(other.error).toBeUndefined();
    expect(await done).toMatchObject({ code: 'RWS_CHECKSUM_MISMATCH' });
  });

  it('ListParts of an aborted upload answering 404 NoSuchKey is RWS_SESSION_EXPIRED, from the committed offset and from the start', async () => {
    const first = s3Stream(rgw, 'rgw/aborted', { s3: { leavePartsOnError: true } });
    first.on('error', () => {});
    let checkpoint: Checkpoint | undefined;
    first.on('checkpoint', (saved) => (checkpoint = saved));
    const data = makeData(3 * PART);
    first.write(data);
    await new Promise<void>((resolve) => first.on('checkpoint', (saved) => saved.bytesCommitted >= PART && resolve()));
    expect(await first.cancel()).toEqual({ status: 204 });
    for (const resumeInput of ['from-committed', 'from-start'] as const) {
      const before = rgw.s3.requests.length;
      const resumed = await uploadTo(rgw, 'rgw/aborted', 0, { resume: checkpoint, resumeInput }, resumeInput === 'from-start' ? data : data.subarray((checkpoint as Checkpoint).bytesCommitted));
      expect(resumed.error).toMatchObject({ code: 'RWS_SESSION_EXPIRED' });
      expect(rgw.s3.requests[before]).toMatchObject({ operation: 'list', status: 404 });
      expect(rgw.s3.object('bkt', 'rgw/aborted')).toBeUndefined();
    }
  });

  it('a whole upload against it, defaults, a byte flipped on the wire: exact and verified', async () => {
    rgw.proxy.addFault({ fault: 'corrupt-byte', method: 'PUT', on: 3 });
    const outcome = await uploadTo(rgw, 'rgw/whole', 4 * PART + 11);
    expect(outcome.error).toBeUndefined();
    expect(sha256(outcome.stored as Buffer)).toBe(sha256(outcome.data));
    expect(outcome.stream.result?.verified).toBe(true);
  });
});
