/** `rws` with tus and S3: init tus, upload --protocol tus, upload --s3, resume commands. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3TestServer, type S3TestServer } from '../../src/testing/index.js';
import { rws } from './cli-helpers.js';
import { K256, MiB, makeData, sha256 } from './helpers.js';
import { startTusServer, type TusTestServer } from './tus-server.js';

let tus: TusTestServer;
let s3: S3TestServer;
let directory: string;
beforeAll(async () => {
  [tus, s3] = await Promise.all([startTusServer(), createS3TestServer()]);
  directory = await mkdtemp(join(tmpdir(), 'rws-cli-protocols-'));
});
afterAll(async () => {
  await Promise.all([tus.close(), s3.close()]);
  await rm(directory, { recursive: true, force: true });
});

describe('rws with tus', () => {
  it('init tus creates an upload; upload --protocol tus --gzip stores the gzip of the input', async () => {
    const init = await rws(['init', 'tus', '--endpoint', tus.endpoint, '--metadata', 'filename=app.log']);
    expect(init.code, init.stderr).toBe(0);
    const url = init.stdout.trim();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/files\/\w+$/);
    const data = makeData(3 * K256 + 5, true);
    const file = join(directory, 'app.log');
    await writeFile(file, data);
    const run = await rws(['upload', '--protocol', 'tus', url, file, '--gzip', '--chunk-size', '100000']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^uploaded .* 204/);
    expect(sha256(gunzipSync((await tus.stored(url)).data))).toBe(sha256(data));
    expect(run.stdout + run.stderr).not.toContain(new URL(url).pathname.split('/').pop());
  });

  it('a failed tus upload prints a resume command that keeps --protocol tus', async () => {
    const url = (await rws(['init', 'tus', '--endpoint', tus.endpoint])).stdout.trim();
    tus.proxy.addFault({ fault: 'return-403', method: 'PATCH' });
    const run = await rws(['upload', '--protocol', 'tus', url, '-', '--retries', '0'], { stdin: makeData(1000) });
    tus.proxy.clearFaults();
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/RWS_HTTP_STATUS/);
    expect(run.stderr).toMatch(/rws upload "\$SESSION_URL" --continue --protocol tus/);
  });

  it('other data to a finished tus upload: no resume command, and no claim about what was committed', async () => {
    const url = (await rws(['init', 'tus', '--endpoint', tus.endpoint])).stdout.trim();
    expect((await rws(['upload', '--protocol', 'tus', url], { stdin: Buffer.from('data\n') })).code).toBe(0);
    const run = await rws(['upload', '--protocol', 'tus', url, '--retries', '0'], { stdin: Buffer.from('otherdata12345678\n') });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/RWS_PROTOCOL: status query answered 200 \(complete\)/);
    expect(run.stderr).toMatch(/rws finalized nothing, but the server's answers contradict the protocol/);
    expect(run.stderr).not.toMatch(/to resume|bytes were committed/);
  });

  it('--continue on a tus upload finished with other data fails, saying what the server holds (not a false success)', async () => {
    const url = (await rws(['init', 'tus', '--endpoint', tus.endpoint])).stdout.trim();
    expect((await rws(['upload', '--protocol', 'tus', url], { stdin: Buffer.from('data\n') })).code).toBe(0);
    const run = await rws(['upload', '--protocol', 'tus', url, '--continue'], { stdin: Buffer.from('otherdata12345678\n') });
    expect(run.code, run.stdout).toBe(1);
    expect(run.stderr).toMatch(/the session is finalized: the server holds an object of 5 bytes, not the 18 bytes of this input/);
    expect((await tus.stored(url)).data.toString()).toBe('data\n');
  });

  it('--protocol is checked', async () => {
    const run = await rws(['upload', '--protocol', 'ftp', 'https://x.example/u']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--protocol expects gcs or tus/);
  });
});

describe('rws with S3', () => {
  const env = () => ({ AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey });

  it('upload --s3 s3://BUCKET/KEY --endpoint: multipart from stdin, credentials from the environment', async () => {
    const data = makeData(11 * MiB + 3);
    const run = await rws(['upload', '--s3', 's3://bkt/cli/object.bin', '--endpoint', s3.endpoint, '--chunk-size', '5MiB', '--queue-size', '2', '-'], { stdin: data, env: env() });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^uploaded 11\.0 MiB in .* 200/);
    expect(sha256(s3.object('bkt', 'cli/object.bin') as Buffer)).toBe(sha256(data));
  });

  it('--s3 is checked, and a part size under 5 MiB is a usage error', async () => {
    expect((await rws(['upload', '--s3', 'bkt/key', '-'], { env: env() })).stderr).toMatch(/--s3 expects s3:\/\/BUCKET\/KEY/);
    const small = await rws(['upload', '--s3', 's3://bkt/k', '--endpoint', s3.endpoint, '--chunk-size', '1MiB', '-'], { env: env() });
    expect(small.code).toBe(2);
    expect(small.stderr).toMatch(/5 MiB to 5 GiB/);
  });
});
