/** The `rws` command line, spawned against the loopback server. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer } from '../../src/testing/index.js';
import { CLI, printedResume, runPrinted, rws } from './cli-helpers.js';
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
    const run = await rws(['upload', url, file, '--gzip', '--chunk-size', '256K', '--checksum', 'both', '--header', 'x-goog-user-project: test']);
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
    // The rate counts only what this process moved, not what the server held before it.
    expect(resumed.stdout).toMatch(/^uploaded [\d.]+ MiB in [\d.]+ s \(resumed at [\d.]+ (KiB|MiB): [\d.]+ (KiB|MiB) at [\d.]+ (KiB|MiB)\/s\): 200/);
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
    // No --total: a file declares its own size, so the bar has a percentage and an ETA.
    const command = `${process.execPath} ${CLI} upload '${url}' ${file} --chunk-size 256KiB`;
    const output = await new Promise<string>((resolve) => {
      const child = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
      child.on('exit', () => resolve(text));
    });
    const screen = output.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    expect(screen).toMatch(/[█░]+ \d+% \| written [\d.]+ [KM]iB \| sent [\d.]+ [KM]?i?B \| committed [\d.]+ [KM]iB \| [\d.]+ [KM]?i?B\/s \| retries \d \| ETA/);
    expect(screen).toMatch(/100% \| written 4\.0 MiB \| sent 4\.0 MiB \| committed 4\.0 MiB .*\| retries 1 \|/);
    expect(screen).toMatch(/uploaded 4\.0 MiB in [\d.]+ s .*: 200, crc32c verified/);
    expect(screen).not.toContain(secretOf(url));
  });
});

describe('resume hints only when they would work', () => {
  it('Ctrl-C before the first acknowledgement: a --resume command only if the checkpoint is on disk, and the printed command works', async () => {
    // The first upload request stalls at the server: Ctrl-C comes before any acknowledgement.
    const url = server.createSession({ faults: [{ fault: 'stall-for-3s', on: 1 }] });
    const checkpoint = join(directory, 'early.ckpt');
    const data = makeData(1000);
    const run = await rws(['upload', url, '--checkpoint', checkpoint], {
      stdin: data,
      onStart: (child) => {
        const poll = setInterval(() => {
          if (server.requests.some((request) => request.sessionId === secretOf(url) && request.kind === 'upload')) {
            clearInterval(poll);
            child.kill('SIGINT');
          }
        }, 10);
        child.on('exit', () => clearInterval(poll));
      },
    });
    expect(run.code, run.stderr).toBe(130);
    const printed = printedResume(run.stderr) as string;
    if (existsSync(checkpoint)) {
      expect(printed).toBe(`rws upload --resume ${checkpoint} -`);
    } else {
      expect(run.stderr).not.toContain('--resume');
      expect(run.stderr).toContain(`no checkpoint was saved at ${checkpoint}`);
      expect(printed).toBe(`rws upload "$SESSION_URL" --continue --checkpoint ${checkpoint} -`);
    }
    const resumed = await runPrinted(printed, { stdin: data, sessionUrl: url });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(sha256(server.session(url).object?.data as Buffer)).toBe(sha256(data));
  });

  it('--resume FILE after a successful run: "nothing to resume", exit 2, no TypeError', async () => {
    const url = server.createSession();
    const checkpoint = join(directory, 'done.ckpt');
    expect((await rws(['upload', url, '--checkpoint', checkpoint], { stdin: makeData(100) })).code).toBe(0);
    const run = await rws(['upload', '--resume', checkpoint], { stdin: makeData(100) });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`no checkpoint at ${checkpoint}: nothing to resume`));
    expect(run.stderr).not.toMatch(/TypeError|`resume/);
  });

  it('the session URL with --resume FILE and no checkpoint yet: resumes from the server, saving to FILE', async () => {
    const url = server.createSession();
    const data = makeData(3 * K256);
    const run = await rws(['upload', url, '--resume', join(directory, 'fresh.ckpt'), '--chunk-size', '256KiB'], { stdin: data });
    expect(run.code, run.stderr).toBe(0);
    expect(sha256(server.session(url).object?.data as Buffer)).toBe(sha256(data));
    expect(server.requests.find((request) => request.sessionId === secretOf(url))?.kind).toBe('query');
  });

  it('a checkpoint of another session than the URL given is refused', async () => {
    const checkpoint = join(directory, 'other.ckpt');
    await writeFile(checkpoint, JSON.stringify({ version: 1, url: server.createSession(), protocol: 'gcs', bytesCommitted: 0 }));
    const run = await rws(['upload', server.createSession(), '--resume', checkpoint], { stdin: makeData(10) });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/is the checkpoint of another session than the URL given/);
  });

  it('RWS_SIZE_MISMATCH: no resume command (never the same wrong --total), what was wrong said in flags', async () => {
    const url = server.createSession();
    const run = await rws(['upload', url, '--total', '100', '--checkpoint', join(directory, 'size.ckpt')], { stdin: makeData(5) });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/RWS_SIZE_MISMATCH: the input ended after 5 bytes, but --total 100 declared more/);
    expect(run.stderr).toMatch(/nothing was finalized: start a new session/);
    expect(run.stderr).not.toMatch(/to resume|totalSize/);
  });
});

describe('object metadata', () => {
  it('rws init gcs --metadata K=V puts it on the initiating request; --header with it is refused, naming the flag', async () => {
    const init = await rws(['init', 'gcs', '--endpoint', server.url, '--bucket', 'b', '--name', 'with-metadata', '--metadata', 'host=web1', '--metadata', 'job=nightly']);
    expect(init.code, init.stderr).toBe(0);
    const url = init.stdout.trim();
    expect((await rws(['upload', url], { stdin: Buffer.from('log\n') })).code).toBe(0);
    expect(server.object('b', 'with-metadata')?.metadata).toEqual({ host: 'web1', job: 'nightly' });
    const refused = await rws(['upload', server.createSession(), '--header', 'x-goog-meta-host: web1'], { stdin: Buffer.from('x') });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--header may not set "x-goog-meta-host".*rws init gcs --metadata/);
  });
});

describe('a session finalized before', () => {
  it('other data: says the server holds a finalized object of another size, not "committed; nothing finalized"', async () => {
    const url = server.createSession();
    expect((await rws(['upload', url], { stdin: Buffer.from('data\n') })).code).toBe(0);
    const run = await rws(['upload', url], { stdin: Buffer.from('otherdata12345678\n') });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/the session is finalized: the server holds an object of 5 bytes, not the 18 bytes of this input/);
    expect(run.stderr).toMatch(/start a new session/);
    expect(run.stderr).not.toMatch(/committed|nothing was finalized|to resume/);
  });

  it('other data of the same size: the stored digest differs', async () => {
    const url = server.createSession();
    expect((await rws(['upload', url], { stdin: Buffer.from('aaaa') })).code).toBe(0);
    const run = await rws(['upload', url], { stdin: Buffer.from('bbbb') });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/the session is finalized: the server holds an object of 4 bytes whose crc32c is \S+, not this input's \S+\./);
    expect(run.stderr).not.toMatch(/committed|nothing was finalized|to resume/);
  });
});

describe('a session finalized before, resumed', () => {
  it.each([['--continue'], ['--resume']])('%s with other data: exit 1 with what the server holds (not a silent exit 0)', async (how) => {
    const url = server.createSession();
    expect((await rws(['upload', url], { stdin: Buffer.from('data\n') })).code).toBe(0);
    const checkpoint = join(directory, `finalized${how}.ckpt`);
    await writeFile(checkpoint, JSON.stringify({ version: 1, url, protocol: 'gcs', bytesCommitted: 0 }));
    const args = how === '--continue' ? ['upload', url, '--continue'] : ['upload', '--resume', checkpoint];
    const run = await rws(args, { stdin: Buffer.from('otherdata12345678\n') });
    expect(run.code, run.stdout).toBe(1);
    expect(run.stderr).toMatch(/the session is finalized: the server holds an object of 5 bytes, not the 18 bytes of this input/);
  });
});

describe('output', () => {
  it('the rate is rounded', async () => {
    const run = await rws(['upload', server.createSession()], { stdin: makeData(5) });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^uploaded 5 B in [\d.]+ s \((\d+ B|\d+\.\d [KMGT]iB)\/s\): 200/);
  });

  it('off a terminal, each committed amount is printed once', async () => {
    const { startTusServer } = await import('./tus-server.js');
    const tus = await startTusServer();
    const url = (await rws(['init', 'tus', '--endpoint', tus.endpoint])).stdout.trim();
    // 60-byte requests: consecutive offsets above 1 KiB show the same tenth of a KiB.
    const run = await rws(['upload', '--protocol', 'tus', url, '--chunk-size', '60'], { stdin: makeData(3000) });
    await tus.close();
    expect(run.code, run.stderr).toBe(0);
    const committed = [...run.stderr.matchAll(/^committed (\S+ \S+) /gm)].map((match) => match[1]);
    expect(committed.length).toBeGreaterThan(10);
    expect(new Set(committed).size).toBe(committed.length);
  });

  it('a file declares its size (the total) unless compressed on the fly', async () => {
    const file = join(directory, 'sized.bin');
    await writeFile(file, makeData(K256 + 5));
    const plain = server.createSession();
    const gzipped = server.createSession();
    expect((await rws(['upload', plain, file, '--chunk-size', '256KiB'])).code).toBe(0);
    expect((await rws(['upload', gzipped, file, '--chunk-size', '256KiB', '--gzip'])).code).toBe(0);
    const firstRange = (url: string) => server.requests.find((request) => request.sessionId === secretOf(url) && request.kind === 'upload')?.contentRange;
    expect(firstRange(plain)).toBe(`bytes 0-${K256 - 1}/${K256 + 5}`);
    expect(firstRange(gzipped)).toBe(`bytes 0-${K256 - 1}/*`);
    const piped = server.createSession();
    expect((await rws(['upload', piped, '--chunk-size', '256KiB'], { stdin: makeData(K256 + 5) })).code).toBe(0);
    expect(firstRange(piped)).toBe(`bytes 0-${K256 - 1}/*`);
    expect((await rws(['upload', '--help'])).stdout).toMatch(/A file argument without --gzip declares its own size/);
  });
});
