/**
 * A `PartsCall` for driving the gcs-multipart adapter directly against the loopback server,
 * without the parts driver: the real undici transport and the real retry policy (retry.ts),
 * so each adapter operation is seen exactly as the driver lends it.
 */
import { redactUrl } from '../../src/errors.js';
import type { PartsCall, PartsProtocol } from '../../src/parts/protocol.js';
import { withRetry } from '../../src/retry.js';
import { createUndiciTransport, toTransportError } from '../../src/transport.js';
import { createGcsMultipartProtocol } from '../../src/protocols/gcs-multipart/adapter.js';
import { validateGcsMultipart, type GcsMultipartOptions } from '../../src/protocols/gcs-multipart/options.js';
import { FAST_RETRY } from './helpers.js';

const POLICY = { retries: 4, minTimeout: FAST_RETRY.minTimeout, maxTimeout: FAST_RETRY.maxTimeout, factor: 2, randomize: false, maxRetryTime: 10_000, requeryDelay: 0 };

export function gcsProtocol(gcs: Partial<GcsMultipartOptions>, headers: Record<string, string> = {}): PartsProtocol {
  return createGcsMultipartProtocol(validateGcsMultipart({ bucket: 'bkt', name: 'dir/object one.bin', ...gcs }, { allowInsecureHttp: false, resumable: false, headers, queueSize: 4, url: undefined }));
}

export function partsCall(protocol: PartsProtocol, retries: { count: number } = { count: 0 }): PartsCall {
  const transport = createUndiciTransport({ dispatcher: undefined, headersTimeout: 5000, bodyTimeout: 5000 });
  const signal = new AbortController().signal;
  const call: PartsCall = {
    redactedUrl: redactUrl(protocol.targetUrl),
    context: () => ({}),
    send: (what, build, body, options) =>
      withRetry(
        async () => {
          const request = await build();
          const answer = await transport.send({ ...request, ...(body === undefined ? {} : { body }), signal, maxBodyBytes: 1024 * 1024 }).catch((error: unknown) => {
            throw toTransportError(error, `${what} failed`, {}) ?? error;
          });
          if (answer.status >= 200 && answer.status < 300 && options?.errorIn2xx?.(answer) === undefined) return answer;
          throw protocol.answerError(what, answer, call);
        },
        { policy: POLICY, signal, onRetry: () => void retries.count++, describe: () => what, context: () => ({}) },
      ),
    sendOnce: async (what, build) => {
      const request = await build();
      return transport.send({ ...request, signal, maxBodyBytes: 1024 * 1024 });
    },
  };
  return call;
}
