/** The `rws` command line, spawned against the loopback server. */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer } from '../../src/testing/index.js';
import { CLI, rws } from './cli-helpers.js';
import { K256, makeData, sha256 } from './helpers.js';

let server: TestServer;
let directory: string;
beforeAll(async () => {
  server = await createTestServer();
  directory = await mkdtemp(join(tmpdir(), 'rws-cli-'));
});
afterAll(async () => {
  await server.close();
  await rm(directory, { recursive: true, force: true });
});

const secretOf = (url: string) => new URL(url).searchParams.get('upload_id') as string;

describe('rws upload', () => {
  it('from stdin', async () => {
    const url = server.createSession();
    const data = makeData(3 * K256 + 11);
    const run = await rws(['upload', url, '--chunk-size', '256KiB'], { stdin: data });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^uploaded 768\.0 KiB in .* 200, crc32c verified\n$/);
    expect(sha256(server.session(url).object?.data as Buffer)).toBe(sha256(data));
    expect(run.stdout + run.stderr).not.toContain(secretOf(url));
  });

  it('a file through --gzip, with faults recovered and reported per line', async () => {
    const url = server.createSession({ faults: ['return-503-after-256K', { fault: 'return-reset-connection', on: 3 }] });
    const data = makeData(2 * 1024 * 1024);
    const file = join(directory, 'in.bin');
    await writeFile(file, data);
    const run = await rws(['upload', url, file, '--gzip', '--chunk-size', '256K', '--checksum', 'both', '--header', 'x-goog-meta-source: test']);
    expect(run.code, run.stderr).toBe(0);
    // A 503 sent before the body was read may reach the client as a reset: either way, a typed retry.
    expect(run.stderr).toMatch(/retry 1 after RWS_(HTTP_STATUS|NETWORK)/);
    expect(run.stderr).toMatch(/committed \d/);
    expect(run.stdout).toMatch(/crc32c and md5 verified/);
    expect(gunzipSync(server.session(url).object?.data as Buffer).equals(data)).toBe(true);
    expect(run.stdout + run.stderr).not.toContain(secretOf(url));
  });

  it('--json: one JSON object per event on stdout', async () => {
    const url = server.createSession({ faults: ['return-503'] });
    const run = await rws(['upload', url, '--json', '--chunk-size', '256KiB'], { stdin: makeData(K256 + 1) });
    expect(run.code).toBe(0);
    const events = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string });
    expect(events.map((event) => event.event)).toEqual(expect.arrayContaining(['retry', 'progress', 'checkpoint', 'done']));
    expect(events.at(-1)).toMatchObject({ event: 'done', status: 200, bytesWritten: K256 + 1, verified: true });
    expect(run.stdout).not.toContain(secretOf(url));
  });

  it('a failed upload: exit 1, the code, the committed offset and the exact resume command', async () => {
    // Keeps the first 256 KiB, then answers 503 to every request that goes past it.
    const url = server.createSession({ faults: [{ fault: 'return-503-after-256K', times: Infinity }] });
    const checkpoint = join(directory, 'failed.json');
    const run = await rws(['upload', url, '--chunk-size', '256KiB', '--retries', '1', '--checkpoint', checkpoint], { stdin: makeData(3 * K256) });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/upload failed: RWS_RETRIES_EXHAUSTED/);
    expect(run.stderr).toMatch(/262144 bytes were committed; nothing was finalized/);
    expect(run.stderr).toContain(`rws upload --resume ${checkpoint} --chunk-size 256KiB --retries 1 -`);
    expect(run.stderr).not.toContain(secretOf(url));
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('without a checkpoint file, the resume command names the URL without printing it', async () => {
    const url = server.createSession({ faults: [{ fault: 'return-503', times: Infinity }] });
    const run = await rws(['upload', url, '--retries', '0'], { stdin: makeData(10) });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('rws upload "$SESSION_URL" --continue --retries 0 -');
    expect(run.stderr).not.toContain(secretOf(url));
  });

  it('a gone session: exit 1, no resume command', async () => {
    const url = server.createSession({ faults: ['session-gone'] });
    const run = await rws(['upload', url], { stdin: makeData(10) });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/RWS_SESSION_EXPIRED/);
    expect(run.stderr).not.toMatch(/to resume/);
  });

  it('resume after a killed run, from the checkpoint file', async () => {
    const slow = await createTestServer({ latencyMs: 40 });
    const url = slow.createSession();
    const data = makeData(4 * 1024 * 1024);
    const file = join(directory, 'resume.bin');
    const checkpoint = join(directory, 'resume.json');
    await writeFile(file, data);
    await rws(['upload', url, file, '--chunk-size', '256KiB', '--checkpoint', checkpoint, '--gzip'], {
      onStart: (child) => {
        const poll = setInterval(() => {
          readFile(checkpoint, 'utf8').then((text) => {
            if ((JSON.parse(text) as { bytesCommitted: number }).bytesCommitted >= 4 * K256) {
              clearInterval(poll);
              child.kill('SIGKILL');
            }
          }, () => {});
        }, 20);
        child.on('exit', () => clearInterval(poll));
      },
    });
    expect(slow.session(url).finalized).toBe(false);
    const resumed = await rws(['upload', '--resume', checkpoint, file, '--chunk-size', '256KiB', '--gzip']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(gunzipSync(slow.session(url).object?.data as Buffer).equals(data)).toBe(true);
    await expect(stat(checkpoint)).rejects.toMatchObject({ code: 'ENOENT' });
    await slow.close();
  });

  it('Ctrl-C aborts cleanly: exit 130, nothing finalized, how to resume', async () => {
    const slow = await createTestServer({ latencyMs: 100 });
    const url = slow.createSession();
    const checkpoint = join(directory, 'sigint.json');
    const run = await rws(['upload', url, '--chunk-size', '256KiB', '--checkpoint', checkpoint], {
      stdin: makeData(8 * K256),
      // Only once the upload reports progress: the CLI has its handler installed by then.
      onStart: (child) => child.stderr?.once('data', () => child.kill('SIGINT')),
    });
    expect(run.code).toBe(130);
    expect(run.stderr).toMatch(/interrupted; \d+ bytes were committed and nothing was finalized/);
    expect(run.stderr).toContain(`rws upload --resume ${checkpoint}`);
    expect(slow.session(url).finalized).toBe(false);
    await slow.close();
  });

  it.each([
    [[], /Usage:/],
    [['upload'], /needs a session URL/],
    [['upload', 'http://127.0.0.1:9/x', '--chunk-size', '1000'], /--chunk-size must be a positive multiple of 262144/],
    [['upload', 'http://127.0.0.1:9/x', '--chunk-size', 'lots'], /--chunk-size expects a size/],
    [['upload', 'http://127.0.0.1:9/x', '--checksum', 'sha1'], /--checksum expects crc32c, md5, both or none/],
    [['upload', 'http://127.0.0.1:9/x', '--header', 'nocolon'], /--header expects 'Name: value'/],
    [['upload', 'http://127.0.0.1:9/x', '--bogus'], /Unknown option '--bogus'/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['upload', 'http://127.0.0.1:9/x', '/nonexistent/input.bin'], /no such file: \/nonexistent\/input.bin/],
    [['init', 'gcs'], /needs --bucket and --name/],
    [['serve', '--fault', 'return-sometimes'], /Unknown fault/],
  ])('bad arguments %j → exit 2, a clear message, no stack trace', async (args, message) => {
    const run = await rws(args as string[]);
    expect(run.code).toBe(2);
    expect(run.stderr + run.stdout).toMatch(message);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('rws init', () => {
  it('gcs prints a session URL (its job), with the token from GCS_TOKEN', async () => {
    const authed = await createTestServer({ token: 'tok' });
    const run = await rws(['init', 'gcs', '--endpoint', authed.url, '--bucket', 'b', '--name', 'n'], { env: { GCS_TOKEN: 'tok' } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/upload\/storage\/v1\/b\/b\/o\?uploadType=resumable&name=n&upload_id=[0-9a-f]{32}$/);
    await authed.close();
  });

  it('redivis prints the URL and the upload id', async () => {
    const run = await rws(['init', 'redivis', '--endpoint', server.url, '--table', 't', '--size', '1MiB', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ url: expect.stringMatching(/upload_id=/), id: expect.any(String) });
  });
});

describe('rws serve', () => {
  it('prints its base URL and serves with faults until interrupted', async () => {
    let base = '';
    const run = await rws(['serve', '--fault', 'return-503', '--latency', '5ms'], {
      onStart: (child) => {
        child.stdout?.once('data', async (chunk: Buffer) => {
          base = chunk.toString().trim();
          const url = await rws(['init', 'gcs', '--endpoint', base, '--bucket', 'b', '--name', 'n']);
          const upload = await rws(['upload', url.stdout.trim()], { stdin: makeData(100) });
          expect(upload.stderr).toMatch(/retry 1 after RWS_HTTP_STATUS/);
          expect(upload.code).toBe(0);
          child.kill('SIGINT');
        });
      },
    });
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(run.code).toBe(0);
  });
});

describe('on a terminal', () => {
  it('draws the progress bar and ends with the final line (pseudo-terminal via script(1))', async () => {
    const url = server.createSession({ faults: ['return-503-after-512K'] });
    const file = join(directory, 'tty.bin');
    await writeFile(file, makeData(4 * 1024 * 1024));
    const command = `${process.execPath} ${CLI} upload '${url}' ${file} --chunk-size 256KiB --total 4MiB`;
    const output = await new Promise<string>((resolve) => {
      const child = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
      child.on('exit', () => resolve(text));
    });
    const screen = output.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    expect(screen).toMatch(/[█░]+ \d+% \| written [\d.]+ [KM]iB \| committed [\d.]+ [KM]iB \| [\d.]+ [KM]?i?B\/s \| retries \d \| ETA/);
    expect(screen).toMatch(/100% \| written 4\.0 MiB \| committed 4\.0 MiB .*\| retries 1 \|/);
    expect(screen).toMatch(/uploaded 4\.0 MiB in [\d.]+ s .*: 200, crc32c verified/);
    expect(screen).not.toContain(secretOf(url));
  });
});
