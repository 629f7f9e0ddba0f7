import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../../src/options/index.js';

const gcs = { bucket: 'bkt', name: 'a/b c.bin', token: 'SECRET-TOKEN', apiEndpoint: 'https://storage.example' };

describe("protocol 'gcs-multipart': options validated at construction, naming the option", () => {
  it.each([
    [{ gcs: { ...gcs, bucket: undefined } }, TypeError, /`gcs.bucket` to be a non-empty string/],
    [{ gcs: { ...gcs, name: '' } }, TypeError, /`gcs.name` to be a non-empty string, received an empty string/],
    [{ gcs: 'bkt' }, TypeError, /`gcs` to be an object/],
    [{ gcs: { ...gcs, apiEndpoint: 'ftp://x' } }, TypeError, /`gcs.apiEndpoint` to be an http\(s\) URL/],
    [{ gcs: { ...gcs, apiEndpoint: 'http://storage.example' } }, TypeError, /`gcs.apiEndpoint` to use https/],
    [{ gcs: { ...gcs, getToken: () => 't' } }, TypeError, /Give one of `gcs.token`, `gcs.getToken` and `gcs.auth`/],
    [{ gcs: { ...gcs, getToken: 'x', token: undefined } }, TypeError, /`gcs.getToken` to be a function/],
    [{ gcs: { ...gcs, hmac: { accessId: 'GOOG1', secret: 's' } } }, TypeError, /`gcs.hmac`.*`gcs.token`/],
    [{ gcs: { ...gcs, token: undefined, hmac: { accessId: 'GOOG1', secret: '' } } }, TypeError, /`gcs.hmac.secret` to be a non-empty string, received an empty string/],
    [{ gcs: { ...gcs, queueSize: 0 } }, RangeError, /`gcs.queueSize` to be an integer ≥ 1/],
    [{ gcs: { ...gcs, leavePartsOnError: 'yes' } }, TypeError, /`gcs.leavePartsOnError` to be a boolean/],
    [{ gcs: { ...gcs, metadata: { a: 1 } } }, TypeError, /`gcs.metadata.a` to be a string/],
    [{ gcs, headers: { 'x-goog-if-generation-match': '0' } }, TypeError, /may not set "x-goog-if-generation-match" with `protocol: 'gcs-multipart'`/],
    [{ gcs, headers: { 'content-type': 'text/plain' } }, TypeError, /give `gcs.contentType`/],
    [{ gcs, chunkSize: 1024 * 1024 }, RangeError, /`chunkSize` \(the GCS part size\) to be from 5 MiB to 5 GiB/],
    [{ gcs, url: 'https://x/y' }, TypeError, /`url` does not apply to `protocol: 'gcs-multipart'`/],
    [{ protocol: 'gcs-multipart' }, TypeError, /needs an? `gcs` option/],
    [{ protocol: 'gcs', gcs, url: 'https://x/y' }, TypeError, /`gcs` only applies with `protocol: 'gcs-multipart'`/],
  ])('%j', (options, kind, message) => {
    const attempt = () => resolveOptions(options);
    expect(attempt).toThrow(kind);
    expect(attempt).toThrow(message);
    try {
      attempt();
    } catch (error) {
      expect((error as Error).message).not.toContain('SECRET');
    }
  });

  it('resolves the object URL (path style, each name segment encoded), the protocol and where headers go', () => {
    const resolved = resolveOptions({ gcs: { ...gcs, metadata: { Owner: 'me' }, contentType: 'text/plain' }, headers: { 'cache-control': 'no-store', 'x-goog-user-project': 'p' } });
    expect(resolved.protocol).toBe('gcs-multipart');
    expect(resolved.gcs).toMatchObject({
      objectUrl: 'https://storage.example/bkt/a/b%20c.bin',
      queueSize: 4,
      leavePartsOnError: false,
      objectHeaders: { 'content-type': 'text/plain', 'cache-control': 'no-store', 'x-goog-meta-owner': 'me' },
      everyRequest: { 'x-goog-user-project': 'p' },
    });
  });

  it('STORAGE_EMULATOR_HOST picks the endpoint; plain http only to loopback unless allowInsecureHttp', () => {
    const saved = process.env['STORAGE_EMULATOR_HOST'];
    try {
      process.env['STORAGE_EMULATOR_HOST'] = 'http://127.0.0.1:4443';
      expect(resolveOptions({ gcs: { bucket: 'b', name: 'n', token: 't' } }).gcs?.objectUrl).toBe('http://127.0.0.1:4443/b/n');
      process.env['STORAGE_EMULATOR_HOST'] = 'http://emulator.internal:4443';
      expect(() => resolveOptions({ gcs: { bucket: 'b', name: 'n', token: 't' } })).toThrow(/`STORAGE_EMULATOR_HOST` to use https/);
      expect(resolveOptions({ gcs: { bucket: 'b', name: 'n', token: 't' }, allowInsecureHttp: true }).gcs?.objectUrl).toBe('http://emulator.internal:4443/b/n');
    } finally {
      if (saved === undefined) delete process.env['STORAGE_EMULATOR_HOST'];
      else process.env['STORAGE_EMULATOR_HOST'] = saved;
    }
  });

  it('queueSize: the top-level option, gcs.queueSize its alias; both and different is a TypeError', () => {
    expect(resolveOptions({ gcs, queueSize: 2 }).gcs?.queueSize).toBe(2);
    expect(resolveOptions({ gcs: { ...gcs, queueSize: 3 } }).gcs?.queueSize).toBe(3);
    expect(resolveOptions({ gcs }).gcs?.queueSize).toBe(4);
    expect(() => resolveOptions({ gcs: { ...gcs, queueSize: 3 }, queueSize: 2 })).toThrow(/`queueSize` \(2\) and `gcs.queueSize` \(3\)/);
  });

  it('parts are kept on failure by default when a resume is possible', () => {
    const store = { load: async () => undefined, save: async () => {}, clear: async () => {} };
    expect(resolveOptions({ gcs, checkpointStore: store }).gcs?.leavePartsOnError).toBe(true);
  });
});
