/**
 * The only file that knows node:stream: it adapts the Writable hooks to the uploader.
 * - `_write` hands the buffer over by reference and calls back once there is room (backpressure:
 *   while a full chunk waits behind the one in flight, the callback waits too).
 * - `_final` is the only place an upload is finalized; `_destroy` aborts and never finalizes,
 *   so a failed pipeline can't leave a truncated object that looks complete.
 */
import { Writable } from 'node:stream';
import { AbortedError, redactUrl } from './errors.js';
import { ChunkUploader } from './chunk-uploader.js';
export class ResumableWriteStream extends Writable {
    options;
    uploader;
    running;
    onSignalAbort;
    /** @internal Use {@link createResumableWriteStream}. */
    constructor(options, transport) {
        super({ ...(options.highWaterMark === undefined ? {} : { highWaterMark: options.highWaterMark }), decodeStrings: true });
        this.options = options;
        this.uploader = new ChunkUploader(options, transport, {
            onProgress: (progress) => this.emit('progress', progress),
            onRetry: (event) => this.emit('retry', event),
        });
        // The loop runs from the start, waiting for data; a failure while no write or end is
        // pending still reaches the user, by destroying the stream.
        this.running = this.uploader.run().catch((error) => {
            this.destroy(error);
            return undefined;
        });
        const { signal } = options;
        if (signal) {
            this.onSignalAbort = () => this.destroy(this.abortedBySignal(signal));
            if (signal.aborted)
                queueMicrotask(this.onSignalAbort);
            else
                signal.addEventListener('abort', this.onSignalAbort, { once: true });
        }
    }
    /** Bytes handed to the stream so far. */
    get bytesWritten() {
        return this.uploader.state.bytesWritten;
    }
    /** Bytes the server has confirmed as persisted. */
    get bytesCommitted() {
        return this.uploader.state.bytesCommitted;
    }
    /** Bytes held for a possible replay right now: [bytesCommitted, bytesWritten). */
    get bytesRetained() {
        return this.uploader.buffer.bytesRetained;
    }
    /** The most bytes held at once so far (see README, "Memory"). */
    get peakBytesRetained() {
        return this.uploader.peakBytesRetained;
    }
    /** The server's answer to the final request; set before `'finish'`. */
    get result() {
        return this.uploader.result;
    }
    /** The session URI with its query values redacted, safe to log. */
    get redactedUrl() {
        return redactUrl(this.options.url);
    }
    /**
     * Aborts the upload (the stream errors with an AbortedError, nothing is finalized) and sends
     * DELETE to the session. Resolves with the status the server answered.
     */
    async cancel() {
        this.destroy(new AbortedError(`the upload was cancelled after ${this.bytesCommitted} committed bytes; it was not finalized`, {
            bytesCommitted: this.bytesCommitted,
            url: this.options.url,
        }));
        await this.running;
        return { status: await this.uploader.deleteSession() };
    }
    _write(chunk, _encoding, callback) {
        try {
            this.uploader.append(chunk);
        }
        catch (error) {
            callback(error);
            return;
        }
        this.uploader.waitForRoom().then(() => callback(), callback);
    }
    _final(callback) {
        try {
            this.uploader.end();
        }
        catch (error) {
            callback(error);
            return;
        }
        this.running.then((result) => {
            // Without a result the loop failed and destroyed the stream already.
            if (result)
                callback();
        }, callback);
    }
    _destroy(error, callback) {
        if (this.onSignalAbort)
            this.options.signal?.removeEventListener('abort', this.onSignalAbort);
        if (!this.uploader.state.complete) {
            this.uploader.abort(error ?? new AbortedError('the stream was destroyed before the upload completed', {
                bytesCommitted: this.bytesCommitted,
                url: this.options.url,
            }));
        }
        // Wait for the loop to settle, so no request, socket or timer outlives 'close'.
        this.running.then(() => callback(error), () => callback(error));
    }
    abortedBySignal(signal) {
        return new AbortedError(`the upload was aborted by its signal after ${this.bytesCommitted} committed bytes; it was not finalized`, {
            bytesCommitted: this.bytesCommitted,
            url: this.options.url,
            cause: signal.reason,
        });
    }
}
