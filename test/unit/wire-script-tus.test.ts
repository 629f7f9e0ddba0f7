/**
 * tus on a scripted wire: the exact request sequence of `createResumableWriteStream` (method,
 * path, the tus headers), listed as Go's resumable tests do; leftovers and extras fail the test.
 * (Against the real @tus/server with faults: test/integration/tus.test.ts.)
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createResumableWriteStream, type ResumableWriteStreamOptions } from '../../src/index.js';
import { createWireScript, type WireScript, type WireStep } from '../integration/scripted-server.js';

const KEY_HEADERS = ['upload-offset', 'upload-length', 'upload-defer-length', 'content-length'];
const PATH = '/files/u1';
let script: WireScript | undefined;
afterEach(() => script?.close());

/** HEAD's answer: the server holds `offset` bytes, and the length when it knows one. */
const at = (offset: number, length?: number) => ({
  status: 200,
  headers: { 'tus-resumable': '1.0.0', 'upload-offset': String(offset), ...(length === undefined ? { 'upload-defer-length': '1' } : { 'upload-length': String(length) }) },
});
/** PATCH's answer: the new offset. */
const took = (offset: number) => ({ status: 204, headers: { 'tus-resumable': '1.0.0', 'upload-offset': String(offset) } });
const patch = (offset: number, length: number, total?: number) =>
  `PATCH ${PATH} upload-offset: ${offset}${total === undefined ? '' : ` upload-length: ${total}`} content-length: ${length}`;
const HEAD = `HEAD ${PATH}`;

async function upload(size: number, steps: WireStep[], options: Partial<ResumableWriteStreamOptions> = {}) {
  script = await createWireScript(steps, KEY_HEADERS);
  const stream = createResumableWriteStream({
    protocol: 'tus',
    url: `${script.origin}${PATH}`,
    chunkSize: 100,
    retry: { minTimeout: 0, maxTimeout: 0, requeryDelay: 0 },
    ...options,
  } as ResumableWriteStreamOptions);
  const error = await pipeline(Readable.from([Buffer.alloc(size, 7)]), stream).then(() => undefined, (caught: unknown) => caught);
  return { error, stream, seen: script.seen, leftovers: script.leftovers() };
}

function expectScript(outcome: { seen: string[]; leftovers: string[] }, steps: WireStep[]) {
  expect(outcome.seen).toEqual(steps.map(([line]) => line));
  expect(outcome.leftovers).toEqual([]);
}

describe('tus wire scripts', () => {
  it('fresh upload: HEAD, then one PATCH that declares the length', async () => {
    const steps: WireStep[] = [[HEAD, at(0)], [patch(0, 60, 60), took(60)]];
    const outcome = await upload(60, steps);
    expect(outcome.error).toBeUndefined();
    expectScript(outcome, steps);
    expect(outcome.stream.bytesCommitted).toBe(60);
  });

  it('multi-chunk: PATCHes of chunkSize from each answered offset; the length only on the last', async () => {
    const steps: WireStep[] = [[HEAD, at(0)], [patch(0, 100), took(100)], [patch(100, 100), took(200)], [patch(200, 50, 250), took(250)]];
    const outcome = await upload(250, steps);
    expect(outcome.error).toBeUndefined();
    expectScript(outcome, steps);
  });

  it('a server that knows the length already: the final PATCH declares none', async () => {
    const steps: WireStep[] = [[HEAD, at(0, 150)], [patch(0, 100), took(100)], [patch(100, 50), took(150)]];
    const outcome = await upload(150, steps, { totalSize: 150 });
    expect(outcome.error).toBeUndefined();
    expectScript(outcome, steps);
  });

  it('a 503: HEAD asks where the upload stands, then the chunk again from there', async () => {
    const steps: WireStep[] = [
      [HEAD, at(0)],
      [patch(0, 100), took(100)],
      [patch(100, 100), { status: 503 }],
      [HEAD, at(100)],
      [patch(100, 100), took(200)],
      [patch(200, 10, 210), took(210)],
    ];
    const outcome = await upload(210, steps);
    expect(outcome.error).toBeUndefined();
    expectScript(outcome, steps);
  });

  it('a lost answer: HEAD reports the bytes the server kept, and the upload goes on from that offset', async () => {
    const steps: WireStep[] = [
      [HEAD, at(0)],
      [patch(0, 100), 'reset'],
      // The server kept the whole chunk though its answer never arrived: nothing is sent twice.
      [HEAD, at(100)],
      // The writer ended while the first chunk was in flight: this one is the final one.
      [patch(100, 100, 200), 'reset'],
      // Only part of this one.
      [HEAD, at(160)],
      [patch(160, 40, 200), took(200)],
    ];
    const outcome = await upload(200, steps);
    expect(outcome.error).toBeUndefined();
    expectScript(outcome, steps);
    expect(outcome.stream.bytesCommitted).toBe(200);
  });

  it('an empty stream: HEAD, then an empty PATCH that declares length 0', async () => {
    const steps: WireStep[] = [[HEAD, at(0)], [patch(0, 0, 0), took(0)]];
    const outcome = await upload(0, steps);
    expect(outcome.error).toBeUndefined();
    expectScript(outcome, steps);
  });

  it('cancel: DELETE, and no finalizing PATCH', async () => {
    const steps: WireStep[] = [[HEAD, at(0)], [patch(0, 100), took(100)], [`DELETE ${PATH}`, { status: 204 }]];
    script = await createWireScript(steps, KEY_HEADERS);
    const stream = createResumableWriteStream({ protocol: 'tus', url: `${script.origin}${PATH}`, chunkSize: 100, retry: { minTimeout: 0, requeryDelay: 0 } });
    stream.on('error', () => undefined);
    stream.write(Buffer.alloc(150, 1));
    while (stream.bytesCommitted < 100) await new Promise((resolve) => setTimeout(resolve, 5));
    const cancelled = await stream.cancel();
    expect(cancelled).toMatchObject({ status: 204 });
    expectScript({ seen: script.seen, leftovers: script.leftovers() }, steps);
  });

  it('an upload URL that already holds bytes is refused before anything is sent', async () => {
    const steps: WireStep[] = [[HEAD, at(40)]];
    const outcome = await upload(60, steps);
    expect(outcome.error).toMatchObject({ code: 'RWS_PROTOCOL' });
    expectScript(outcome, steps);
  });
});
