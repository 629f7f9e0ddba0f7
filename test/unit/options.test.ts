import { describe, expect, it } from 'vitest';
import { Agent } from 'undici';
import { createResumableWriteStream } from '../../src/index.js';
import { resolveOptions } from '../../src/options/index.js';

const url = 'https://storage.example/upload?upload_id=SECRET';

describe('options are validated at construction, naming the option', () => {
  it.each([
    [{}, TypeError, /`url`/],
    [{ url: 42 }, TypeError, /`url` to be a string, URL or async function, received number 42/],
    [{ url: 'not a url SECRET' }, TypeError, /absolute http\(s\) URL/],
    [{ url: 'ftp://host/x' }, TypeError, /protocol "ftp:"/],
    [{ url, chunkSize: 1000 }, RangeError, /`chunkSize` to be a positive multiple of 262144 \(256 KiB\), received 1000/],
    [{ url, chunkSize: 0 }, RangeError, /`chunkSize`/],
    [{ url, chunkSize: -262144 }, RangeError, /`chunkSize`/],
    [{ url, chunkSize: 262144.5 }, RangeError, /`chunkSize`/],
    [{ url, chunkSize: '8MiB' }, TypeError, /`chunkSize` to be a finite number, received "8MiB"/],
    [{ url, totalSize: -1 }, RangeError, /`totalSize`/],
    [{ url, totalSize: Number.NaN }, TypeError, /`totalSize`/],
    [{ url, headers: 'x' }, TypeError, /`headers` to be an object/],
    [{ url, headers: { 'x-a': 1 } }, TypeError, /`headers.x-a` to be a string/],
    [{ url, headers: { 'Content-Range': 'bytes */*' } }, TypeError, /may not set "Content-Range"/],
    [{ url, dispatcher: {} }, TypeError, /`dispatcher` to be an undici Dispatcher/],
    [{ url, retry: 3 }, TypeError, /`retry` to be an object/],
    [{ url, retry: { retries: -1 } }, RangeError, /`retry.retries`/],
    [{ url, retry: { retries: 1.5 } }, RangeError, /`retry.retries`/],
    [{ url, retry: { minTimeout: 'soon' } }, TypeError, /`retry.minTimeout`/],
    [{ url, retry: { factor: 0.5 } }, RangeError, /`retry.factor` to be ≥ 1/],
    [{ url, retry: { randomize: 'yes' } }, TypeError, /`retry.randomize` to be a boolean/],
    [{ url, retry: { minTimeout: 100, maxTimeout: 10 } }, RangeError, /`retry.maxTimeout` \(10\) to be ≥ `retry.minTimeout` \(100\)/],
    [{ url, retry: { maxRetryTime: -5 } }, RangeError, /`retry.maxRetryTime`/],
    [{ url, timeouts: { headersTimeout: 0 } }, RangeError, /`timeouts.headersTimeout`/],
    [{ url, timeouts: { bodyTimeout: Infinity } }, TypeError, /`timeouts.bodyTimeout`/],
    [{ url, signal: {} }, TypeError, /`signal` to be an AbortSignal/],
    [{ url, highWaterMark: 0 }, RangeError, /`highWaterMark`/],
  ])('%j', (options, kind, message) => {
    const attempt = () => createResumableWriteStream(options as never);
    expect(attempt).toThrow(kind);
    expect(attempt).toThrow(message);
    try {
      attempt();
    } catch (error) {
      expect(String((error as Error).message)).not.toContain('SECRET');
    }
  });

  it('rejects a missing options object', () => {
    expect(() => createResumableWriteStream(undefined as never)).toThrow(TypeError);
  });

  it('accepts a URL object, Infinity for maxRetryTime and a dispatcher', async () => {
    const dispatcher = new Agent();
    const stream = createResumableWriteStream({ url: new URL(url), dispatcher, retry: { maxRetryTime: Infinity }, chunkSize: 262144 * 3 });
    expect(stream.redactedUrl).toBe('https://storage.example/upload?upload_id=…');
    stream.destroy();
    await dispatcher.close();
  });
});

describe('plain http is refused except to loopback (the URI is a credential)', () => {
  it.each(['http://storage.example/upload?upload_id=SECRET', 'http://10.0.0.5/u', 'http://[2001:db8::1]/u'])('%s → TypeError', (url) => {
    expect(() => createResumableWriteStream({ url })).toThrow(/`url` to use https.*allowInsecureHttp/);
    try {
      createResumableWriteStream({ url });
    } catch (error) {
      expect((error as Error).message).not.toContain('SECRET');
    }
  });

  it.each(['http://127.0.0.1:9/u', 'http://127.8.9.10/u', 'http://localhost:9/u', 'http://[::1]:9/u', 'https://storage.example/u'])('%s is allowed', (url) => {
    createResumableWriteStream({ url }).destroy();
  });

  it('allowInsecureHttp: true allows it; a non-boolean is a TypeError', () => {
    createResumableWriteStream({ url: 'http://storage.example/u', allowInsecureHttp: true }).destroy();
    expect(() => createResumableWriteStream({ url: 'http://storage.example/u', allowInsecureHttp: 'yes' as never })).toThrow(/`allowInsecureHttp` to be a boolean/);
  });
});

describe('queueSize: parts in flight for every parts protocol, s3.queueSize its alias', () => {
  const s3 = { bucket: 'b', key: 'k', credentials: { accessKeyId: 'a', secretAccessKey: 's' } };

  it.each([
    [{}, 4],
    [{ queueSize: 2 }, 2],
    [{ s3: { ...s3, queueSize: 3 } }, 3],
    [{ queueSize: 5, s3: { ...s3, queueSize: 5 } }, 5],
  ])('%j resolves to %i, on the options and on s3', (extra, expected) => {
    const resolved = resolveOptions({ s3, ...extra });
    expect(resolved.queueSize).toBe(expected);
    expect(resolved.s3?.queueSize).toBe(expected);
  });

  it.each([
    [{ s3, queueSize: 0 }, RangeError, /Expected `queueSize` to be an integer ≥ 1, received 0/],
    [{ s3, queueSize: 1.5 }, RangeError, /`queueSize`/],
    [{ s3, queueSize: '4' }, TypeError, /Expected `queueSize` to be a finite number, received "4"/],
    [{ s3: { ...s3, queueSize: 0 } }, RangeError, /Expected `s3\.queueSize` to be an integer ≥ 1/],
    [{ s3: { ...s3, queueSize: 3 }, queueSize: 2 }, TypeError, /`queueSize` \(2\) and `s3\.queueSize` \(3\) set the same thing: give one/],
    [{ url, queueSize: 2 }, TypeError, /`queueSize` only applies to a parts protocol, received protocol 'gcs'/],
    [{ url, protocol: 'tus', queueSize: 2 }, TypeError, /`queueSize` only applies to a parts protocol, received protocol 'tus'/],
  ])('%j → %o naming the option', (options, kind, message) => {
    expect(() => createResumableWriteStream(options as never)).toThrow(kind);
    expect(() => createResumableWriteStream(options as never)).toThrow(message);
  });

  it('an offset protocol resolves without any protocol option', () => {
    const resolved = resolveOptions({ url });
    expect(resolved.s3).toBeUndefined();
    expect(resolved.queueSize).toBe(4);
  });
});
