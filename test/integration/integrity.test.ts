/** End-to-end integrity: digests of the whole stream, sent with the final request and checked. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer } from '../../src/testing/index.js';
import { K256, sha256, storedBytes, upload } from './helpers.js';

let server: TestServer;
beforeAll(async () => {
  server = await createTestServer();
});
afterAll(() => server.close());

const CHUNK = 2 * K256;

describe('checksums', () => {
  it.each([
    ['crc32c', 0],
    ['crc32c', 1],
    ['crc32c', 2 * CHUNK],
    ['crc32c', 3 * CHUNK + 17],
    ['md5', 3 * CHUNK + 17],
    ['both', 2 * CHUNK],
    ['both', 0],
  ] as const)('%s, %i bytes: X-Goog-Hash on the final request only, and the result is verified', async (checksum, size) => {
    const outcome = await upload(server, { size, chunkSize: CHUNK, options: { checksum } });
    expect(outcome.error).toBeUndefined();
    const object = server.session(outcome.uri).object!;
    const result = outcome.stream.result!;
    expect(result.verified).toBe(true);
    if (checksum !== 'md5') expect(result.checksums.crc32c).toBe(object.crc32c);
    if (checksum !== 'crc32c') expect(result.checksums.md5).toBe(object.md5Hash);
    const hashed = server.session(outcome.uri).requests.filter((entry) => entry.googHash !== undefined);
    expect(hashed).toHaveLength(1);
    expect(hashed[0]?.status).toBe(200);
    expect(hashed[0]?.googHash).toBe(
      [checksum !== 'md5' ? `crc32c=${object.crc32c}` : '', checksum !== 'crc32c' ? `md5=${object.md5Hash}` : ''].filter(Boolean).join(','),
    );
  });

  it('checksum: false sends no X-Goog-Hash and verifies nothing', async () => {
    const outcome = await upload(server, { size: 1000, options: { checksum: false } });
    expect(outcome.error).toBeUndefined();
    expect(outcome.stream.result).toMatchObject({ verified: false, checksums: {} });
    expect(server.session(outcome.uri).requests.every((entry) => entry.googHash === undefined)).toBe(true);
  });

  it('replays do not hash bytes twice: partial persistence, resets, lost final answer', async () => {
    const outcome = await upload(server, {
      size: 4 * CHUNK + 99,
      chunkSize: CHUNK,
      faults: ['persist-only-256K', { fault: 'return-reset-connection-after-1280K' }, { fault: 'omit-range', on: 5 }, 'lose-final-answer'],
      options: { checksum: 'both' },
    });
    expect(outcome.error).toBeUndefined();
    expect(outcome.stream.result?.verified).toBe(true);
    expect(sha256(storedBytes(server, outcome.uri) as Buffer)).toBe(sha256(outcome.data));
  });
});

describe('corruption is an error, never a warning', () => {
  it('a byte corrupted on the server: it refuses the final request (X-Goog-Hash), nothing is finalized', async () => {
    const outcome = await upload(server, { size: 3 * CHUNK + 5, chunkSize: CHUNK, faults: [{ fault: 'corrupt-byte', on: 2 }] });
    expect(outcome.error).toMatchObject({ code: 'RWS_CHECKSUM_MISMATCH', algorithm: 'crc32c' });
    expect((outcome.error as Error).message).toMatch(/refused the object.*nothing was finalized/);
    expect(server.session(outcome.uri).finalized).toBe(false);
  });

  it.each([400, 412] as const)('a digest refusal answered %i (GCS; its emulator) is RWS_CHECKSUM_MISMATCH, nothing finalized', async (status) => {
    const refusing = await createTestServer({ hashRefusalStatus: status });
    for (const checksum of ['crc32c', 'md5'] as const) {
      const outcome = await upload(refusing, { size: 2 * CHUNK + 5, chunkSize: CHUNK, faults: [{ fault: 'corrupt-byte', on: 1 }], options: { checksum } });
      expect(outcome.error).toMatchObject({ code: 'RWS_CHECKSUM_MISMATCH', algorithm: checksum });
      expect((outcome.error as Error).message).toMatch(new RegExp(`answered ${status}.*nothing was finalized`));
      expect(refusing.session(outcome.uri).finalized).toBe(false);
      expect(outcome.wire.at(-1)).toMatch(new RegExp(` ${status}$`));
    }
    await refusing.close();
  });

  it('a server that does not check X-Goog-Hash: the reported digest is compared and the stream fails', async () => {
    const lax = await createTestServer({ verifyHashes: false });
    const outcome = await upload(lax, { size: 2 * CHUNK + 5, chunkSize: CHUNK, faults: [{ fault: 'corrupt-byte', on: 1 }], options: { checksum: 'both' } });
    expect(outcome.error).toMatchObject({ code: 'RWS_CHECKSUM_MISMATCH', algorithm: 'crc32c' });
    expect((outcome.error as { expected: string; reported: string }).reported).toBe(lax.session(outcome.uri).object?.crc32c);
    await lax.close();
  });

  it('an md5-only stream detects it too', async () => {
    const outcome = await upload(server, { size: CHUNK + 5, chunkSize: CHUNK, faults: [{ fault: 'corrupt-byte', on: 'final' }], options: { checksum: 'md5' } });
    expect(outcome.error).toMatchObject({ code: 'RWS_CHECKSUM_MISMATCH', algorithm: 'md5' });
  });
});

describe('a final answer that cannot be checked is not taken on trust', () => {
  it('metadata cut to 20 bytes: the server is asked once more and that answer is verified', async () => {
    const outcome = await upload(server, { size: 2 * CHUNK + 5, chunkSize: CHUNK, faults: ['cut-final-answer'] });
    expect(outcome.error).toBeUndefined();
    expect(outcome.stream.result).toMatchObject({ verified: true, body: { size: String(2 * CHUNK + 5) } });
    expect(outcome.wire.slice(-2)).toEqual([`bytes ${2 * CHUNK}-${2 * CHUNK + 4}/${2 * CHUNK + 5} 200`, 'bytes */* 200']);
  });

  it('cut, and the object stored differs: the second answer shows it, RWS_CHECKSUM_MISMATCH', async () => {
    const lax = await createTestServer({ verifyHashes: false });
    const outcome = await upload(lax, { size: 2 * CHUNK + 5, chunkSize: CHUNK, faults: [{ fault: 'corrupt-byte', on: 1 }, 'cut-final-answer'] });
    expect(outcome.error).toMatchObject({ code: 'RWS_CHECKSUM_MISMATCH' });
    await lax.close();
  });

  it('cut with checksum: false: asked once more too, for the size', async () => {
    const outcome = await upload(server, { size: CHUNK + 1, chunkSize: CHUNK, faults: ['cut-final-answer'], options: { checksum: false } });
    expect(outcome.error).toBeUndefined();
    expect(outcome.stream.result).toMatchObject({ verified: false, body: { size: String(CHUNK + 1) } });
    expect(outcome.wire.at(-1)).toBe('bytes */* 200');
  });

  it('a whole answer is not asked again', async () => {
    const outcome = await upload(server, { size: CHUNK + 1, chunkSize: CHUNK });
    expect(outcome.stream.result?.verified).toBe(true);
    expect(outcome.wire.at(-1)).toBe(`bytes ${CHUNK}-${CHUNK}/${CHUNK + 1} 200`);
  });

  it('the Redivis dialect reports no digests: one more question, then verified: false', async () => {
    const outcome = await upload(server, { size: CHUNK + 1, chunkSize: CHUNK, session: { dialect: 'redivis' } });
    expect(outcome.error).toBeUndefined();
    expect(outcome.stream.result?.verified).toBe(false);
    expect(outcome.wire.at(-1)).toBe('bytes */* 200');
  });
});

