/**
 * The session URL is a credential: every error path of `rws` is run with one (and a token) in
 * its arguments, and all its output, stdout and stderr, is searched for the secret.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer } from '../../src/testing/index.js';
import { rws, type Run } from './cli-helpers.js';
import { K256, makeData } from './helpers.js';
import { startTusServer, type TusTestServer } from './tus-server.js';

let server: TestServer;
let tus: TusTestServer;
let directory: string;
beforeAll(async () => {
  [server, tus] = await Promise.all([createTestServer({ latencyMs: 0 }), startTusServer()]);
  directory = await mkdtemp(join(tmpdir(), 'rws-cli-secrets-'));
});
afterAll(async () => {
  await Promise.all([server.close(), tus.close()]);
  await rm(directory, { recursive: true, force: true });
});

const TOKEN = 'tok-0123456789abcdef-secret';
/** A session URL that is never contacted: its host is not loopback, so it is refused before any request. */
const FAR = 'http://minio.invalid:9000/upload/storage/v1/b/b/o?uploadType=resumable&name=n&upload_id=0123456789abcdef0123456789abcdef';
const secretOf = (url: string) => new URL(url).searchParams.get('upload_id') ?? (new URL(url).pathname.split('/').pop() as string);
const data = makeData(3 * K256 + 7);

type Scenario = () => Promise<{ url: string; runs: Run[] }>;

/** One session on the loopback server, with faults, and the runs of `rws` against it. */
const against =
  (faults: Parameters<TestServer['createSession']>[0], ...argLists: Array<(url: string) => string[]>): Scenario =>
  async () => {
    const url = server.createSession(faults);
    const runs: Run[] = [];
    for (const args of argLists) runs.push(await rws(args(url), { stdin: data }));
    return { url, runs };
  };

const far =
  (...argLists: Array<(url: string) => string[]>): Scenario =>
  async () => ({ url: FAR, runs: await Promise.all(argLists.map((args) => rws(args(FAR), { stdin: data }))) });

const SCENARIOS: Record<string, Scenario> = {
  'the URL given as the command': far((url) => [url]),
  'the URL given where a file goes (--resume with no checkpoint)': far((url) => ['upload', '--resume', join(directory, 'none.ckpt'), url]),
  'the URL twice': far((url) => ['upload', url, url]),
  'the URL as an option value': far((url) => ['upload', '--chunk-size', url, url], (url) => ['upload', url, '--total', url], (url) => ['upload', url, '--checksum', url]),
  'the URL with --s3': far((url) => ['upload', '--s3', 's3://b/k', url]),
  'the URL with too many inputs': far((url) => ['upload', url, 'a', 'b']),
  'the URL and a missing file': far((url) => ['upload', url, '/nonexistent/input.bin']),
  'an unknown option': far((url) => ['upload', url, '--bogus'], (url) => ['upload', '--bogus', url]),
  'plain http to a host that is not loopback': far((url) => ['upload', url], (url) => ['upload', url, '--json']),
  'a bad chunk size, protocol, header': far((url) => ['upload', url, '--chunk-size', '1000', '--allow-insecure-http'], (url) => ['upload', '--protocol', 'ftp', url], (url) => ['upload', url, '--header', 'content-length: 1', '--allow-insecure-http']),
  'a typo in the scheme': async () => {
    const url = FAR.replace('http:', 'htp:');
    return { url, runs: [await rws(['upload', url]), await rws([url])] };
  },
  'a gone session': against({ faults: ['session-gone'] }, (url) => ['upload', url], (url) => ['upload', url, '--json']),
  'retries exhausted, with retry lines': against({ faults: [{ fault: 'return-503', times: Infinity }] }, (url) => ['upload', url, '--retries', '1'], (url) => ['upload', url, '--retries', '0', '--json']),
  'a refused request': against({ faults: [{ fault: 'return-403', times: Infinity }] }, (url) => ['upload', url, '--checkpoint', join(directory, '403.ckpt')]),
  'a size mismatch': against({}, (url) => ['upload', url, '--total', '100']),
  'a finalized session given other data': async () => {
    const url = server.createSession();
    expect((await rws(['upload', url], { stdin: Buffer.from('first') })).code).toBe(0);
    const runs = [await rws(['upload', url], { stdin: data }), await rws(['upload', url, '--json'], { stdin: Buffer.from('fifth') })];
    return { url, runs };
  },
  'a corrupt object': against({ faults: ['corrupt-byte'] }, (url) => ['upload', url, '--chunk-size', '256KiB']),
  'a refused connection': async () => {
    const closed = await createTestServer();
    const url = closed.createSession();
    await closed.close();
    return { url, runs: [await rws(['upload', url, '--retries', '0'], { stdin: data })] };
  },
  'a checkpoint of another session, and a resume whose session is gone': async () => {
    const url = server.createSession({ faults: ['session-gone'] });
    const checkpoint = join(directory, 'other.ckpt');
    await writeFile(checkpoint, JSON.stringify({ version: 1, url, protocol: 'gcs', bytesCommitted: 0 }));
    return { url, runs: [await rws(['upload', FAR, '--resume', checkpoint]), await rws(['upload', '--resume', checkpoint], { stdin: data })] };
  },
  'a checkpoint file that is not one': async () => {
    const url = server.createSession();
    const checkpoint = join(directory, 'bad.ckpt');
    await writeFile(checkpoint, `${url} garbage`);
    const wrong = join(directory, 'wrong.ckpt');
    await writeFile(wrong, JSON.stringify({ version: 2, url }));
    return { url, runs: [await rws(['upload', '--resume', checkpoint]), await rws(['upload', '--resume', wrong])] };
  },
  'Ctrl-C': async () => {
    const slow = await createTestServer({ latencyMs: 200 });
    const url = slow.createSession();
    const run = await rws(['upload', url, '--chunk-size', '256KiB'], {
      stdin: data,
      onStart: (child) => {
        const poll = setInterval(() => {
          if (slow.requests.some((request) => request.kind === 'upload')) {
            clearInterval(poll);
            child.kill('SIGINT');
          }
        }, 10);
        child.on('exit', () => clearInterval(poll));
      },
    });
    await slow.close();
    return { url, runs: [run] };
  },
  'a tus upload refused': async () => {
    const url = (await rws(['init', 'tus', '--endpoint', tus.endpoint])).stdout.trim();
    tus.proxy.addFault({ fault: 'return-403', method: 'PATCH' });
    const run = await rws(['upload', '--protocol', 'tus', url, '--retries', '0'], { stdin: data });
    tus.proxy.clearFaults();
    return { url, runs: [run, await rws(['upload', '--protocol', 'gcs', url, 'x', 'y'])] };
  },
};

describe('no output of rws prints a session URL (or a token) whole', () => {
  it.each(Object.keys(SCENARIOS))('%s', async (name) => {
    const { url, runs } = await (SCENARIOS[name] as Scenario)();
    const secret = secretOf(url);
    expect(secret.length).toBeGreaterThanOrEqual(16);
    for (const run of runs) {
      const output = run.stdout + run.stderr;
      expect(run.code, output).not.toBe(0);
      expect(output).not.toContain(secret);
      expect(output).not.toMatch(/\n\s+at /);
    }
  });

  it('init with a wrong token: the token is not printed', async () => {
    const authed = await createTestServer({ token: 'right' });
    const run = await rws(['init', 'gcs', '--endpoint', authed.url, '--bucket', 'b', '--name', 'n', '--token', TOKEN]);
    const env = await rws(['init', 'gcs', '--endpoint', authed.url, '--bucket', 'b', '--name', 'n'], { env: { GCS_TOKEN: TOKEN } });
    await authed.close();
    for (const each of [run, env]) {
      expect(each.code).toBe(1);
      expect(each.stdout + each.stderr).not.toContain(TOKEN);
    }
  });
});
