import { describe, expect, it } from 'vitest';
import { ReplayBuffer } from '../../src/replay-buffer.js';

const bytes = (...values: number[]) => Uint8Array.from(values);
const join = (parts: Uint8Array[]) => Buffer.concat(parts.map((part) => Buffer.from(part)));

describe('ReplayBuffer', () => {
  it('views across buffers; large writes are kept by reference, never copied', () => {
    const buffer = new ReplayBuffer();
    const first = new Uint8Array(10_000).fill(1);
    const second = new Uint8Array(20_000).fill(2);
    buffer.append(first);
    buffer.append(second);
    expect(buffer.view(0, 10_000)[0]).toBe(first);
    expect(buffer.view(5, 1)[0]?.buffer).toBe(first.buffer);
    const across = buffer.view(9_999, 2);
    expect(across.map((part) => [...part])).toEqual([[1], [2]]);
    expect(across[1]?.buffer).toBe(second.buffer);
  });

  it('small writes are copied once into shared blocks: few pieces per view', () => {
    const buffer = new ReplayBuffer();
    for (let index = 0; index < 200_000; index++) buffer.append(bytes(index & 255));
    const parts = buffer.view(0, 200_000);
    expect(parts.length).toBeLessThanOrEqual(4);
    expect([...join(parts).subarray(0, 5)]).toEqual([0, 1, 2, 3, 4]);
    expect(join(parts)[199_999]).toBe(199_999 & 255);
  });

  it('a view handed out stays valid while the block keeps growing, and after its release', () => {
    const buffer = new ReplayBuffer();
    buffer.append(bytes(0, 1, 2));
    const early = buffer.view(0, 3);
    buffer.append(bytes(3, 4));
    expect([...join(early)]).toEqual([0, 1, 2]);
    buffer.release(5);
    buffer.append(bytes(5, 6));
    expect([...join(buffer.view(5, 2))]).toEqual([5, 6]);
    expect(buffer.bytesRetained).toBe(2);
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
