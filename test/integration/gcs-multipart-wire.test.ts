/**
 * The gcs-multipart adapter against the loopback GCS server's XML multipart endpoints, one
 * operation at a time (no parts driver): GCS's rules, the fault vocabulary, authentication,
 * integrity checks and the lost completion answer, on real sockets.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamDigests, type ChecksumOption } from '../../src/checksum.js';
import { ChecksumMismatchError, HttpStatusError, SessionExpiredError } from '../../src/errors.js';
import type { OutgoingPart, PartsProtocol, StoredPart } from '../../src/parts/protocol.js';
import { createTestServer, type FaultRule, type TestServer } from '../../src/testing/index.js';
import { gcsProtocol, partsCall } from './gcs-multipart-helpers.js';

const MiB = 1024 * 1024;
const TOKEN = 'test-token';
let server: TestServer;

beforeAll(async () => {
  server = await createTestServer({ token: TOKEN, partsPerPage: 2, hmacKeys: [{ accessId: 'GOOG1EXAMPLE', secret: 'hmac-secret' }] });
});
afterAll(() => server.close());

let objects = 0;
function setup(extra: Record<string, unknown> = {}) {
  const name = `mp/${++objects} name with spaces+plus.bin`;
  const protocol = gcsProtocol({ name, apiEndpoint: server.url, token: TOKEN, ...extra });
  return { name, protocol, call: partsCall(protocol) };
}

function outgoing(partNumber: number, start: number, data: Buffer, checksum: ChecksumOption = 'both'): OutgoingPart {
  return { partNumber, start, length: data.length, body: [data], digests: new StreamDigests(checksum).digestWith([data]) };
}

async function putAll(protocol: PartsProtocol, call: ReturnType<typeof partsCall>, uploadId: string, sizes: number[]) {
  const data = randomBytes(sizes.reduce((a, b) => a + b, 0));
  const stored: StoredPart[] = [];
  let start = 0;
  for (const [index, size] of sizes.entries()) {
    stored.push(await protocol.putPart(call, uploadId, outgoing(index + 1, start, data.subarray(start, start + size))));
    start += size;
  }
  return { data, stored, whole: new StreamDigests('crc32c').digestWith([data]) };
}

const operations = (uploadId: string) => server.multipart.requests.filter((entry) => entry.uploadId === uploadId).map((entry) => `${entry.operation}${entry.partNumber ?? ''} ${entry.status}`);

/** A server of its own with `faults` armed on every upload, and an adapter for `name` on it. */
async function withFaults(faults: FaultRule[], name: string, run: (own: TestServer, protocol: PartsProtocol, retries: { count: number }) => Promise<void>): Promise<void> {
  const own = await createTestServer({ token: TOKEN, faults });
  try {
    const protocol = gcsProtocol({ name, apiEndpoint: own.url, token: TOKEN });
    await run(own, protocol, { count: 0 });
  } finally {
    await own.close();
  }
}

describe('gcs-multipart on the wire', () => {
  it('initiates, stores parts with x-goog-hash, lists every page and completes to the exact bytes', async () => {
    const { name, protocol, call } = setup({ metadata: { Owner: 'me' }, contentType: 'text/plain' });
    const uploadId = await protocol.create(call);
    const { data, stored, whole } = await putAll(protocol, call, uploadId, [5 * MiB, 5 * MiB, 1]);
    expect(stored.every((part) => part.verified && part.md5Hex !== undefined)).toBe(true);
    const listed = await protocol.listParts(call, uploadId);
    expect([...listed.values()].map((part) => [part.partNumber, part.size])).toEqual([[1, 5 * MiB], [2, 5 * MiB], [3, 1]]);
    expect(listed.get(1)?.md5Hex).toBe(stored[0]?.md5Hex);
    const result = await protocol.complete(call, uploadId, stored, whole);
    expect(result.verified).toBe(true);
    const object = server.object('bkt', name);
    expect(object?.data?.equals(data)).toBe(true);
    expect(object).toMatchObject({ md5Hash: undefined, contentType: 'text/plain', metadata: { owner: 'me' } });
    // partsPerPage 2: the listing took two pages.
    expect(operations(uploadId)).toEqual(['initiate 200', 'part1 200', 'part2 200', 'part3 200', 'list 200', 'list 200', 'complete 200']);
    expect(server.multipart.openUploads().some((open) => open.uploadId === uploadId)).toBe(false);
  });

  it('a part smaller than 5 MiB but the last is refused at completion (400 EntityTooSmall, not retried)', async () => {
    const { protocol, call } = setup();
    const uploadId = await protocol.create(call);
    const { stored, whole } = await putAll(protocol, call, uploadId, [5 * MiB - 1, 1]);
    const error = await protocol.complete(call, uploadId, stored, whole).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect((error as HttpStatusError).status).toBe(400);
    expect((error as Error).message).toContain('EntityTooSmall');
    expect(operations(uploadId).at(-1)).toBe('complete 400');
  });

  it('refuses parts named out of order or with a wrong ETag, and part numbers past 10,000', async () => {
    const { protocol, call } = setup();
    const uploadId = await protocol.create(call);
    const { stored, whole } = await putAll(protocol, call, uploadId, [5 * MiB, 1]);
    await expect(protocol.complete(call, uploadId, [...stored].reverse(), whole)).rejects.toThrow(/InvalidPartOrder/);
    await expect(protocol.complete(call, uploadId, [stored[0] as StoredPart, { ...(stored[1] as StoredPart), tag: '"0000"' }], whole)).rejects.toThrow(/InvalidPart\b/);
    await expect(protocol.putPart(call, uploadId, outgoing(10_001, 0, Buffer.from('x')))).rejects.toThrow(/InvalidArgument/);
  });

  it('a part whose x-goog-hash differs from its bytes is refused (400 BadDigest → ChecksumMismatchError)', async () => {
    const { protocol, call } = setup();
    const uploadId = await protocol.create(call);
    const part = { ...outgoing(1, 0, randomBytes(1000)), digests: new StreamDigests('crc32c').digestWith([Buffer.from('other bytes')]) };
    await expect(protocol.putPart(call, uploadId, part)).rejects.toBeInstanceOf(ChecksumMismatchError);
    expect(server.multipart.openUploads().find((open) => open.uploadId === uploadId)?.parts).toBe(0);
  });

  it('an object stored corrupt (corrupt-byte on the completion) fails the CRC32C check', async () => {
    await withFaults([{ fault: 'corrupt-byte', on: 'final' }], 'corrupt.bin', async (own, p, retries) => {
      const c = partsCall(p, retries);
      const uploadId = await p.create(c);
      const { stored, whole } = await putAll(p, c, uploadId, [5 * MiB, 10]);
      const error = await p.complete(c, uploadId, stored, whole).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ChecksumMismatchError);
      expect((error as ChecksumMismatchError).algorithm).toBe('crc32c');
    });
  });

  it('a lost completion answer: the retry finds the upload gone, the object is checked (HEAD) and accepted', async () => {
    await withFaults([{ fault: 'lose-final-answer', on: 'final' }], 'lost.bin', async (own, p, retries) => {
      const c = partsCall(p, retries);
      const uploadId = await p.create(c);
      const { data, stored, whole } = await putAll(p, c, uploadId, [5 * MiB, 3]);
      const result = await p.complete(c, uploadId, stored, whole);
      expect(result.verified).toBe(true);
      expect(retries.count).toBe(1);
      expect(own.object('bkt', 'lost.bin')?.data?.equals(data)).toBe(true);
      expect(own.multipart.requests.slice(-3).map((entry) => `${entry.operation} ${entry.status}`)).toEqual(['complete lost', 'complete 404', 'head 200']);
    });
  });

  it('a lost completion answer whose object is not ours stays a SessionExpiredError', async () => {
    await withFaults([{ fault: 'lose-final-answer', on: 'final' }], 'lost.bin', async (own, p, retries) => {
      const c = partsCall(p, retries);
      const uploadId = await p.create(c);
      const { stored } = await putAll(p, c, uploadId, [5 * MiB, 3]);
      const otherWhole = new StreamDigests('crc32c').digestWith([Buffer.from('not these bytes')]);
      await expect(p.complete(c, uploadId, stored, otherWhole)).rejects.toBeInstanceOf(SessionExpiredError);
    });
  });

  it('a completion answer without x-goog-hash (cut-final-answer) is checked by a HEAD', async () => {
    await withFaults([{ fault: 'cut-final-answer', on: 'final' }], 'cut.bin', async (own, p, retries) => {
      const c = partsCall(p, retries);
      const uploadId = await p.create(c);
      const { stored, whole } = await putAll(p, c, uploadId, [5 * MiB, 3]);
      expect((await p.complete(c, uploadId, stored, whole)).verified).toBe(true);
      expect(own.multipart.requests.at(-1)?.operation).toBe('head');
    });
  });

  it.each([
    ['return-503', 'part1 503'],
    ['return-reset-connection', 'part1 reset'],
    ['return-503-after-256K', 'part1 503'],
    ['return-reset-connection-after-1024K', 'part1 reset'],
  ])('%s on a part: the part alone is sent again', async (fault, first) => {
    await withFaults([{ fault, on: 'first' }], 'faults.bin', async (own, p, retries) => {
      const c = partsCall(p, retries);
      const uploadId = await p.create(c);
      const { data, stored, whole } = await putAll(p, c, uploadId, [5 * MiB, 3]);
      await p.complete(c, uploadId, stored, whole);
      expect(own.object('bkt', 'faults.bin')?.data?.equals(data)).toBe(true);
      expect(own.multipart.requests.filter((entry) => entry.uploadId === uploadId).map((entry) => `${entry.operation}${entry.partNumber ?? ''} ${entry.status}`)).toEqual(['initiate 200', first, 'part1 200', 'part2 200', 'complete 200']);
    });
  });

  it('session-gone on the middle part: 404 NoSuchUpload is a SessionExpiredError', async () => {
    await withFaults([{ fault: 'session-gone', on: 2 }], 'gone.bin', async (own, p, retries) => {
      const c = partsCall(p, retries);
      const uploadId = await p.create(c);
      await expect(putAll(p, c, uploadId, [5 * MiB, 5 * MiB, 1])).rejects.toBeInstanceOf(SessionExpiredError);
      await expect(p.listParts(c, uploadId)).rejects.toBeInstanceOf(SessionExpiredError);
    });
  });

  it('cancel (DELETE) answers 204 and the upload is gone from then on', async () => {
    const { protocol, call } = setup();
    const uploadId = await protocol.create(call);
    await putAll(protocol, call, uploadId, [1000]);
    expect(await protocol.abort(call, uploadId)).toBe(204);
    await expect(protocol.listParts(call, uploadId)).rejects.toBeInstanceOf(SessionExpiredError);
  });

  it('a stream that fits in one part is one PUT, its digests checked by the server and echoed', async () => {
    const { name, protocol, call } = setup();
    const data = randomBytes(1234);
    const result = await protocol.putWhole(call, [data], new StreamDigests('both').digestWith([data]));
    expect(result.verified).toBe(true);
    expect(server.object('bkt', name)?.data?.equals(data)).toBe(true);
    const bad = protocol.putWhole(call, [data], new StreamDigests('crc32c').digestWith([Buffer.from('x')]));
    await expect(bad).rejects.toBeInstanceOf(ChecksumMismatchError);
  });

  it('confirmCompleted accepts the object only when its size and CRC32C are the bytes written', async () => {
    const { name, protocol, call } = setup();
    const data = randomBytes(100);
    await protocol.putWhole(call, [data], {});
    const gone = new SessionExpiredError(404, 'gone');
    const written = { size: 100, digests: new StreamDigests('crc32c').digestWith([data]), partMd5Hex: [], md5Hex: '' };
    await expect(protocol.confirmCompleted(call, written, gone)).resolves.toMatchObject({ verified: true });
    await expect(protocol.confirmCompleted(call, { ...written, size: 99 }, gone)).rejects.toBe(gone);
    expect(server.object('bkt', name)?.size).toBe(100);
  });

  it('every request is authorized: none is 401, a wrong token 403, an HMAC key signs (SigV4)', async () => {
    const anonymous = gcsProtocol({ apiEndpoint: server.url });
    await expect(anonymous.create(partsCall(anonymous))).rejects.toMatchObject({ status: 401 });
    const wrong = gcsProtocol({ apiEndpoint: server.url, token: 'wrong' });
    await expect(wrong.create(partsCall(wrong))).rejects.toMatchObject({ status: 403 });
    const hmac = gcsProtocol({ apiEndpoint: server.url, hmac: { accessId: 'GOOG1EXAMPLE', secret: 'hmac-secret' } });
    const call = partsCall(hmac);
    const uploadId = await hmac.create(call);
    const { data, stored, whole } = await putAll(hmac, call, uploadId, [5 * MiB, 1]);
    await hmac.complete(call, uploadId, stored, whole);
    expect(server.object('bkt', 'dir/object one.bin')?.data?.equals(data)).toBe(true);
    expect(operations(uploadId)).toEqual(['initiate 200', 'part1 200', 'part2 200', 'complete 200']);
    expect(server.multipart.requests.filter((entry) => entry.uploadId === uploadId).every((entry) => entry.auth === 'hmac')).toBe(true);
    const wrongSecret = gcsProtocol({ apiEndpoint: server.url, hmac: { accessId: 'GOOG1EXAMPLE', secret: 'other' } });
    await expect(wrongSecret.create(partsCall(wrongSecret))).rejects.toMatchObject({ status: 403, message: expect.stringContaining('SignatureDoesNotMatch') });
    const unknown = gcsProtocol({ apiEndpoint: server.url, hmac: { accessId: 'GOOG1OTHER', secret: 'secret' } });
    await expect(unknown.create(partsCall(unknown))).rejects.toMatchObject({ status: 403 });
  });

  it('getToken is asked for every request, so a long upload gets fresh tokens', async () => {
    let asked = 0;
    const protocol = gcsProtocol({ apiEndpoint: server.url, getToken: () => (asked++, TOKEN) });
    const call = partsCall(protocol);
    const uploadId = await protocol.create(call);
    await protocol.abort(call, uploadId);
    expect(asked).toBe(2);
  });
});
