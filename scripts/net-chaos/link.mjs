// The runner's handles on the shaped link (link.sh beside this file) and on the processes it runs
// in the two namespaces: a server per protocol (server.mjs, talked to over its stdio, never over
// the link) and one client process per upload (client.mjs).
import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const HERE = import.meta.dirname;
export const CLIENT_NS = process.env.NF_C ?? 'rwsxc';
export const SERVER_NS = process.env.NF_S ?? 'rwsxs';
export const SERVER_HOST = 'rws-chaos-server';
export const PORTS = { gcs: 18080, tus: 18081, s3: 18082, 'gcs-multipart': 18083, azure: 18084 };

/** Runs `link.sh ARGS…` (bounded: a stuck tool fails the run instead of hanging it). */
export async function link(...args) {
  const env = { ...process.env, NF_C: CLIENT_NS, NF_S: SERVER_NS, NF_NET: process.env.NF_NET ?? '10.99.0', NF_STATE: process.env.NF_STATE ?? `/tmp/rws-net-chaos-${CLIENT_NS}` };
  const { stdout } = await run(join(HERE, 'link.sh'), args.map(String), { env, timeout: 30_000 });
  return stdout;
}

/** Packets the server's TCP stack dropped for a bad checksum so far (nstat, absolute). */
export async function tcpChecksumErrors() {
  const { stdout } = await run('ip', ['netns', 'exec', SERVER_NS, 'nstat', '-az', 'TcpInCsumErrors'], { timeout: 10_000 });
  return Number(/TcpInCsumErrors\s+(\d+)/.exec(stdout)?.[1] ?? 0);
}

/** A protocol's server in the server namespace; `restart()` kills it and starts it on the same port. */
export async function startServer(protocol, directory, onEvent) {
  let child;
  let pending = new Map();
  let counter = 0;
  let backend = false;
  async function start() {
    child = spawn('ip', ['netns', 'exec', SERVER_NS, process.execPath, join(HERE, 'server.mjs'), protocol, String(PORTS[protocol]), directory], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const ready = {};
    ready.promise = new Promise((resolve, reject) => Object.assign(ready, { resolve, reject }));
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const message = JSON.parse(line);
      if (message.event === 'ready') {
        backend = message.backend === true;
        ready.resolve();
      }
      else if (message.event) onEvent(protocol, message);
      else pending.get(message.id)?.(message);
    });
    child.once('exit', () => ready.reject(new Error(`${protocol} server exited`)));
    const timer = setTimeout(() => ready.reject(new Error(`${protocol} server not ready in 10 s`)), 10_000);
    await ready.promise.finally(() => clearTimeout(timer));
  }
  function ask(op, args = {}, timeoutMs = 10_000) {
    const id = ++counter;
    const answer = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${protocol} server: no answer to ${op}`)), timeoutMs);
      pending.set(id, (message) => {
        clearTimeout(timer);
        pending.delete(id);
        message.error ? reject(new Error(message.error)) : resolve(message);
      });
    });
    child.stdin.write(`${JSON.stringify({ id, op, ...args })}\n`);
    return answer;
  }
  async function stop() {
    // A server with a process of its own behind it (Azurite) stops that one first, cleanly.
    if (backend && child.exitCode === null && child.signalCode === null) await ask('stop-backend', {}, 20_000).catch(() => {});
    const exited = new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', resolve)));
    child.kill('SIGKILL');
    await exited;
    pending = new Map();
  }
  await start();
  return { protocol, ask, stop, restart: async () => { await stop(); await start(); } };
}

const clients = new Set();

/** Kills the client processes still running (the runner interrupted). */
export function killClients() {
  for (const child of clients) child.kill('SIGKILL');
}

/**
 * One upload in the client namespace. Resolves with its lines (`done` or `error`, `events`) and
 * how it ended: `hang` when it gave no final line within `capMs` (then killed), `leaked` when it
 * gave one but did not exit by itself within 10 s.
 */
export function runClient(job, env, capMs) {
  const child = spawn('ip', ['netns', 'exec', CLIENT_NS, process.execPath, join(HERE, 'client.mjs'), JSON.stringify(job)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  clients.add(child);
  child.once('exit', () => clients.delete(child));
  const record = { events: [], final: undefined, hang: false, leaked: false, stderr: '', handles: undefined };
  child.stderr.on('data', (data) => { record.stderr = (record.stderr + data).slice(-2000); });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const message = JSON.parse(line);
    if (message.ev === 'done' || message.ev === 'error') record.final = message;
    else if (message.ev === 'handles') record.handles = message.resources;
    else record.events.push(message);
  });
  return new Promise((resolve) => {
    const cap = setTimeout(() => { record.hang = record.final === undefined; record.leaked = record.final !== undefined; child.kill('SIGKILL'); }, capMs);
    const watch = setInterval(() => {
      if (record.final && Date.now() - record.final.at > 10_000) { record.leaked = true; child.kill('SIGKILL'); }
    }, 500);
    child.once('exit', (code, signal) => {
      clearTimeout(cap);
      clearInterval(watch);
      resolve({ ...record, exit: signal ?? code });
    });
  });
}
