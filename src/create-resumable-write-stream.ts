import { resolveOptions, type ResumableWriteStreamOptions } from './options/index.js';
import { ResumableWriteStream } from './resumable-write-stream.js';
import { createUndiciTransport } from './transport.js';

/**
 * A Writable that uploads everything written to it to a resumable upload session, in chunks of
 * `chunkSize`, recovering from interruptions. `'finish'` (and so `pipeline()`) comes only after
 * the server confirmed completion (GCS: 200/201 to the final request; tus: 204 at the final
 * offset; S3: Complete or PutObject answered without error). Invalid options throw TypeError/RangeError.
 *
 * @example
 * await pipeline(source, zlib.createGzip(), createResumableWriteStream({ url: sessionUri }));
 */
export function createResumableWriteStream(options: ResumableWriteStreamOptions): ResumableWriteStream {
  const resolved = resolveOptions(options);
  const transport = createUndiciTransport({
    dispatcher: resolved.dispatcher,
    headersTimeout: resolved.timeouts.headersTimeout,
    bodyTimeout: resolved.timeouts.bodyTimeout,
  });
  return new ResumableWriteStream(resolved, transport);
}
