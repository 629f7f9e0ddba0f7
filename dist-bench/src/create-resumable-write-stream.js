import { resolveOptions } from './options.js';
import { ResumableWriteStream } from './resumable-write-stream.js';
import { createUndiciTransport } from './transport.js';
/**
 * A Writable that uploads everything written to it to a resumable upload session, in chunks of
 * `chunkSize`, recovering from interruptions. `'finish'` (and so `pipeline()`) comes only after
 * the server answered 200/201 to the final request. Invalid options throw TypeError/RangeError.
 *
 * @example
 * await pipeline(source, zlib.createGzip(), createResumableWriteStream({ url: sessionUri }));
 */
export function createResumableWriteStream(options) {
    const resolved = resolveOptions(options);
    const transport = createUndiciTransport({
        dispatcher: resolved.dispatcher,
        headersTimeout: resolved.timeouts.headersTimeout,
        bodyTimeout: resolved.timeouts.bodyTimeout,
    });
    return new ResumableWriteStream(resolved, transport);
}
