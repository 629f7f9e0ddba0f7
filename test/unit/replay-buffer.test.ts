import { describe, expect, it } from 'vitest';
import { ReplayBuffer } from '../../src/replay-buffer.js';

const bytes = (...values: number[]) => Uint8Array.from(values);
const join = (parts: Uint8Array[]) => Buffer.concat(parts.map((part) => Buffer.from(part)));

describe('ReplayBuffer', () => {
  it('views across buffers without copying whole ones', () => {
    const buffer = new ReplayBuffer();
    const first = bytes(0, 1, 2);
    buffer.append(first);
    buffer.append(bytes(3, 4));
    buffer.append(bytes(5, 6, 7, 8));
    expect([...join(buffer.view(0, 9))]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...join(buffer.view(2, 5))]).toEqual([2, 3, 4, 5, 6]);
    expect(buffer.view(0, 3)[0]).toBe(first);
    expect(buffer.view(1, 1)[0]?.buffer).toBe(first.buffer);
  });

  it('releases whole buffers and refuses views of released bytes', () => {
    const buffer = new ReplayBuffer();
    buffer.append(bytes(0, 1, 2));
    buffer.append(bytes(3, 4));
    buffer.release(4);
    expect(buffer.bytesRetained).toBe(1);
    expect([...join(buffer.view(4, 1))]).toEqual([4]);
    expect(() => buffer.view(3, 2)).toThrow(RangeError);
    expect(() => buffer.view(4, 2)).toThrow(RangeError);
    buffer.release(2); // less than before: no-op
    expect(buffer.bytesRetained).toBe(1);
    expect(() => buffer.release(6)).toThrow(RangeError);
  });

  it('stays compact over a long stream', () => {
    const buffer = new ReplayBuffer();
    for (let index = 0; index < 100_000; index++) {
      buffer.append(bytes(index & 255));
      if (index % 10 === 9) buffer.release(index + 1);
    }
    expect(buffer.bytesRetained).toBe(0);
    expect((buffer as unknown as { buffers: unknown[] }).buffers.length).toBeLessThan(3000);
  });

  it('ignores empty writes and answers empty views', () => {
    const buffer = new ReplayBuffer();
    buffer.append(new Uint8Array(0));
    expect(buffer.bytesAppended).toBe(0);
    expect(buffer.view(0, 0)).toEqual([]);
  });
});
