import { pipeline } from 'node:stream/promises';
import { createResumableWriteStream, type ResumableWriteStreamOptions, type S3Options } from '../../src/index.js';
import { createS3TestServer, startFaultProxy, type FaultProxy, type S3TestServer, type S3TestServerOptions } from '../../src/testing/index.js';
import { FAST_RETRY, MiB, makeData, source } from './helpers.js';

export const PART = 5 * MiB;

export interface S3Bench {
  readonly s3: S3TestServer;
  readonly proxy: FaultProxy;
  close(): Promise<void>;
}

/** A loopback S3 server with the fault proxy in front of it. */
export async function startS3(options: S3TestServerOptions = {}): Promise<S3Bench> {
  const s3 = await createS3TestServer(options);
  const proxy = await startFaultProxy({ target: s3.endpoint });
  return {
    s3,
    proxy,
    async close() {
      await proxy.close();
      await s3.close();
    },
  };
}

export type S3StreamOptions = Partial<Omit<ResumableWriteStreamOptions, 's3'>> & { s3?: Partial<S3Options> };

export function s3Stream(bench: S3Bench, key: string, options: S3StreamOptions = {}) {
  const { s3: s3Options, ...rest } = options;
  return createResumableWriteStream({
    s3: { bucket: 'bkt', key, endpoint: bench.proxy.url, credentials: bench.s3.credentials, ...s3Options },
    chunkSize: PART,
    ...rest,
    retry: { ...FAST_RETRY, ...rest.retry },
  });
}

/** Uploads `size` random bytes (or `data`) to bkt/`key`: the outcome and the wire, `operation+partNumber status` per request. */
export async function uploadTo(bench: S3Bench, key: string, size: number, options: S3StreamOptions = {}, data = makeData(size)) {
  const before = bench.s3.requests.length;
  const stream = s3Stream(bench, key, options);
  const error = await pipeline(source(data, 256 * 1024), stream).then(() => undefined, (caught: unknown) => caught);
  const requests = bench.s3.requests.slice(before);
  const wire = requests.map((entry) => `${entry.operation}${entry.partNumber ?? ''} ${entry.status}`);
  return { data, stream, error, requests, wire, stored: bench.s3.object('bkt', key) };
}
