/** What the chaos suites share: an input, and one upload run to its outcome within a time bound. */
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export const CASE_TIMEOUT_MS = 30_000;

/** Deterministic bytes for a seed (cheap to make, different per case). */
export function makeInput(size: number, seed: number): Buffer {
  const data = Buffer.alloc(size);
  for (let index = 0; index < size; index += 997) data[index] = (index * 31 + seed) & 255;
  return data;
}

/** Streams `data` in writes of `writeSize`; resolves undefined or the error — or a hang error after 30 s. */
export async function runBounded(data: Buffer, writeSize: number, stream: Writable): Promise<unknown> {
  const source = Readable.from((function* () {
    for (let offset = 0; offset < data.length; offset += writeSize) yield data.subarray(offset, offset + writeSize);
  })());
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    pipeline(source, stream).then(() => undefined, (error: unknown) => error ?? new Error('rejected without an error')),
    new Promise((resolve) => {
      timer = setTimeout(() => resolve(new Error(`hang: no outcome after ${CASE_TIMEOUT_MS} ms`)), CASE_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
  return outcome;
}
