/** `rws --help`, `--version`, and option errors that name the flag the user typed. */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer } from '../../src/testing/index.js';
import { rws } from './cli-helpers.js';
import { makeData, sha256 } from './helpers.js';

let server: TestServer;
beforeAll(async () => {
  server = await createTestServer();
});
afterAll(async () => {
  await server.close();
});

const FAR = 'http://minio.invalid:9000/upload/storage/v1/b/b/o?uploadType=resumable&name=n&upload_id=0123456789abcdef0123456789abcdef';
const AWS = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret-example' };

describe('--help and --version', () => {
  it.each([
    [['--help'], /rws upload <session-url>/],
    [['-h'], /rws upload <session-url>/],
    [['help'], /rws upload <session-url>/],
    [['upload', '--help'], /--chunk-size SIZE/],
    [['upload', '-h'], /--allow-insecure-http/],
    [['upload', 'https://x.example/u', '--gzip', '--help'], /--chunk-size SIZE/],
    [['help', 'upload'], /--chunk-size SIZE/],
    [['init', '--help'], /rws init gcs --bucket B --name N/],
    [['init', 'gcs', '--help'], /Usage: rws init gcs[\s\S]*--api json\|xml/],
    [['init', 'redivis', '-h'], /Usage: rws init redivis[\s\S]*--table T/],
    [['init', 'tus', '--help'], /Usage: rws init tus[\s\S]*--metadata key=value/],
    [['help', 'init', 'tus'], /Usage: rws init tus/],
    [['serve', '--help'], /Usage: rws serve[\s\S]*--fault NAME/],
    [['demo', '--help'], /Usage: rws demo/],
  ])('rws %j: exit 0, usage with examples on stdout', async (args, usage) => {
    const run = await rws(args as string[]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(usage);
    expect(run.stdout).toMatch(/Examples?:\n {2}\S/);
    expect(run.stderr).toBe('');
  });

  it('rws demo --help does not run the demo', async () => {
    const run = await rws(['demo', '--help']);
    expect(run.stdout).not.toMatch(/uploaded|MiB\/s/);
    expect((await rws(['demo', '--fast'])).code).toBe(2);
  });

  it('rws --version prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    const run = await rws(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${version}\n`);
  });
});

describe('option errors name the flag', () => {
  it.each([
    [['upload', FAR, '--allow-insecure-http', '--chunk-size', '1000'], {}, /--chunk-size must be a positive multiple of 262144/],
    [['upload', '--protocol', 'tus', FAR, '--allow-insecure-http', '--chunk-size', '0'], {}, /--chunk-size must be an integer ≥ 1/],
    [['upload', FAR], {}, /the session URL must use https: .*; pass --allow-insecure-http to allow it/],
    [['upload', 'gs://bucket/object'], {}, /the session URL must be an http\(s\) URL/],
    [['upload', FAR, '--allow-insecure-http', '--header', 'Content-Length: 5'], {}, /--header may not set "Content-Length"/],
    [['upload', '--s3', 's3://b/k', '--endpoint', 'http://minio.invalid:9000', '-'], AWS, /--endpoint must use https: .*pass --allow-insecure-http/],
    [['upload', '--s3', 's3://b/k', '--queue-size', '0', '-'], AWS, /--queue-size must be an integer ≥ 1/],
    [['upload', '--s3', 's3://b/k', '--region', '', '-'], AWS, /--region must be a non-empty string/],
    [['upload', '--s3', 's3://b/k', '--chunk-size', '1MiB', '-'], AWS, /--chunk-size \(the S3 part size\) must be from 5 MiB to 5 GiB/],
    [['upload', FAR, '--checkpoint', ''], {}, /--checkpoint expects a file path/],
    [['init', 'tus', '--endpoint', 'http://minio.invalid/files/'], {}, /--endpoint must use https: .*pass --allow-insecure-http/],
    [['init', 'gcs', '--endpoint', 'not a url', '--bucket', 'b', '--name', 'n'], {}, /--endpoint must be an absolute http\(s\) URL/],
    [['init', 'tus', '--endpoint', 'http://127.0.0.1:9/files/', '--metadata', 'a b=c'], {}, /--metadata keys without spaces or commas/],
  ])('%j → exit 2, the flag named, no library option names', async (args, env, message) => {
    const run = await rws(args as string[], { env: env as Record<string, string> });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).not.toMatch(/`/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('--allow-insecure-http', () => {
  // ::ffff:127.0.0.1 is loopback on the wire but not to the check, which sees a plain-http host
  // that is not 127.0.0.0/8, ::1 or localhost: a LAN server, reached without leaving the machine.
  const mapped = (url: string) => url.replace('//127.0.0.1:', '//[::ffff:127.0.0.1]:');

  it('reaches a plain-http server that is not loopback, for upload and init', async () => {
    const refused = await rws(['init', 'gcs', '--endpoint', mapped(server.url), '--bucket', 'b', '--name', 'lan']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/pass --allow-insecure-http/);
    const init = await rws(['init', 'gcs', '--endpoint', mapped(server.url), '--bucket', 'b', '--name', 'lan', '--allow-insecure-http']);
    expect(init.code, init.stderr).toBe(0);
    // The test server answers with its own (127.0.0.1) address: the session is reached the same way.
    const sessionUrl = init.stdout.trim();
    const url = mapped(sessionUrl);
    expect(url).toMatch(/^http:\/\/\[::ffff:127\.0\.0\.1\]:\d+\//);
    const data = makeData(1000);
    expect((await rws(['upload', url], { stdin: data })).code).toBe(2);
    const run = await rws(['upload', url, '--allow-insecure-http'], { stdin: data });
    expect(run.code, run.stderr).toBe(0);
    expect(sha256(server.session(sessionUrl).object?.data as Buffer)).toBe(sha256(data));
  });
});

describe('no S3 credentials anywhere', () => {
  it('exit 1 with RWS_CREDENTIALS, saying where it looked and what to run; no flag that does not exist', async () => {
    const home = await mkdtemp(join(tmpdir(), 'rws-nohome-'));
    const env = { HOME: home, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '', AWS_EC2_METADATA_DISABLED: 'true' };
    const run = await rws(['upload', '--s3', 's3://b/k', '--endpoint', 'http://127.0.0.1:9', '-'], { stdin: Buffer.from('x'), env });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/RWS_CREDENTIALS/);
    expect(run.stderr).toMatch(/aws configure/);
    expect(run.stderr).toMatch(/or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
    expect(run.stderr).not.toMatch(/or pass --s3/);
    await rm(home, { recursive: true, force: true });
  });
});

