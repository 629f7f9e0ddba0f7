/** `rws cp SRC DEST`: GCS (loopback server as STORAGE_EMULATOR_HOST), S3 (AWS profile), tus (@tus/server); flags on the wire; signals. */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer } from '../../src/testing/index.js';
import { rws } from './cli-helpers.js';
import { cleanCloudEnv, spawnCp, startRecorder, type Recorded } from './cli-cp-helpers.js';
import { K256, MiB, makeData, sha256 } from './helpers.js';
import { startS3, type S3Bench } from './s3-helpers.js';
import { startTusServer, type TusTestServer } from './tus-server.js';
import { AZURITE_KEY, accountSas, startAzurite, type Azurite } from './azurite.js';

const TOKEN = 'fake-token-0123456789';
let gcs: TestServer;
let slowGcs: TestServer;
let recorder: Awaited<ReturnType<typeof startRecorder>>;
let s3: S3Bench;
let tus: TusTestServer;
let directory: string;
const gcsEnv = () => cleanCloudEnv({ STORAGE_EMULATOR_HOST: recorder.url, GCS_TOKEN: TOKEN });
const initiations = (name: string): Recorded[] => recorder.requests.filter((entry) => entry.method === 'POST' && entry.url.includes(`name=${encodeURIComponent(name)}`));

beforeAll(async () => {
  [gcs, slowGcs, s3, tus] = await Promise.all([createTestServer({ token: TOKEN }), createTestServer({ latencyMs: 60 }), startS3({ region: 'eu-west-3' }), startTusServer()]);
  recorder = await startRecorder(gcs.url);
  directory = await mkdtemp(join(tmpdir(), 'rws-cli-cp-'));
});
afterAll(async () => {
  await Promise.all([gcs.close(), slowGcs.close(), s3.close(), tus.close(), recorder.close()]);
  await rm(directory, { recursive: true, force: true });
});

describe('rws cp to gs://', () => {
  it('a file to gs://BUCKET/OBJECT with STORAGE_EMULATOR_HOST: every object flag is in the initiating request, the token never printed', async () => {
    const data = makeData(3 * K256 + 7);
    const file = join(directory, 'backup.tar.gz');
    await writeFile(file, data);
    const flags = ['--content-type', 'application/gzip', '--cache-control', 'no-store', '--content-encoding', 'identity', '--storage-class', 'NEARLINE', '--metadata', 'host=web1', '--metadata', 'run=7'];
    const run = await rws(['cp', file, 'gs://bkt/backups/backup.tar.gz', ...flags], { env: gcsEnv() });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^uploaded 768\.0 KiB .*: 200, crc32c verified/);
    const stored = gcs.object('bkt', 'backups/backup.tar.gz');
    expect(sha256(stored?.data as Buffer)).toBe(sha256(data));
    expect(stored?.metadata).toEqual({ host: 'web1', run: '7' });
    const [initiation] = initiations('backups/backup.tar.gz');
    expect(initiation?.headers['authorization']).toBe(`Bearer ${TOKEN}`);
    expect(initiation?.headers['x-upload-content-type']).toBe('application/gzip');
    expect(JSON.parse(initiation?.body ?? '{}')).toEqual({
      name: 'backups/backup.tar.gz',
      contentType: 'application/gzip',
      cacheControl: 'no-store',
      contentEncoding: 'identity',
      storageClass: 'NEARLINE',
      metadata: { host: 'web1', run: '7' },
    });
    expect(run.stdout + run.stderr).not.toContain(TOKEN);
  });

  it('a token the server refuses: exit 1 with the status, and the token printed nowhere', async () => {
    const run = await rws(['cp', '-', 'gs://bkt/denied', '--token', 'wrong-token-SECRET-42', '--retries', '0'], { stdin: Buffer.from('x'), env: gcsEnv() });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/401/);
    expect(run.stdout + run.stderr).not.toContain('SECRET-42');
    expect(gcs.object('bkt', 'denied')).toBeUndefined();
  });

  it('--gzip stores the gzip stream with no Content-Encoding; --content-encoding gzip adds it (gsutil -Z)', async () => {
    const data = makeData(K256 + 11, true);
    const plain = await rws(['cp', '-', 'gs://bkt/logs/a.log.gz', '--gzip'], { stdin: data, env: gcsEnv() });
    expect(plain.code, plain.stderr).toBe(0);
    expect(sha256(gunzipSync(gcs.object('bkt', 'logs/a.log.gz')?.data as Buffer))).toBe(sha256(data));
    expect(JSON.parse(initiations('logs/a.log.gz')[0]?.body ?? '{}')).not.toHaveProperty('contentEncoding');
    const transcoded = await rws(['cp', '-', 'gs://bkt/logs/b.log', '--gzip', '--content-encoding', 'gzip', '--content-type', 'text/plain'], { stdin: data, env: gcsEnv() });
    expect(transcoded.code, transcoded.stderr).toBe(0);
    expect(JSON.parse(initiations('logs/b.log')[0]?.body ?? '{}')).toMatchObject({ contentEncoding: 'gzip', contentType: 'text/plain' });
    expect(sha256(gunzipSync(gcs.object('bkt', 'logs/b.log')?.data as Buffer))).toBe(sha256(data));
  });

  it('--parallel with gs:// uploads with GCS XML multipart: parts in parallel, the object flags on its initiation', async () => {
    const data = makeData(2 * 5 * MiB + 3);
    const file = join(directory, 'parallel.bin');
    await writeFile(file, data);
    const flags = ['--parallel', '2', '--chunk-size', '5MiB', '--content-type', 'application/x-tar', '--metadata', 'host=web2', '--storage-class', 'NEARLINE'];
    const run = await rws(['cp', file, 'gs://bkt/parallel.bin', ...flags], { env: gcsEnv() });
    expect(run.code, run.stderr).toBe(0);
    const stored = gcs.object('bkt', 'parallel.bin');
    expect(sha256(stored?.data as Buffer)).toBe(sha256(data));
    expect(stored?.metadata).toMatchObject({ host: 'web2' });
    const initiation = recorder.requests.find((entry) => entry.method === 'POST' && entry.url.startsWith('/bkt/parallel.bin?uploads'));
    expect(initiation?.headers['x-goog-storage-class']).toBe('NEARLINE');
    expect(initiation?.headers['content-type']).toBe('application/x-tar');
    expect(recorder.requests.filter((entry) => entry.method === 'PUT' && entry.url.includes('partNumber=')).length).toBe(3);
    expect(gcs.multipart.openUploads()).toEqual([]);
    expect(run.stdout + run.stderr).not.toContain(TOKEN);
  });

  it('SIGTERM mid-upload leaves a resumable checkpoint and finalizes nothing; the same command line then resumes', async () => {
    const data = makeData(12 * K256 + 5);
    const file = join(directory, 'big.bin');
    const checkpoint = join(directory, 'big.ckpt');
    await writeFile(file, data);
    const args = [file, 'gs://bkt/big.bin', '--chunk-size', '256KiB', '--checkpoint', checkpoint, '--json'];
    const env = cleanCloudEnv({ STORAGE_EMULATOR_HOST: slowGcs.url });
    const first = spawnCp(args, env);
    await first.event((event) => event.event === 'checkpoint' && (event.bytesCommitted as number) >= 2 * K256);
    first.child.kill('SIGTERM');
    const stopped = await first.done;
    expect(stopped.code, stopped.stderr).toBe(143);
    expect(stopped.events.at(-1)).toMatchObject({ event: 'interrupted', resume: `the same rws cp command (${checkpoint} holds the checkpoint)` });
    expect(slowGcs.object('bkt', 'big.bin')).toBeUndefined();
    const progress = stopped.events.filter((event) => event.event === 'progress');
    expect(progress.length).toBeGreaterThan(0);
    for (const event of progress) expect(event.bytesSent).toBeGreaterThanOrEqual(event.bytesCommitted as number);
    const saved = JSON.parse(await readFile(checkpoint, 'utf8')) as { bytesCommitted: number; destination: string };
    expect(saved.bytesCommitted).toBeGreaterThanOrEqual(2 * K256);
    expect(saved.destination).toBe(`gs://bkt/big.bin at ${slowGcs.url}`);
    const initiated = slowGcs.requests.filter((entry) => entry.kind === 'initiate').length;
    const second = await spawnCp(args, env).done;
    expect(second.code, second.stderr).toBe(0);
    // The server may hold more than the checkpoint says (the aborted request's persisted part): it resumes from there.
    const done = second.events.at(-1);
    expect(done).toMatchObject({ event: 'done', bytesWritten: data.length });
    expect(done?.resumedAt).toBeGreaterThanOrEqual(saved.bytesCommitted);
    expect(slowGcs.requests.filter((entry) => entry.kind === 'initiate').length).toBe(initiated);
    expect(sha256(slowGcs.object('bkt', 'big.bin')?.data as Buffer)).toBe(sha256(data));
    expect(existsSync(checkpoint)).toBe(false);
  });

  it('--checkpoint FILE of another destination starts fresh (said); a file that is no checkpoint is never overwritten', async () => {
    const checkpoint = join(directory, 'other.ckpt');
    await writeFile(checkpoint, JSON.stringify({ version: 1, url: 'http://127.0.0.1:9/x', protocol: 'gcs', bytesCommitted: 5, destination: 'gs://bkt/elsewhere at x' }));
    const run = await rws(['cp', '-', 'gs://bkt/fresh', '--checkpoint', checkpoint], { stdin: Buffer.from('fresh\n'), env: gcsEnv() });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/holds the checkpoint of the upload to gs:\/\/bkt\/elsewhere at x: starting a new upload/);
    expect(gcs.object('bkt', 'fresh')?.data?.toString()).toBe('fresh\n');
    const notes = join(directory, 'notes.txt');
    await writeFile(notes, 'my notes\n');
    const refused = await rws(['cp', '-', 'gs://bkt/n', '--checkpoint', notes], { stdin: Buffer.from('x'), env: gcsEnv() });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--checkpoint .*notes\.txt exists and is not a checkpoint file/);
    expect(await readFile(notes, 'utf8')).toBe('my notes\n');
  });

  it('--finalize-on-signal: SIGTERM ends a live stdin and finalizes exactly what was read', async () => {
    const data = makeData(2 * K256 + 1000);
    const live = spawnCp(['-', 'gs://bkt/live.log', '--finalize-on-signal', '--chunk-size', '256KiB', '--json'], gcsEnv());
    live.child.stdin?.write(data);
    await live.event((event) => event.event === 'progress' && (event.bytesCommitted as number) >= 2 * K256 && event.bytesWritten === data.length);
    live.child.kill('SIGTERM');
    const run = await live.done;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/SIGTERM: ending the input here and finalizing the object/);
    expect(sha256(gcs.object('bkt', 'live.log')?.data as Buffer)).toBe(sha256(data));
  });
});

describe('rws cp to s3://', () => {
  const profileEnv = async () => {
    const credentials = join(directory, 'aws-credentials');
    const config = join(directory, 'aws-config');
    const { accessKeyId, secretAccessKey } = s3.s3.credentials;
    await writeFile(credentials, `[default]\naws_access_key_id = WRONG\naws_secret_access_key = WRONG\n\n[backup]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = ${secretAccessKey}\n`);
    await writeFile(config, '[default]\nregion = us-east-1\n\n[profile backup]\ns3 =\n  region = nested-is-ignored\nregion = eu-west-3 ; the server signs for this one\n');
    return cleanCloudEnv({ AWS_PROFILE: 'backup', AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_CONFIG_FILE: config });
  };

  it('stdin to s3://BUCKET/KEY --endpoint, credentials and region from an AWS profile; every object flag on CreateMultipartUpload', async () => {
    const data = makeData(11 * MiB + 3);
    const flags = ['--content-type', 'application/sql', '--cache-control', 'max-age=60', '--content-encoding', 'identity', '--storage-class', 'STANDARD_IA', '--metadata', 'Source=nightly'];
    const run = await rws(['cp', '-', 's3://bkt/db/dump.sql', '--endpoint', s3.proxy.url, '--chunk-size', '5MiB', '--parallel', '2', ...flags], { stdin: data, env: await profileEnv() });
    expect(run.code, run.stderr).toBe(0);
    expect(sha256(s3.s3.object('bkt', 'db/dump.sql') as Buffer)).toBe(sha256(data));
    expect(s3.s3.objectHeaders('bkt', 'db/dump.sql')).toMatchObject({
      'content-type': 'application/sql',
      'cache-control': 'max-age=60',
      'content-encoding': 'identity',
      'x-amz-storage-class': 'STANDARD_IA',
      'x-amz-meta-source': 'nightly',
    });
    expect(s3.proxy.maxInFlight).toBeLessThanOrEqual(2);
    expect(run.stdout + run.stderr).not.toContain(s3.s3.credentials.secretAccessKey);
  });

  it('SIGTERM while a part is in flight keeps the parts and the checkpoint; the same command resumes by ListParts and completes', async () => {
    const data = makeData(3 * MiB * 5);
    const file = join(directory, 'parts.bin');
    const checkpoint = join(directory, 'parts.ckpt');
    await writeFile(file, data);
    const args = [file, 's3://bkt/parts.bin', '--endpoint', s3.proxy.url, '--chunk-size', '5MiB', '--parallel', '1', '--checkpoint', checkpoint, '--json'];
    const env = await profileEnv();
    // The second part stalls long enough for the signal to find it in flight.
    s3.proxy.addFault({ fault: 'stall-for-20s', method: 'PUT', on: 2 });
    const first = spawnCp(args, env);
    await first.event((event) => event.event === 'checkpoint' && (event.bytesCommitted as number) >= 5 * MiB);
    first.child.kill('SIGTERM');
    const stopped = await first.done;
    s3.proxy.clearFaults();
    expect(stopped.code, stopped.stderr).toBe(143);
    expect(s3.s3.object('bkt', 'parts.bin')).toBeUndefined();
    expect(s3.s3.openUploads().filter((upload) => upload.key === 'bkt/parts.bin')).toEqual([expect.objectContaining({ parts: 1 })]);
    const second = await spawnCp(args, env).done;
    expect(second.code, second.stderr).toBe(0);
    expect(sha256(s3.s3.object('bkt', 'parts.bin') as Buffer)).toBe(sha256(data));
    expect(existsSync(checkpoint)).toBe(false);
  });

  it('--region wins over the profile: a signature for another region is refused by the server', async () => {
    const run = await rws(['cp', '-', 's3://bkt/r', '--endpoint', s3.proxy.url, '--region', 'us-west-2', '--retries', '0'], { stdin: Buffer.from('x'), env: await profileEnv() });
    expect(run.code).toBe(1);
    expect(s3.s3.object('bkt', 'r')).toBeUndefined();
  });
});

describe('rws cp to an Azure blob', () => {
  let azurite: Azurite;
  let container: string;
  beforeAll(async () => {
    azurite = await startAzurite();
    container = await azurite.createContainer('copies');
  }, 60_000);
  afterAll(() => azurite.close());

  it('--protocol azure with AZURE_STORAGE_KEY (Shared Key), --parallel: blocks in parallel, properties on the blob, the key printed nowhere', async () => {
    const data = makeData(3 * MiB + 5);
    const file = join(directory, 'blob.bin');
    await writeFile(file, data);
    const flags = ['--protocol', 'azure', '--parallel', '3', '--chunk-size', '1MiB', '--content-type', 'application/x-tar', '--metadata', 'host=web3', '--cache-control', 'no-store'];
    const run = await rws(['cp', file, `${container}/backups/blob.bin`, ...flags], { env: cleanCloudEnv({ AZURE_STORAGE_KEY: AZURITE_KEY }) });
    expect(run.code, run.stderr).toBe(0);
    expect(sha256((await azurite.read('copies', 'backups/blob.bin')) as Buffer)).toBe(sha256(data));
    const head = await azurite.send('HEAD', `${azurite.accountUrl}/copies/backups/blob.bin`);
    expect(head.headers['x-ms-meta-host']).toBe('web3');
    expect(head.headers['content-type']).toBe('application/x-tar');
    expect(head.headers['cache-control']).toBe('no-store');
    expect(run.stdout + run.stderr).not.toContain(AZURITE_KEY);
  });

  it('a SAS in DEST is the credential, never printed', async () => {
    const sas = accountSas();
    const data = makeData(K256);
    const run = await rws(['cp', '-', `${container}/sas.bin?${sas}`, '--protocol', 'azure'], { stdin: data, env: cleanCloudEnv() });
    expect(run.code, run.stderr).toBe(0);
    expect(sha256((await azurite.read('copies', 'sas.bin')) as Buffer)).toBe(sha256(data));
    const sig = new URLSearchParams(sas).get('sig') as string;
    expect(run.stdout + run.stderr).not.toContain(sig);
    expect(run.stdout + run.stderr).not.toContain(encodeURIComponent(sig));
  });
});

describe('rws cp to tus', () => {
  it('a file to a tus endpoint (--protocol tus) creates the upload with --metadata and --content-type as Upload-Metadata', async () => {
    const data = makeData(K256 + 3);
    const file = join(directory, 'app.log');
    await writeFile(file, data);
    const before = new Set(await readdir(tus.directory));
    const run = await rws(['cp', file, tus.endpoint, '--protocol', 'tus', '--metadata', 'filename=app.log', '--content-type', 'text/plain'], { env: cleanCloudEnv() });
    expect(run.code, run.stderr).toBe(0);
    const created = (await readdir(tus.directory)).filter((name) => !before.has(name) && name.endsWith('.json'));
    expect(created).toHaveLength(1);
    const info = JSON.parse(await readFile(join(tus.directory, created[0] as string), 'utf8')) as { size: number; metadata: Record<string, string> };
    expect(info).toMatchObject({ size: data.length, metadata: { filename: 'app.log', filetype: 'text/plain' } });
    expect(sha256(await readFile(join(tus.directory, (created[0] as string).replace(/\.json$/, ''))))).toBe(sha256(data));
  });
});

describe('rws cp usage', () => {
  it.each([
    [['-', 'gs://bkt/o', '--parallel', '0'], /--parallel expects a whole number of parts in flight, at least 1/],
    [['-', 'http://127.0.0.1:9/files/', '--protocol', 'tus', '--storage-class', 'COLD'], /--storage-class cannot be applied to tus/],
    [['-', 'http://127.0.0.1:9/session?upload_id=SECRET', '--cache-control', 'no-store'], /--cache-control cannot be applied to a session URL/],
    [['-', 'http://127.0.0.1:9/files/', '--protocol', 'tus', '--parallel', '2'], /--parallel needs gs:\/\/, s3:\/\//],
    [['-', 'gs://bkt/o', '--metadata', 'novalue'], /--metadata expects key=value/],
    [['-', 'gs://bkt/o', '--region', 'eu-west-1'], /--region is for s3:\/\//],
    [['-', 's3://bkt/k', '--token', 'T'], /--token is for gs:\/\//],
    [['-', 'gs://bkt/o', '--checkpoint', ''], /--checkpoint expects a value/],
    [['-', 'gs://bkt/'], /names no object/],
    [['-', 'backup/'], /DEST expects gs:\/\/BUCKET\/OBJECT/],
    [['-'], /cp takes SRC .* and DEST/],
    [['-', 'gs://bkt/o', '--chunk-size', '100K'], /--chunk-size must be/],
  ])('rws cp %j is refused naming the flag', async (args, message) => {
    const run = await rws(['cp', ...args], { env: cleanCloudEnv() });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).not.toContain('SECRET');
  });

  it('rws cp --help documents every flag', async () => {
    const run = await rws(['cp', '--help']);
    expect(run.code).toBe(0);
    for (const flag of ['--metadata', '--cache-control', '--content-encoding', '--content-type', '--gzip', '--storage-class', '--checkpoint', '--finalize-on-signal', '--parallel']) expect(run.stdout).toContain(flag);
  });
});
