// The crash soak's supervisor: uploads objects through child processes that it SIGKILLs at
// seeded moments and resumes from their checkpoint file until the upload completes, then checks
// what the server holds and what is left on disk. Used by scripts/crash-soak.mjs (the long run)
// and test/integration/crash-soak.test.ts (a fixed seeded set in npm test).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { choosePlan, MOMENTS, runAttempt } from './attempt.mjs';
import { PROTOCOLS } from './protocols.mjs';

/** Seeded PRNG (mulberry32): the same seed gives the same sizes, data, moments and delays. */
export function prng(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (min, max) => min + Math.floor(next() * (max - min + 1)) };
}

/** Each object's own seed, so one object can be run again alone. */
export function objectSeed(seed, protocol, index) {
  let hash = 0x811c9dc5;
  for (const char of `${seed}:${protocol}:${index}`) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
  return hash;
}

/** Which test an object index runs: mostly crashes, every tenth a corrupt checkpoint, every tenth a full disk. */
export function kindOf(index) {
  if (index % 10 === 3) return 'corrupt-checkpoint';
  if (index % 10 === 7) return 'full-filesystem';
  return 'crash';
}

const ATTEMPT_TIMEOUT_MS = 30_000;

/** Input of seeded size: blocks of random bytes and of log-like text, so gzip has work to do. */
function makeInput(rng, sizes, kind) {
  // A damaged checkpoint or a full disk needs an upload long enough to be killed midway.
  const size = kind !== 'crash' ? rng.int(sizes.max / 2, sizes.max) : rng.next() < sizes.small ? rng.int(0, 64 * 1024) : rng.int(sizes.min, sizes.max);
  const data = Buffer.alloc(size);
  const line = Buffer.from('2026-12-01T11:50:00Z INFO soak line with a few repeated words\n');
  // Gzip must not shrink those below one S3 part: S3 would take them in one PutObject.
  const textShare = kind === 'crash' ? sizes.textShare : 0;
  for (let offset = 0; offset < size; offset += 4096) {
    const end = Math.min(size, offset + 4096);
    const text = rng.next() < textShare;
    let word = 0;
    for (let i = offset; i < end; i++) {
      if (text) data[i] = line[(i - offset) % line.length];
      else {
        if ((i - offset) % 4 === 0) word = Math.floor(rng.next() * 2 ** 32);
        data[i] = (word >>> (8 * ((i - offset) % 4))) & 255;
      }
    }
  }
  return data;
}

const gunzips = (data, input) => {
  try {
    return gunzipSync(data).equals(input);
  } catch {
    return false;
  }
};

/** A new record for one object; every count the report needs. */
function newRecord(protocol, index, seed, kind) {
  return {
    protocol, index, seed, kind,
    attempts: 0, kills: 0, killsInWindow: 0, moments: {}, exitCodes: {},
    completed: false, storedExactly: false, freshRestarts: 0, typedFailures: [], expectedFailures: [], untypedCrashes: 0, hangs: 0,
    leftoverTemporaryFiles: 0, checkpointLeft: false, orphanUploads: [], stagedWithoutCheckpoint: 0, corrupted: 0, wronglyFinalized: 0, skipped: undefined, problems: [],
  };
}

function tally(record, result) {
  record.attempts++;
  const exit = result.signal ?? String(result.code);
  record.exitCodes[exit] = (record.exitCodes[exit] ?? 0) + 1;
  const moment = (record.moments[result.moment] ??= { attempts: 0, kills: 0, inWindow: 0, outran: 0, serverActed: 0 });
  moment.attempts++;
  if (result.hang) {
    record.hangs++;
    record.problems.push(`attempt ${record.attempts} (${result.moment}) hung: killed after ${ATTEMPT_TIMEOUT_MS} ms`);
  } else if (result.killed) {
    moment.kills++;
    record.kills++;
    if (result.serverActed) moment.serverActed++;
    if (result.inWindow) {
      moment.inWindow++;
      record.killsInWindow++;
    }
    if (result.signal !== 'SIGKILL') record.problems.push(`attempt ${record.attempts} was killed but exited ${exit}`);
  } else if (result.moment !== 'none') moment.outran++;
}

/** After every process: a finalized object must be the input, gzipped, whatever happened. */
async function checkFinal(record, object, input, when) {
  const stored = await object.stored();
  if (stored.final && !gunzips(stored.data, input)) {
    record.wronglyFinalized++;
    record.problems.push(`finalized with bytes that do not gunzip to the input (${when})`);
  }
  return stored;
}

/**
 * A kill on an early checkpoint line, so that it comes before the end and finds a file: the S3
 * fixture prints a checkpoint once it is on disk, the GCS/tus one after the 'checkpoint' event,
 * which comes before its save (the second line finds the first saved). The GCS XML multipart and
 * Azure fixtures print once it is on disk too; their second line comes after the first part.
 */
const earlyCheckpoint = (server) => ({ moment: 'after-checkpoint', k: server.name === 's3' ? 1 : 2 });

/**
 * Killed with no checkpoint on disk: nothing names an upload, so none of the object's may hold
 * parts. Azure's commit discards the blob's other staged blocks, so only now can they be seen.
 */
async function checkNothingStaged(record, object, when) {
  const staged = (await object.openUploads()).filter((upload) => upload.parts > 0);
  if (staged.length === 0) return;
  record.stagedWithoutCheckpoint += staged.length;
  record.problems.push(`${when}: no checkpoint on disk, yet uploads with parts ${JSON.stringify(staged.map((upload) => upload.parts))}`);
}

/** Runs processes (killing at most `maxKills`) until one ends on its own; returns the last result. */
async function uploadUntilDone(context, { maxKills, firstResume }) {
  const { record, rng, server, object, paths, input, rotate } = context;
  let resume = firstResume;
  for (let attempt = 0; attempt <= maxKills + 1; attempt++) {
    // Rotating, consecutive objects aim at consecutive moments: a short run still covers them all.
    const moment = rotate ? MOMENTS[(record.index * maxKills + attempt) % MOMENTS.length] : undefined;
    const plan = attempt < maxKills ? choosePlan(rng, moment) : undefined;
    // No checkpoint on disk after a kill: the next process starts the upload afresh.
    if (resume && !existsSync(paths.checkpoint)) record.freshRestarts++;
    const result = await runAttempt({ server, object, paths, resume, plan, timeoutMs: ATTEMPT_TIMEOUT_MS });
    tally(record, result);
    const stored = await checkFinal(record, object, input, `after attempt ${record.attempts}`);
    if (result.hang || !result.killed) return result;
    // Killed after it had finished and cleared its checkpoint: nothing is left to resume.
    if (stored.final && !existsSync(paths.checkpoint)) {
      record.killedAfterFinish = true;
      return { ...result, done: true, code: 0 };
    }
    if (!existsSync(paths.checkpoint)) await checkNothingStaged(record, object, `after attempt ${record.attempts}`);
    resume = true;
    // A resume comes a moment after the crash, as a restarted job's does.
    await sleep(rng.int(0, 40));
  }
  return undefined;
}

/** The process that ran to its end: exit 0 with "done", or a failure, typed or not. */
function judgeEnd(record, result, expectedCode) {
  if (result === undefined || result.hang) return false;
  if (result.done && result.code === 0) return true;
  if (result.error && result.code === 1) {
    const failure = { code: result.error.code, message: result.error.message.slice(0, 200) };
    if (expectedCode !== undefined && failure.code === expectedCode) record.expectedFailures.push(failure);
    else {
      record.typedFailures.push(failure);
      record.problems.push(`typed failure ${failure.code}: ${failure.message}`);
    }
    return false;
  }
  record.untypedCrashes++;
  record.problems.push(`exited ${result.signal ?? result.code} without "done" or "error": ${result.stderr.slice(0, 300)}`);
  return false;
}

/** What every object must end with: the input stored, nothing left beside the checkpoint or open. */
async function checkObject(context) {
  const { record, object, paths, input } = context;
  const stored = await object.stored();
  record.storedExactly = stored.final && gunzips(stored.data, input);
  if (!record.storedExactly) {
    if (stored.final) record.corrupted++;
    record.problems.push(stored.final ? 'the stored object does not gunzip to the input' : 'the object was never finalized');
  }
  const names = await readdir(paths.folder);
  record.leftoverTemporaryFiles = names.filter((name) => name.endsWith('.tmp')).length;
  if (record.leftoverTemporaryFiles > 0) record.problems.push(`temporary files left: ${names.join(', ')}`);
  record.checkpointLeft = existsSync(paths.checkpoint);
  if (record.checkpointLeft) record.problems.push('the checkpoint was not cleared after success');
  record.orphanUploads = await object.openUploads();
  // A kill between CreateMultipartUpload's answer and its checkpoint reaching the disk leaves an
  // empty upload nothing knows of (README: Resume after a crash); one with parts, or more empty
  // ones than fresh restarts, is a defect.
  const withParts = record.orphanUploads.filter((upload) => upload.parts > 0).length;
  if (withParts > 0 || record.orphanUploads.length > record.freshRestarts) {
    record.problems.push(`open uploads left: ${JSON.stringify(record.orphanUploads.map((upload) => upload.parts))} parts, after ${record.freshRestarts} fresh restarts`);
  }
}

async function runCrash(context) {
  const result = await uploadUntilDone(context, { maxKills: context.maxKills, firstResume: false });
  context.record.completed = judgeEnd(context.record, result);
}

/** The checkpoint file a killed process left, damaged in a seeded way. */
function damage(rng, text) {
  const kinds = ['empty', 'truncated', 'garbage', 'not-an-object', 'wrong-field'];
  const kind = kinds[rng.int(0, kinds.length - 1)];
  if (kind === 'empty') return { kind, text: '' };
  // Cut before the closing brace: a prefix of a JSON object is never JSON.
  if (kind === 'truncated') return { kind, text: text.slice(0, rng.int(1, Math.max(1, text.trimEnd().length - 1))) };
  if (kind === 'garbage') return { kind, text: Buffer.from(Array.from({ length: rng.int(1, 200) }, () => rng.int(0, 255))).toString('latin1') };
  if (kind === 'not-an-object') return { kind, text: ['[]', '42', 'null', '"checkpoint"'][rng.int(0, 3)] };
  const parsed = JSON.parse(text);
  const fields = [{ bytesCommitted: -1 }, { bytesCommitted: '12' }, { url: 7 }, { version: 2 }, { protocol: 'ftp' }];
  return { kind, text: JSON.stringify({ ...parsed, ...fields[rng.int(0, fields.length - 1)] }) };
}

/**
 * Killed after a checkpoint, then the file damaged: the resume must fail with RWS_CHECKPOINT and
 * finalize nothing; the file restored, the next resume completes the upload.
 */
async function runCorruptCheckpoint(context) {
  const { record, rng, server, object, paths } = context;
  const first = await runAttempt({ server, object, paths, resume: false, plan: earlyCheckpoint(server), timeoutMs: ATTEMPT_TIMEOUT_MS });
  tally(record, first);
  if (!first.killed) {
    record.completed = judgeEnd(record, first);
    return;
  }
  if (!existsSync(paths.checkpoint)) {
    // Killed between the 'checkpoint' event and its file reaching the disk: nothing to damage.
    record.damage = 'none (no file yet)';
    record.completed = judgeEnd(record, await uploadUntilDone(context, { maxKills: 0, firstResume: true }));
    return;
  }
  const original = await readFile(paths.checkpoint, 'utf8');
  const damaged = damage(rng, original);
  record.damage = damaged.kind;
  const finalBefore = (await object.stored()).final;
  await writeFile(paths.checkpoint, damaged.text);
  const refused = await runAttempt({ server, object, paths, resume: true, plan: undefined, timeoutMs: ATTEMPT_TIMEOUT_MS });
  tally(record, refused);
  await expectRefused(context, refused, `a ${damaged.kind} checkpoint`, finalBefore);
  await writeFile(paths.checkpoint, original);
  record.completed = judgeEnd(record, await uploadUntilDone(context, { maxKills: 0, firstResume: true }));
}

/**
 * A process whose checkpoint store had to fail it: RWS_CHECKPOINT, and nothing finalized. When
 * the killed process had already finalized, the resume may confirm that instead (exit 0).
 */
async function expectRefused(context, refused, what, finalBefore) {
  const { record, object, input } = context;
  const stored = await checkFinal(record, object, input, what);
  judgeEnd(record, refused, 'RWS_CHECKPOINT');
  if (finalBefore) {
    record.finalizedBeforeRefusal = true;
    return;
  }
  // One PutObject (S3, less than a part) has nothing to resume: no checkpoint is saved.
  if (refused.done && refused.singlePut) {
    record.noCheckpointNeeded = true;
    return;
  }
  // The killed process's last request may still finalize after the kill: the resume then only
  // finds the upload complete. Finalizing is wrong only when the refused process asked for it.
  if (stored.final && !refused.sentFinal) {
    record.finalizedBeforeRefusal = true;
    return;
  }
  if (refused.error?.code !== 'RWS_CHECKPOINT') record.problems.push(`${what} gave ${refused.error?.code ?? `exit ${refused.code}`}, not RWS_CHECKPOINT`);
  if (stored.final) record.problems.push(`${what}: the process finalized the upload anyway`);
}

/** Fills a filesystem to its last byte. */
async function fill(path) {
  const file = await open(path, 'w');
  try {
    for (;;) await file.write(Buffer.alloc(4096));
  } catch (error) {
    if (error.code !== 'ENOSPC') throw error;
  } finally {
    await file.close();
  }
}

/**
 * The checkpoint store on a small tmpfs that fills up: full from the start (nothing may be sent)
 * or full after a kill (the resume may not finalize). Either way RWS_CHECKPOINT, no temporary
 * file left; with room again, the upload completes. Skipped where mount is impossible.
 */
async function runFullFilesystem(context) {
  const { record, rng, server, object, paths } = context;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', paths.folder], { stdio: 'ignore' });
  } catch {
    record.skipped = 'mount -t tmpfs failed (not root, or no mount in this container)';
    return;
  }
  try {
    const filler = join(paths.folder, 'filler');
    const fullAtStart = rng.next() < 0.5;
    record.variant = fullAtStart ? 'full from the start' : 'full after a kill';
    if (!fullAtStart) {
      const first = await runAttempt({ server, object, paths, resume: false, plan: earlyCheckpoint(server), timeoutMs: ATTEMPT_TIMEOUT_MS });
      tally(record, first);
      if (!first.killed) {
        record.completed = judgeEnd(record, first);
        return;
      }
    }
    const finalBefore = (await object.stored()).final;
    // A killed save's PATH.tmp holds a page the next save frees first (and then has room):
    // gone before the filling, the filesystem is full for every save.
    if (existsSync(`${paths.checkpoint}.tmp`)) {
      await unlink(`${paths.checkpoint}.tmp`);
      record.variant += ' (its PATH.tmp removed first)';
    }
    await fill(filler);
    const refused = await runAttempt({ server, object, paths, resume: !fullAtStart, plan: undefined, timeoutMs: ATTEMPT_TIMEOUT_MS });
    tally(record, refused);
    await expectRefused(context, refused, 'a full filesystem', finalBefore);
    if (fullAtStart && refused.uploads > 0) record.problems.push(`a full filesystem from the start: ${refused.uploads} requests with bytes were sent`);
    const names = (await readdir(paths.folder)).filter((name) => name.endsWith('.tmp'));
    if (names.length > 0) record.problems.push(`a full filesystem left ${names.join(', ')}`);
    if (fullAtStart && (await object.openUploads()).length > 0) record.problems.push('a full filesystem from the start left an upload open');
    await unlink(filler);
    record.completed = judgeEnd(record, await uploadUntilDone(context, { maxKills: 0, firstResume: !fullAtStart }));
    await checkObject(context);
  } finally {
    execFileSync('umount', ['-l', paths.folder], { stdio: 'ignore' });
  }
}

const RUNNERS = { crash: runCrash, 'corrupt-checkpoint': runCorruptCheckpoint, 'full-filesystem': runFullFilesystem };

/** One object, start to end, with every check; never throws for what the library does. */
export async function runObject(server, { seed, index, kind = kindOf(index), root, maxKills = 8, rotate = false }) {
  const ownSeed = objectSeed(seed, server.name, index);
  const rng = prng(ownSeed);
  const record = newRecord(server.name, index, ownSeed, kind);
  const folder = await mkdtemp(join(root, `${server.name}-${index}-`));
  const paths = { folder: join(folder, 'checkpoints'), input: join(folder, 'input.bin'), checkpoint: join(folder, 'checkpoints', 'upload.json') };
  await mkdir(paths.folder);
  try {
    const input = makeInput(rng, server.sizes, kind);
    record.size = input.length;
    await writeFile(paths.input, input);
    const object = await server.newObject();
    const context = { record, rng, server, object, paths, input, maxKills, rotate };
    await RUNNERS[kind](context);
    // The full-filesystem runner checks while its mount is still there.
    if (record.skipped === undefined && kind !== 'full-filesystem') await checkObject(context);
    await object.dispose?.();
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
  return record;
}

/**
 * Runs one protocol with `workers` concurrent object loops, each on its own servers, until
 * `kills` SIGKILLs were sent (or `minutes` or `maxObjects` ran out); with `objects`, exactly those
 * object indices. `maxKills` bounds the kills of one crash object (then it runs to its end);
 * `rotate` aims consecutive kills at consecutive moments. Resolves with every object's record.
 */
export async function runProtocol(name, { seed, kills = 300, minutes = 30, maxObjects = 2000, workers = 2, objects, maxKills, rotate, onRecord }) {
  const root = await mkdtemp(join(tmpdir(), `rws-crash-soak-${name}-`));
  const records = [];
  const deadline = Date.now() + minutes * 60_000;
  const queue = objects ? [...objects] : undefined;
  let nextIndex = 0;
  const totalKills = () => records.reduce((sum, record) => sum + record.kills, 0);
  const take = () => {
    if (queue) return queue.shift();
    if (totalKills() >= kills || Date.now() > deadline || nextIndex >= maxObjects) return undefined;
    return nextIndex++;
  };
  const worker = async () => {
    const server = await PROTOCOLS[name]();
    try {
      for (let index = take(); index !== undefined; index = take()) {
        const record = await runObject(server, { seed, index, root, maxKills, rotate });
        records.push(record);
        onRecord?.(record);
      }
    } finally {
      await server.close();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(workers, 2) }, worker));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return records.sort((a, b) => a.index - b.index);
}

/** The counts the report gives, per protocol and per moment. */
export function summarize(name, records) {
  const sum = (pick) => records.reduce((total, record) => total + pick(record), 0);
  const moments = {};
  for (const moment of [...MOMENTS, 'none']) {
    const of = records.map((record) => record.moments[moment]).filter(Boolean);
    moments[moment] = {
      attempts: of.reduce((total, m) => total + m.attempts, 0),
      kills: of.reduce((total, m) => total + m.kills, 0),
      inWindow: of.reduce((total, m) => total + m.inWindow, 0),
      outran: of.reduce((total, m) => total + m.outran, 0),
      serverActed: of.reduce((total, m) => total + m.serverActed, 0),
      objects: of.length,
      storedExactly: records.filter((record) => record.moments[moment] && record.storedExactly).length,
    };
  }
  const exitCodes = {};
  for (const record of records) for (const [exit, count] of Object.entries(record.exitCodes)) exitCodes[exit] = (exitCodes[exit] ?? 0) + count;
  const byKind = {};
  for (const record of records) {
    const kind = (byKind[record.kind] ??= { objects: 0, skipped: 0, storedExactly: 0, kills: 0, expectedFailures: {} });
    kind.objects++;
    if (record.skipped) kind.skipped++;
    if (record.storedExactly) kind.storedExactly++;
    kind.kills += record.kills;
    for (const failure of record.expectedFailures) kind.expectedFailures[failure.code] = (kind.expectedFailures[failure.code] ?? 0) + 1;
  }
  return {
    protocol: name,
    objects: records.length,
    skipped: records.filter((record) => record.skipped).length,
    attempts: sum((record) => record.attempts),
    kills: sum((record) => record.kills),
    killsInWindow: sum((record) => record.killsInWindow),
    storedExactly: records.filter((record) => record.storedExactly).length,
    typedFailures: sum((record) => record.typedFailures.length),
    expectedTypedFailures: sum((record) => record.expectedFailures.length),
    refusalsAfterFinal: records.filter((record) => record.finalizedBeforeRefusal).length,
    noCheckpointNeeded: records.filter((record) => record.noCheckpointNeeded).length,
    killedAfterFinish: records.filter((record) => record.killedAfterFinish).length,
    untypedCrashes: sum((record) => record.untypedCrashes),
    hangs: sum((record) => record.hangs),
    leftoverTemporaryFiles: sum((record) => record.leftoverTemporaryFiles),
    checkpointsLeft: records.filter((record) => record.checkpointLeft).length,
    orphanUploads: sum((record) => record.orphanUploads.length),
    orphanUploadsWithParts: sum((record) => record.orphanUploads.filter((upload) => upload.parts > 0).length),
    stagedWithoutCheckpoint: sum((record) => record.stagedWithoutCheckpoint),
    freshRestarts: sum((record) => record.freshRestarts),
    corrupted: sum((record) => record.corrupted),
    wronglyFinalized: sum((record) => record.wronglyFinalized),
    exitCodes,
    moments,
    byKind,
    problems: records.filter((record) => record.problems.length > 0).map((record) => ({ index: record.index, kind: record.kind, seed: record.seed, problems: record.problems })),
  };
}
