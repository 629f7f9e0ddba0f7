/** For the `rws cp` tests: a recorder of GCS initiation requests, and a child whose --json events can be awaited. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request } from 'node:http';
import { listenOnLoopback } from '../../src/testing/http-harness.js';
import { CLI, type Run } from './cli-helpers.js';

export interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

/** Forwards everything to `target`, recording each request (the body as text): what reached the wire. */
export async function startRecorder(target: string): Promise<{ url: string; requests: Recorded[]; close(): Promise<void> }> {
  const requests: Recorded[] = [];
  const origin = new URL(target);
  const listener = await listenOnLoopback(
    createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (chunk: Buffer) => parts.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(parts);
        requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: body.toString('utf8') });
        const forward = request({ host: origin.hostname, port: origin.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        forward.on('error', () => res.destroy());
        forward.end(body);
      });
    }),
  );
  return { url: `http://127.0.0.1:${listener.port}`, requests, close: () => listener.close() };
}

export interface CpChild {
  readonly child: ChildProcess;
  /** Resolves with the first --json event `matches` accepts (rejects if the child exits first). */
  event(matches: (event: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  readonly done: Promise<Run & { events: Record<string, unknown>[] }>;
}

/** `rws cp …` with --json events parsed as they come; stdin left open for the test to write. */
export function spawnCp(args: string[], env: Record<string, string>): CpChild {
  const child = spawn(process.execPath, [CLI, 'cp', ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const events: Record<string, unknown>[] = [];
  const waiters: { matches: (event: Record<string, unknown>) => boolean; resolve: (event: Record<string, unknown>) => void }[] = [];
  let stdout = '';
  let stderr = '';
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const event = JSON.parse(line) as Record<string, unknown>;
      events.push(event);
      for (const waiter of waiters.filter((w) => w.matches(event))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(event);
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin?.on('error', () => {});
  const done = new Promise<Run & { events: Record<string, unknown>[] }>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr, events })));
  return {
    child,
    done,
    event(matches) {
      const seen = events.find(matches);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ matches, resolve });
        void done.then((run) => reject(new Error(`rws cp exited ${String(run.code)} before the event: ${run.stderr}`)));
      });
    },
  };
}

/** An environment with no AWS or Google settings of the machine's leaking in. */
export function cleanCloudEnv(extra: Record<string, string> = {}): Record<string, string> {
  const cleared = Object.fromEntries(Object.keys(process.env).filter((name) => /^(AWS_|GOOGLE_|GCS_|STORAGE_EMULATOR_HOST|GCE_METADATA)/.test(name)).map((name) => [name, '']));
  return { ...cleared, AWS_EC2_METADATA_DISABLED: 'true', ...extra };
}
