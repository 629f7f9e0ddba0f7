/**
 * The library's default dispatcher honours HTTPS_PROXY / HTTP_PROXY / NO_PROXY (undici's
 * EnvHttpProxyAgent); a dispatcher given by the caller wins. Run in child processes so the proxy
 * variables never reach the test runner, through a real CONNECT proxy on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, createS3TestServer, type S3TestServer, type TestServer } from '../../src/testing/index.js';
import { sha256 } from './helpers.js';
import { runFlow, startConnectProxy } from './credentials-helpers.js';

let gcs: TestServer;
let s3: S3TestServer;
let proxy: Awaited<ReturnType<typeof startConnectProxy>>;

beforeAll(async () => {
  gcs = await createTestServer({ token: 'proxy-test-token' });
  s3 = await createS3TestServer();
  proxy = await startConnectProxy();
});
afterAll(async () => {
  await Promise.all([gcs.close(), s3.close(), proxy.close()]);
});

const gcsFlow = (name: string, extra: Record<string, unknown> = {}) => ({ kind: 'gcs', bucket: 'bkt', name, size: 600_000, session: { apiEndpoint: gcs.url, token: 'proxy-test-token' }, ...extra });
const gcsTarget = () => new URL(gcs.url).host;

describe('proxies from the environment', () => {
  it('HTTP_PROXY: the session is started and uploaded through the proxy (GCS and S3)', async () => {
    const before = proxy.tunnels.length;
    const result = await runFlow(gcsFlow('proxy/gcs.bin'), { HTTP_PROXY: proxy.url });
    expect(result.error).toBeUndefined();
    expect(sha256(gcs.object('bkt', 'proxy/gcs.bin')?.data ?? Buffer.alloc(0))).toBe(result['sha256']);
    expect(proxy.tunnels.slice(before)).toContain(gcsTarget());

    const s3Env = { HTTP_PROXY: proxy.url, AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey };
    const middle = proxy.tunnels.length;
    const upload = await runFlow({ kind: 's3', bucket: 'bkt', key: 'proxy/s3.bin', size: 1000, s3: { endpoint: s3.endpoint } }, s3Env);
    expect(upload.error).toBeUndefined();
    expect(proxy.tunnels.slice(middle)).toContain(new URL(s3.endpoint).host);
  });

  it('a proxy that refuses the tunnel: a typed RWS_HTTP_STATUS naming the proxy, not retried', async () => {
    // The proxy refuses every target that is not on loopback (nothing leaves the machine: with a
    // proxy, the name is resolved by the proxy, which resolves nothing).
    const result = await runFlow(gcsFlow('proxy/refused.bin', { session: { apiEndpoint: 'https://refused.invalid', token: 't' } }), { HTTPS_PROXY: proxy.url });
    expect(result.error).toMatchObject({ code: 'RWS_HTTP_STATUS', message: expect.stringMatching(/proxy refused .*403.*HTTPS_PROXY/) });
    expect(proxy.tunnels.filter((target) => target === 'refused.invalid:443')).toHaveLength(1);
  });

  it('NO_PROXY names a host that is reached directly', async () => {
    const before = proxy.tunnels.length;
    const result = await runFlow(gcsFlow('proxy/direct.bin'), { HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' });
    expect(result.error).toBeUndefined();
    expect(gcs.object('bkt', 'proxy/direct.bin')).toBeDefined();
    expect(proxy.tunnels.length).toBe(before);
  });

  it('a dispatcher given by the caller wins over the environment', async () => {
    const before = proxy.tunnels.length;
    const result = await runFlow(gcsFlow('proxy/own.bin', { ownDispatcher: true }), { HTTP_PROXY: proxy.url });
    expect(result.error).toBeUndefined();
    expect(gcs.object('bkt', 'proxy/own.bin')).toBeDefined();
    expect(proxy.tunnels.length).toBe(before);
  });
});
