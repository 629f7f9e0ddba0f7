/**
 * Holds the bytes [released, written) of the stream by reference: the buffers the writer handed
 * over are never copied or concatenated. `view()` returns subarrays over them, so every attempt
 * (first send or replay) gets a fresh body at no copying cost; `release()` drops whole buffers
 * once the server has confirmed them. Appending and releasing are amortised O(1); a view costs
 * O(buffers it spans).
 */
export class ReplayBuffer {
    buffers = [];
    /** Index of the first live buffer in `buffers` (compacted lazily). */
    head = 0;
    /** Stream offset of `buffers[head]`'s first byte. */
    headOffset = 0;
    /** Stream offset up to which bytes are released (may fall inside `buffers[head]`). */
    released = 0;
    end = 0;
    /** Stream offset one past the last byte appended. */
    get bytesAppended() {
        return this.end;
    }
    /** Bytes still held: [released, appended). */
    get bytesRetained() {
        return this.end - this.released;
    }
    append(chunk) {
        if (chunk.byteLength === 0)
            return;
        this.buffers.push(chunk);
        this.end += chunk.byteLength;
    }
    /**
     * Subarrays covering stream bytes [start, start + length). Throws RangeError when any of
     * those bytes were released or not yet appended: that is a bug in the caller, never data loss
     * to paper over.
     */
    view(start, length) {
        if (start < this.released || start + length > this.end || length < 0) {
            throw new RangeError(`replay buffer holds [${this.released}, ${this.end}); asked for [${start}, ${start + length})`);
        }
        const parts = [];
        let offset = this.headOffset;
        let remaining = length;
        for (let index = this.head; index < this.buffers.length && remaining > 0; index++) {
            const buffer = this.buffers[index];
            const bufferEnd = offset + buffer.byteLength;
            if (bufferEnd > start) {
                const from = Math.max(0, start - offset);
                const to = Math.min(buffer.byteLength, from + remaining);
                parts.push(from === 0 && to === buffer.byteLength ? buffer : buffer.subarray(from, to));
                remaining -= to - from;
            }
            offset = bufferEnd;
        }
        return parts;
    }
    /** Drops every byte below `offset`. Releasing less than before is a no-op. */
    release(offset) {
        if (offset > this.end)
            throw new RangeError(`cannot release up to ${offset}: only ${this.end} appended`);
        if (offset <= this.released)
            return;
        this.released = offset;
        while (this.head < this.buffers.length) {
            const size = this.buffers[this.head].byteLength;
            if (this.headOffset + size > offset)
                break;
            this.buffers[this.head] = EMPTY;
            this.headOffset += size;
            this.head++;
        }
        // Compact once the dead prefix dominates, so a long stream keeps a short array.
        if (this.head > 1024 && this.head * 2 > this.buffers.length) {
            this.buffers.splice(0, this.head);
            this.head = 0;
        }
    }
    /** Drops everything (destroy). */
    clear() {
        this.buffers.length = 0;
        this.head = 0;
        this.headOffset = this.end;
        this.released = this.end;
    }
}
const EMPTY = new Uint8Array(0);
