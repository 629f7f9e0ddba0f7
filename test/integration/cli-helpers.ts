/** Spawns the built `rws` the way a shell would, collecting its output and exit status. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function rws(args: string[], options: { stdin?: Buffer; env?: Record<string, string>; onStart?: (child: ReturnType<typeof spawn>) => void } = {}): Promise<Run> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const run = collect(child, options.stdin);
  options.onStart?.(child);
  return run;
}

/**
 * Runs a command `rws` printed (a resume hint) as a user would paste it into sh, with
 * SESSION_URL set as the hint asks: proof that the printed command works.
 */
export function runPrinted(command: string, options: { stdin?: Buffer; sessionUrl?: string }): Promise<Run> {
  if (!command.startsWith('rws ')) throw new Error(`not an rws command: ${command}`);
  const script = `"${process.execPath}" "${CLI}" ${command.slice(4)}`;
  return collect(spawn('sh', ['-c', script], { env: { ...process.env, SESSION_URL: options.sessionUrl ?? '' }, stdio: ['pipe', 'pipe', 'pipe'] }), options.stdin);
}

/** Feeds `stdin` (or nothing) to a child and resolves with its exit code and output. */
function collect(child: ReturnType<typeof spawn>, stdin: Buffer | undefined): Promise<Run> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin?.on('error', () => {});
    child.stdin?.end(stdin ?? Buffer.alloc(0));
  });
}

/** The command after "to resume, run the same input through:", without its trailing comment. */
export function printedResume(stderr: string): string | undefined {
  const match = /to resume, run the same input through:\n {2}(.*)\n/.exec(stderr);
  return match?.[1]?.replace(/\s+#.*$/, '');
}
