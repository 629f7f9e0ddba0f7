import { describe, expect, it } from 'vitest';
import { ReplayBuffer, freeBlockCount } from '../../src/replay-buffer.js';

// Its own file: the pool of free blocks is shared by the process's buffers (vitest isolates files).
const MiB = 1024 * 1024;

describe('ReplayBuffer block pool', () => {
  it('keeps no free blocks once drained, and never more than the bytes held', () => {
    const buffer = new ReplayBuffer();
    const write = new Uint8Array(64 * 1024);
    for (let index = 0; index < 64; index++) buffer.append(write);
    buffer.release(4 * MiB);
    expect(freeBlockCount()).toBe(0);
    for (let index = 0; index < 64; index++) buffer.append(write);
    buffer.release(6 * MiB);
    expect(freeBlockCount()).toBeGreaterThan(0);
    expect(freeBlockCount() * 256 * 1024).toBeLessThanOrEqual(buffer.bytesRetained);
    buffer.clear();
    // Blocks freed by one buffer serve the next, and still only while others hold bytes.
    const other = new ReplayBuffer();
    other.append(new Uint8Array(2 * 256 * 1024 - 1));
    expect(freeBlockCount() * 256 * 1024).toBeLessThanOrEqual(other.bytesRetained);
    other.release(other.bytesAppended);
    expect(freeBlockCount()).toBe(0);
  });
});
