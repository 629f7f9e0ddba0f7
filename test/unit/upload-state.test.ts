/**
 * The pure core, with no I/O: scripted answers, then thousands of simulated uploads against the
 * test server's session model (GCS persistence rules) with random partial persistence.
 */
import { describe, expect, it } from 'vitest';
import { UploadState } from '../../src/offset/upload-state.js';
import type { ChunkRequest, UploadRequest } from '../../src/offset/vocabulary.js';
import { createGcsProtocol } from '../../src/protocols/gcs/adapter.js';
import { UploadSession } from '../../src/testing/upload-session.js';

const K256 = 262144;
const gcs = createGcsProtocol();

/** A GCS answer, as the protocol translates it for the core. */
function summary(request: UploadRequest, status: number, range: string | undefined) {
  return gcs.summarize({ status, headers: range === undefined ? {} : { range }, body: '', bodyTruncated: false }, request);
}
const chunkAnswer = (state: UploadState, request: ChunkRequest, status: number, range: string | undefined) =>
  state.interpretChunkAnswer(request, summary(request, status, range));
const queryAnswer = (status: number, range: string | undefined) => summary({ kind: 'query', contentRange: 'bytes */*' }, status, range);

describe('UploadState: the only writer of its counters (resume, verify-only)', () => {
  it('a resume query takes any offset the server reports, then nothing beyond it counts as sent', () => {
    const state = new UploadState(K256, undefined);
    state.startInputAt(K256);
    expect(state.bytesWritten).toBe(K256);
    state.onResumeQuery();
    expect(state.interpretQueryAnswer(queryAnswer(308, `bytes=0-${3 * K256 - 1}`), true)).toEqual({ type: 'accepted' });
    state.onResumeQueried();
    expect(state.bytesCommitted).toBe(3 * K256);
    expect(state.bytesSent).toBe(3 * K256);
    // Without the resume query, an offset beyond what this process sent is a protocol error.
    const fresh = new UploadState(K256, undefined);
    expect(fresh.interpretQueryAnswer(queryAnswer(308, 'bytes=0-9'), true)).toMatchObject({ type: 'protocol-error' });
  });

  it('an upload finished before: complete at once, and what is written again is all committed at its end', () => {
    const state = new UploadState(K256, undefined);
    state.onFinishedBefore();
    expect(state.complete).toBe(true);
    expect(state.nextRequest()).toBeUndefined();
    state.onWrite(10);
    state.onEnd();
    state.onRewriteEnded();
    expect(state.bytesCommitted).toBe(10);
  });

  it('its counters are read-only from outside (the driver reports events, it never sets them)', () => {
    const state = new UploadState(K256, undefined);
    // @ts-expect-error bytesSent has no setter
    expect(() => (state.bytesSent = Number.MAX_SAFE_INTEGER)).toThrow(TypeError);
    // @ts-expect-error bytesCommitted has no setter
    expect(() => (state.bytesCommitted = 1)).toThrow(TypeError);
    // @ts-expect-error complete has no setter
    expect(() => (state.complete = true)).toThrow(TypeError);
  });
});

describe('UploadState: planning', () => {
  it('waits for a full chunk until end(); the final request is decided by end() only', () => {
    const state = new UploadState(2 * K256, undefined);
    state.onWrite(2 * K256 - 1);
    expect(state.nextRequest()).toBeUndefined();
    state.onWrite(1);
    expect(state.nextRequest()).toMatchObject({ start: 0, length: 2 * K256, final: false, contentRange: 'bytes 0-524287/*' });
  });

  it('empty stream → bytes */0', () => {
    const state = new UploadState(K256, undefined);
    state.onEnd();
    expect(state.nextRequest()).toMatchObject({ length: 0, final: true, contentRange: 'bytes */0' });
  });

  it('exact multiple: the last full chunk goes out non-final, then bytes */T finalizes', () => {
    const state = new UploadState(K256, undefined);
    state.onWrite(K256);
    const first = state.nextRequest() as ChunkRequest;
    state.onSend(first);
    expect(chunkAnswer(state, first, 308, 'bytes=0-262143')).toEqual({ type: 'accepted' });
    state.onEnd();
    expect(state.nextRequest()).toMatchObject({ contentRange: 'bytes */262144', final: true });
  });

  it('after end(), more than a chunk left goes out as a non-final chunk, then the rest as final', () => {
    const state = new UploadState(K256, undefined);
    state.onWrite(K256 + 17);
    state.onEnd();
    expect(state.nextRequest()).toMatchObject({ contentRange: 'bytes 0-262143/*', final: false });
  });

  it('exactly one chunk left at end() is final with the total, not a chunk plus bytes */T', () => {
    const state = new UploadState(K256, undefined);
    state.onWrite(K256);
    state.onEnd();
    expect(state.nextRequest()).toMatchObject({ contentRange: 'bytes 0-262143/262144', final: true });
  });

  it('with a declared total, every request carries it and none reaches it before end()', () => {
    const state = new UploadState(K256, K256 * 2);
    state.onWrite(K256 * 2);
    const first = state.nextRequest() as ChunkRequest;
    expect(first.contentRange).toBe('bytes 0-262143/524288');
    state.onSend(first);
    chunkAnswer(state, first, 308, 'bytes=0-262143');
    expect(state.nextRequest()).toBeUndefined();
    expect(state.isFull(0)).toBe(false); // the writer may end(): nothing more can come
    expect(state.onEnd()).toBeUndefined();
    expect(state.nextRequest()).toMatchObject({ contentRange: 'bytes 262144-524287/524288', final: true });
    expect(state.statusQuery().contentRange).toBe('bytes */524288');
  });

  it('reports writes past the declared total and ends short of it', () => {
    expect(new UploadState(K256, 10).onWrite(11)).toMatch(/more than the declared totalSize 10/);
    const short = new UploadState(K256, 10);
    short.onWrite(9);
    expect(short.onEnd()).toMatch(/ended after 9 bytes, but totalSize declared 10/);
  });

  it('isFull: more than a full chunk waiting beyond the one in flight blocks the writer', () => {
    const state = new UploadState(K256, undefined);
    state.onWrite(K256);
    expect(state.isFull(K256)).toBe(false);
    state.onWrite(K256 - 1);
    expect(state.isFull(K256)).toBe(false);
    state.onWrite(1);
    // Exactly full: the writer may still call end(), so the chunk can go out as the final one.
    expect(state.isFull(K256)).toBe(false);
    state.onWrite(1);
    expect(state.isFull(K256)).toBe(true);
  });
});

describe('UploadState: answers', () => {
  const sent = (state: UploadState) => {
    const request = state.nextRequest() as ChunkRequest;
    state.onSend(request);
    return request;
  };

  it('partial persistence resumes at K+1, on the final request too', () => {
    const state = new UploadState(2 * K256, undefined);
    state.onWrite(2 * K256 + 5);
    const first = sent(state);
    expect(chunkAnswer(state, first, 308, `bytes=0-${K256 - 1}`)).toEqual({ type: 'accepted' });
    expect(state.bytesCommitted).toBe(K256);
    state.onEnd();
    const final = sent(state);
    expect(final.contentRange).toBe(`bytes ${K256}-${2 * K256 + 4}/${2 * K256 + 5}`);
    expect(chunkAnswer(state, final, 308, `bytes=0-${2 * K256 - 1}`)).toEqual({ type: 'accepted' });
    expect(state.nextRequest()).toMatchObject({ start: 2 * K256, final: true });
  });

  it('308 without Range from offset 0 is a replay; after confirmed bytes it needs a status query', () => {
    const state = new UploadState(K256, undefined);
    state.onWrite(2 * K256);
    const first = sent(state);
    expect(chunkAnswer(state, first, 308, undefined)).toEqual({ type: 'accepted' });
    expect(state.bytesCommitted).toBe(0);
    chunkAnswer(state, sent(state), 308, `bytes=0-${K256 - 1}`);
    expect(chunkAnswer(state, sent(state), 308, undefined)).toMatchObject({ type: 'retryable' });
  });

  it('a status query without Range after confirmed bytes: ask once more, then fail', () => {
    const state = new UploadState(K256, undefined);
    state.onWrite(2 * K256);
    chunkAnswer(state, sent(state), 308, `bytes=0-${K256 - 1}`);
    expect(state.interpretQueryAnswer(queryAnswer(308, undefined), false)).toEqual({ type: 'requery' });
    expect(state.interpretQueryAnswer(queryAnswer(308, undefined), true)).toMatchObject({ type: 'protocol-error' });
    expect(state.interpretQueryAnswer(queryAnswer(308, `bytes=0-${K256 - 1}`), true)).toEqual({ type: 'accepted' });
  });

  it('Redivis dialect: 2xx to a non-final chunk is acceptance; Range is honoured when present', () => {
    const state = new UploadState(K256, undefined);
    state.onWrite(3 * K256);
    chunkAnswer(state, sent(state), 200, undefined);
    expect(state.bytesCommitted).toBe(K256);
    const second = sent(state);
    expect(chunkAnswer(state, second, 200, `bytes=0-${K256 - 1}`)).toEqual({ type: 'accepted' });
    expect(state.bytesCommitted).toBe(K256);
  });

  it('a query answering complete before the final request is a protocol error; after it, done', () => {
    const state = new UploadState(K256, undefined);
    state.onWrite(10);
    expect(state.interpretQueryAnswer(queryAnswer(200, undefined), false)).toMatchObject({ type: 'protocol-error' });
    state.onEnd();
    sent(state);
    expect(state.interpretQueryAnswer(queryAnswer(200, undefined), false)).toEqual({ type: 'complete' });
    expect(state.bytesCommitted).toBe(10);
  });

  it.each([
    ['garbage', 'bytes=zero-five'],
    ['not from 0', 'bytes=10-20'],
    ['beyond what was sent', `bytes=0-${2 * K256}`],
  ])('Range %s → protocol error', (_name, range) => {
    const state = new UploadState(K256, undefined);
    state.onWrite(4 * K256);
    expect(chunkAnswer(state, sent(state), 308, range)).toMatchObject({ type: 'protocol-error' });
  });

  it('an offset going backwards past released bytes → protocol error', () => {
    const state = new UploadState(K256, undefined);
    state.onWrite(4 * K256);
    chunkAnswer(state, sent(state), 308, `bytes=0-${K256 - 1}`);
    expect(chunkAnswer(state, sent(state), 308, 'bytes=0-99')).toMatchObject({
      type: 'protocol-error',
      reason: expect.stringMatching(/after confirming 262144/),
    });
  });

  it.each([
    [408, 'retryable'], [429, 'retryable'], [500, 'retryable'], [502, 'retryable'], [503, 'retryable'], [504, 'retryable'],
    [404, 'session-expired'], [410, 'session-expired'], [400, 'check-session'],
    [401, 'rejected'], [403, 'rejected'], [412, 'rejected'], [301, 'rejected'], [302, 'rejected'], [307, 'rejected'], [501, 'rejected'],
  ])('chunk answered %i → %s', (status, type) => {
    const state = new UploadState(K256, undefined);
    state.onWrite(K256);
    expect(chunkAnswer(state, sent(state), status, undefined).type).toBe(type);
  });

  it('a 400 to a status query is an expired session', () => {
    expect(new UploadState(K256, undefined).interpretQueryAnswer(queryAnswer(400, undefined), false)).toEqual({ type: 'session-expired' });
  });
});

/** A tiny deterministic PRNG, so a failing case is reproducible from its seed. */
function prng(seed: number): () => number {
  let value = seed >>> 0 || 1;
  return () => {
    value ^= value << 13;
    value ^= value >>> 17;
    value ^= value << 5;
    return (value >>> 0) / 2 ** 32;
  };
}

function simulate(seed: number) {
  const random = prng(seed);
  const chunkSize = K256 * (1 + Math.floor(random() * 4));
  const size = Math.floor(random() * 6 * chunkSize) + (random() < 0.2 ? 0 : Math.floor(random() * 3));
  const declared = random() < 0.3 ? size : undefined;
  const data = Buffer.alloc(size);
  for (let index = 0; index < size; index += 4096) data[index] = Math.floor(random() * 256);
  const state = new UploadState(chunkSize, declared);
  const session = new UploadSession({ id: 'id', uri: 'uri', bucket: 'b', name: 'o', dialect: 'gcs', description: { contentType: 'x', metadata: {} } }, [], { storeBytes: true, persistStep: K256, digests: true });
  let inFlightEnd = 0;
  let requests = 0;
  while (!state.complete) {
    // The writer hands over bytes while there is room, in random sizes, then ends.
    while (state.bytesWritten < size && !state.isFull(inFlightEnd)) {
      state.onWrite(Math.min(size - state.bytesWritten, 1 + Math.floor(random() * chunkSize)));
    }
    if (state.bytesWritten === size && !state.ended) state.onEnd();
    const request = state.nextRequest();
    expect(request, `seed ${seed}: a request must be ready when the writer is blocked or done`).toBeDefined();
    if (!request) return;
    if (!request.final) expect(request.length).toBe(chunkSize);
    expect(request.start).toBe(state.bytesCommitted);
    state.onSend(request);
    inFlightEnd = request.start + request.length;
    const before = state.bytesCommitted;
    // The server keeps everything, or (1 in 3) only some whole 256 KiB steps of it.
    const partial = random() < 0.33 ? Math.floor(random() * (request.length / K256 + 1)) * K256 : undefined;
    const body = data.subarray(request.start, request.start + request.length);
    expect(session.persist(request.start, { length: body.length, bytes: body }, partial === undefined, partial)).toEqual({ ok: true });
    const isFinal = request.final && session.persisted === size;
    if (isFinal) session.finalize('1');
    const range = session.persisted === 0 ? undefined : `bytes=0-${session.persisted - 1}`;
    const meaning = chunkAnswer(state, request, isFinal ? 200 : 308, range);
    expect(['accepted', 'complete']).toContain(meaning.type);
    expect(state.bytesCommitted).toBeGreaterThanOrEqual(before);
    expect(state.bytesCommitted).toBeLessThanOrEqual(state.bytesSent);
    expect(state.bytesSent).toBeLessThanOrEqual(state.bytesWritten);
    inFlightEnd = 0;
    expect(++requests, `seed ${seed}: too many requests`).toBeLessThan(200);
  }
  expect(session.object?.data?.equals(data), `seed ${seed}`).toBe(true);
}

describe('UploadState: simulated uploads against the GCS session model', () => {
  it('1000 seeded uploads with random sizes, writes and partial persistence store the exact bytes', () => {
    for (let seed = 1; seed <= 1000; seed++) simulate(seed);
    // CPU-bound (about 22 s on a quiet 2-core machine): the bound is for a hang, not for speed.
  }, 120_000);
});
