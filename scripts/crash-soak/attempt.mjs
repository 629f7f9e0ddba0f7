// One process of an upload: spawned, killed with SIGKILL at the moment its plan names (or left
// to finish), always within a time bound. Reports how it ended and whether the kill landed in
// the window it aimed at.
import { spawn } from 'node:child_process';
import { existsSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';

/** The moments a crash is aimed at, with the seeded parameters of each. */
export const MOMENTS = ['before-first-byte', 'mid-chunk', 'after-checkpoint', 'checkpoint-write', 'final-request', 'random-delay'];

export function choosePlan(rng, moment = MOMENTS[rng.int(0, MOMENTS.length - 1)]) {
  switch (moment) {
    case 'before-first-byte':
      return { moment, delay: rng.int(0, 600) };
    case 'mid-chunk':
      return { moment, k: rng.int(1, 3), delay: rng.int(0, 12) };
    case 'after-checkpoint':
    case 'checkpoint-write':
      return { moment, k: rng.int(1, 4) };
    case 'final-request':
      return { moment, at: rng.next() < 0.5 ? 'sent' : 'answered', delay: rng.int(0, 15) };
    default:
      return { moment: 'random-delay', delay: rng.int(0, 1500) };
  }
}

/**
 * Runs the fixture once. `plan` undefined: no kill. Resolves with { killed, inWindow, code,
 * signal, hang, done, error, uploads, stderr } once the process has exited (SIGKILLed at
 * `timeoutMs` at the latest: a hang).
 */
export function runAttempt({ server, object, paths, resume, plan, timeoutMs }) {
  const child = spawn(process.execPath, [object.fixture, ...object.args(paths, resume)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...object.env },
  });
  const result = { moment: plan?.moment ?? 'none', killed: false, inWindow: undefined, code: null, signal: null, hang: false, done: false, error: undefined, uploads: 0, serverActed: false, singlePut: false, sentFinal: false, stderr: '' };
  const timers = new Set();
  const later = (ms, fn) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };
  let exited = false;
  const kill = (evidence) => {
    if (result.killed || exited) return;
    result.killed = true;
    result.inWindow = evidence();
    child.kill('SIGKILL');
  };

  // Requests of this process only: a killed process's last request may still be answered.
  const mine = new Set();
  const answered = new Set();
  let inFlight = 0;
  server.hooks.onEntry = (entry) => {
    mine.add(entry);
    if (server.isSinglePut?.(entry)) result.singlePut = true;
    if (server.isFinal(entry)) result.sentFinal = true;
    trigger.onRequest?.(entry);
    if (!server.isUpload(entry)) return;
    result.uploads++;
    inFlight++;
    trigger.onUpload?.(entry);
  };
  server.hooks.onStatus = (entry) => {
    if (!mine.has(entry) || answered.has(entry)) return;
    answered.add(entry);
    if (server.isUpload(entry)) inFlight--;
    trigger.onAnswer?.(entry);
  };

  const temporary = `${paths.checkpoint}.tmp`;
  let watcher;
  const trigger = arm(plan, { kill, later, server, result, temporary, answered, inFlight: () => inFlight });
  if (plan?.moment === 'checkpoint-write') {
    let seen = 0;
    watcher = watch(dirname(paths.checkpoint), (event, name) => {
      if (name !== basename(temporary) || !existsSync(temporary)) return;
      if (++seen === plan.k) kill(() => existsSync(temporary));
    });
  }
  if (plan?.moment === 'final-request') server.widenFinal();

  let stdout = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk.toString();
    const lines = stdout.split('\n');
    stdout = lines.pop();
    for (const line of lines) {
      if (line.startsWith('done ')) result.done = true;
      const error = /^error (\S+) (.*)$/.exec(line);
      if (error) result.error = { code: error[1], message: error[2] };
      if (line.startsWith('checkpoint ')) trigger.onCheckpoint?.(line);
    }
  });
  child.stderr.on('data', (chunk) => {
    if (result.stderr.length < 4000) result.stderr += chunk.toString();
  });
  later(timeoutMs, () => {
    if (exited) return;
    result.hang = true;
    child.kill('SIGKILL');
  });

  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      exited = true;
      for (const timer of timers) clearTimeout(timer);
      watcher?.close();
      server.hooks.onEntry = undefined;
      server.hooks.onStatus = undefined;
      server.clearFaults?.();
      result.code = code;
      result.signal = signal;
      resolve(result);
    });
  });
}

/** The triggers of a plan: what kills the process, and the evidence that the kill hit its window. */
function arm(plan, { kill, later, server, result, answered, inFlight }) {
  if (plan === undefined) return {};
  switch (plan.moment) {
    case 'before-first-byte': {
      later(plan.delay, () => kill(() => result.uploads === 0));
      // The first request with bytes has its headers at the server: its body is still on the way.
      return { onUpload: () => kill(() => answered.size === 0) };
    }
    case 'mid-chunk': {
      let seen = 0;
      return { onUpload: () => ++seen === plan.k && later(plan.delay, () => kill(() => inFlight() > 0)) };
    }
    case 'after-checkpoint': {
      let seen = 0;
      return { onCheckpoint: () => ++seen === plan.k && kill(() => true) };
    }
    case 'final-request': {
      let final;
      return {
        onRequest: (entry) => {
          if (!server.isFinal(entry)) return;
          final = entry;
          if (plan.at === 'sent') later(plan.delay, () => kill(() => ((result.serverActed = answered.has(entry)), true)));
        },
        // The server has acted on the final request; its answer is still on the way.
        onAnswer: (entry) => entry === final && plan.at === 'answered' && kill(() => ((result.serverActed = true), true)),
      };
    }
    case 'random-delay':
      later(plan.delay, () => kill(() => true));
      return {};
    default:
      return {};
  }
}
