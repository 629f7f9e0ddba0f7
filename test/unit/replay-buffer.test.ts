import { describe, expect, it } from 'vitest';
import { ReplayBuffer } from '../../src/replay-buffer.js';

const bytes = (...values: number[]) => Uint8Array.from(values);
const join = (parts: Uint8Array[]) => Buffer.concat(parts.map((part) => Buffer.from(part)));
const MiB = 1024 * 1024;

describe('ReplayBuffer', () => {
  it('views across buffers; writes of 1 MiB and more are kept by reference, never copied', () => {
    const buffer = new ReplayBuffer();
    const first = new Uint8Array(MiB).fill(1);
    const second = new Uint8Array(2 * MiB).fill(2);
    buffer.append(first);
    buffer.append(second);
    expect(buffer.view(0, MiB)[0]).toBe(first);
    expect(buffer.view(5, 1)[0]?.buffer).toBe(first.buffer);
    const across = buffer.view(MiB - 1, 2);
    expect(across.map((part) => [...part])).toEqual([[1], [2]]);
    expect(across[1]?.buffer).toBe(second.buffer);
  });

  it('smaller writes are copied: the writer may reuse its buffer, and a view spans few pieces', () => {
    const buffer = new ReplayBuffer();
    const write = new Uint8Array(64 * 1024);
    for (let index = 0; index < 16; index++) buffer.append(write.fill(index));
    const parts = buffer.view(0, MiB);
    expect(parts.length).toBe(4);
    expect(parts.every((part) => part.buffer !== write.buffer)).toBe(true);
    const whole = join(parts);
    for (let index = 0; index < 16; index++) expect(whole[index * 64 * 1024 + 100]).toBe(index);
  });

  it('a view into a larger buffer (a pool the writer keeps) is kept by reference, uncopied', () => {
    const buffer = new ReplayBuffer();
    const pool = new Uint8Array(MiB);
    buffer.append(pool.subarray(0, 64 * 1024));
    buffer.append(pool.subarray(64 * 1024, 128 * 1024));
    const [whole, ...more] = buffer.view(0, 128 * 1024);
    expect(more).toEqual([]);
    expect([whole?.buffer, whole?.byteOffset, whole?.byteLength]).toEqual([pool.buffer, 0, 128 * 1024]);
    buffer.append(pool.subarray(0, 100));
    expect(buffer.view(128 * 1024, 100)[0]?.buffer).not.toBe(pool.buffer);
  });

  it('runs side by side in one buffer come out as one piece; anything else breaks the piece', () => {
    const buffer = new ReplayBuffer();
    const pool = Buffer.alloc(MiB);
    for (let index = 0; index < pool.length; index++) pool[index] = (index * 7) % 251;
    const other = Buffer.alloc(MiB, 3);
    const writes = [
      pool.subarray(0, 64 * 1024), pool.subarray(64 * 1024, 192 * 1024), // side by side: one piece
      pool.subarray(192 * 1024, 256 * 1024), pool.subarray(192 * 1024, 256 * 1024), // the same bytes again: a second piece
      other.subarray(0, 16 * 1024), // another buffer
      pool.subarray(320 * 1024, 384 * 1024), pool.subarray(256 * 1024, 320 * 1024), // backwards in memory: two pieces
    ];
    for (const write of writes) buffer.append(write);
    const expected = Buffer.concat(writes);
    const parts = buffer.view(0, expected.length);
    expect(parts.map((part) => part.byteLength / 1024)).toEqual([256, 64, 16, 64, 64]);
    expect(join(parts).equals(expected)).toBe(true);
    // Any range: the same bytes as the writes, merged only where memory is contiguous.
    for (const [start, length] of [[1, 300_000], [100_000, 200_000], [64 * 1024, 128 * 1024], [expected.length - 1, 1], [262_143, 2]]) {
      const view = buffer.view(start as number, length as number);
      expect(join(view).equals(expected.subarray(start, (start as number) + (length as number)))).toBe(true);
    }
    expect(buffer.view(100_000, 100_000)).toHaveLength(1);
  });

  it('views stay exact over a random mix of contiguous views, repeats, other buffers and releases', () => {
    let seed = 20261201;
    const random = (below: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % below;
    };
    for (let round = 0; round < 20; round++) {
      const pool = Buffer.alloc(4 * MiB);
      for (let index = 0; index < pool.length; index += 997) pool[index] = random(256);
      const buffer = new ReplayBuffer();
      const written: Buffer[] = [];
      let at = 0;
      let total = 0;
      for (let write = 0; write < 60; write++) {
        const size = 1 + random(96 * 1024);
        const kind = random(4);
        if (at + size > pool.length || kind === 0) at = random(pool.length - size);
        const piece = kind === 1 ? Buffer.from(pool.subarray(at, at + size)) : pool.subarray(at, at + size);
        at += size;
        buffer.append(piece);
        written.push(Buffer.from(piece));
        total += size;
        if (random(5) === 0) buffer.release(Math.max(buffer.releasedOffset, random(total)));
      }
      const expected = Buffer.concat(written);
      const from = buffer.releasedOffset;
      const start = from + random(total - from);
      const length = random(total - start + 1);
      expect(join(buffer.view(start, length)).equals(expected.subarray(start, start + length))).toBe(true);
    }
  });

  it('a write that crosses a block boundary is split across blocks, none of its bytes lost', () => {
    const buffer = new ReplayBuffer();
    buffer.append(new Uint8Array(200_000).fill(7));
    const crossing = Uint8Array.from({ length: 100_000 }, (_, index) => index & 255);
    buffer.append(crossing);
    const parts = buffer.view(200_000, 100_000);
    expect(parts.length).toBe(2);
    expect(join(parts).equals(Buffer.from(crossing))).toBe(true);
  });

  it('reuses released blocks: a stream of 64 KiB writes allocates no new block after its first chunks', () => {
    const buffer = new ReplayBuffer();
    const seen = new Set<ArrayBufferLike>();
    const chunk = 2 * MiB;
    for (let written = 0; written < 64 * MiB; written += 64 * 1024) {
      // A fresh buffer per write, as fs and zlib streams hand them over.
      const write = new Uint8Array(64 * 1024);
      buffer.append(write);
      // As the drivers do: the chunk before the one being filled is confirmed once this one is full.
      if (buffer.bytesAppended % chunk === 0 && buffer.bytesAppended >= 2 * chunk) buffer.release(buffer.bytesAppended - chunk);
      for (const part of buffer.view(buffer.bytesAppended - write.byteLength, write.byteLength)) seen.add(part.buffer);
    }
    // Two chunks held at most, one more block for the one being filled.
    expect(seen.size).toBeLessThanOrEqual((2 * chunk) / (256 * 1024) + 1);
  });

  it('tiny writes are copied once into shared blocks: few pieces per view', () => {
    const buffer = new ReplayBuffer();
    for (let index = 0; index < 200_000; index++) buffer.append(bytes(index & 255));
    const parts = buffer.view(0, 200_000);
    expect(parts.length).toBeLessThanOrEqual(1);
    expect([...join(parts).subarray(0, 5)]).toEqual([0, 1, 2, 3, 4]);
    expect(join(parts)[199_999]).toBe(199_999 & 255);
  });

  it('a view handed out stays valid while the block keeps growing', () => {
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
    expect((buffer as unknown as { entries: unknown[] }).entries.length).toBeLessThan(3000);
  });

  it('ignores empty writes and answers empty views', () => {
    const buffer = new ReplayBuffer();
    buffer.append(new Uint8Array(0));
    expect(buffer.bytesAppended).toBe(0);
    expect(buffer.view(0, 0)).toEqual([]);
  });

  describe('forget: a confirmed range dropped ahead of the release point', () => {
    it('drops the runs wholly inside it (pooled blocks back to the pool), keeps their offsets, refuses to view them', () => {
      const buffer = new ReplayBuffer();
      // 64 KiB writes of their own: copied into 256 KiB blocks.
      for (let index = 0; index < 16; index++) buffer.append(Buffer.alloc(64 * 1024, index));
      expect(buffer.bytesRetained).toBe(MiB);
      expect(buffer.forget(256 * 1024, 768 * 1024)).toBe(512 * 1024);
      expect(buffer.bytesRetained).toBe(512 * 1024);
      expect(buffer.bytesAppended).toBe(MiB);
      expect(() => buffer.view(256 * 1024, 1)).toThrow(RangeError);
      expect(() => buffer.view(0, 300 * 1024)).toThrow(RangeError);
      // What is still held reads as it was written, on both sides of the hole.
      expect(join(buffer.view(0, 256 * 1024)).equals(Buffer.concat([0, 1, 2, 3].map((value) => Buffer.alloc(64 * 1024, value))))).toBe(true);
      expect(join(buffer.view(768 * 1024, 256 * 1024)).equals(Buffer.concat([12, 13, 14, 15].map((value) => Buffer.alloc(64 * 1024, value))))).toBe(true);
      // Forgetting again, or a range reaching outside every run, drops nothing more.
      expect(buffer.forget(256 * 1024, 768 * 1024)).toBe(0);
      expect(buffer.forget(100, 300 * 1024)).toBe(0);
    });

    it('release over a forgotten range counts its bytes once; a release point inside one is refused', () => {
      const buffer = new ReplayBuffer();
      for (let index = 0; index < 4; index++) buffer.append(Buffer.alloc(MiB, index));
      expect(buffer.forget(MiB, 3 * MiB)).toBe(2 * MiB);
      expect(() => buffer.release(1.5 * MiB)).toThrow(RangeError);
      expect(buffer.bytesRetained).toBe(2 * MiB);
      buffer.release(3 * MiB);
      expect(buffer.releasedOffset).toBe(3 * MiB);
      expect(buffer.bytesRetained).toBe(MiB);
      expect(join(buffer.view(3 * MiB, MiB)).equals(Buffer.alloc(MiB, 3))).toBe(true);
      buffer.clear();
      expect(buffer.bytesRetained).toBe(0);
    });

    it('never drops the block still being filled, nor bytes below the release point', () => {
      const buffer = new ReplayBuffer();
      buffer.append(Buffer.alloc(64 * 1024, 1));
      expect(buffer.forget(0, 64 * 1024)).toBe(0);
      buffer.append(Buffer.alloc(MiB, 2));
      buffer.release(32 * 1024);
      expect(buffer.forget(0, 64 * 1024)).toBe(0);
      expect(buffer.forget(64 * 1024, 64 * 1024 + MiB)).toBe(MiB);
      buffer.append(Buffer.alloc(10, 3));
      expect(join(buffer.view(64 * 1024 + MiB, 10)).equals(Buffer.alloc(10, 3))).toBe(true);
    });
  });
});
