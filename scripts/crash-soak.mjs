// npm run soak:crash -- [--kills 300] [--seed S] [--protocols gcs,tus,s3,gcs-multipart,azure] [--minutes 30] [--workers 2]
//                       [--objects 3,17] [--json FILE]
// Uploads objects through child processes, SIGKILLs them at seeded moments and resumes them from
// their checkpoint file until each upload completes (scripts/crash-soak/supervisor.mjs), until
// --kills kills per protocol (or --minutes per protocol) ran out. --objects runs only those object
// indices (to reproduce one: the seed and the index a failure prints). Prints the counts
// RELIABILITY.md gives; exits 1 if any object broke a rule. Not part of npm test.
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { PROTOCOLS } from './crash-soak/protocols.mjs';
import { runProtocol, summarize } from './crash-soak/supervisor.mjs';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '300' },
    seed: { type: 'string' },
    protocols: { type: 'string', default: Object.keys(PROTOCOLS).join(',') },
    minutes: { type: 'string', default: '30' },
    workers: { type: 'string', default: '2' },
    objects: { type: 'string' },
    json: { type: 'string' },
  },
});

function fail(message) {
  console.error(`crash soak: ${message}`);
  process.exit(2);
}

const kills = Number(values.kills);
const minutes = Number(values.minutes);
const workers = Number(values.workers);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const protocols = values.protocols.split(',');
const objects = values.objects?.split(',').map(Number);
if (!Number.isSafeInteger(kills) || kills < 1) fail('--kills expects a positive integer');
if (!(minutes > 0)) fail('--minutes expects a positive number');
if (!(workers === 1 || workers === 2)) fail('--workers expects 1 or 2 (the machine has two cores)');
if (!Number.isSafeInteger(seed) || seed < 0) fail('--seed expects a non-negative integer');
if (protocols.some((name) => !Object.hasOwn(PROTOCOLS, name))) fail(`--protocols expects a comma-separated list of ${Object.keys(PROTOCOLS).join(', ')}`);
if (objects?.some((index) => !Number.isSafeInteger(index) || index < 0)) fail('--objects expects comma-separated object indices');

console.log(`crash soak: seed ${seed}, ${objects ? `objects ${objects.join(',')}` : `${kills} kills`} per protocol, ${workers} workers`);
const summaries = [];
for (const name of protocols) {
  const started = Date.now();
  const records = await runProtocol(name, {
    seed,
    kills,
    minutes,
    workers,
    objects,
    onRecord(record) {
      const mark = record.problems.length > 0 ? 'FAIL' : record.skipped ? 'skip' : 'ok  ';
      console.log(`${mark} ${name} #${record.index} ${record.kind} ${record.size} B: ${record.attempts} processes, ${record.kills} kills${record.problems.length > 0 ? `: ${record.problems.join('; ')}` : ''}`);
    },
  });
  const summary = { ...summarize(name, records), seconds: Math.round((Date.now() - started) / 1000) };
  summaries.push(summary);
  console.log(report(summary, seed));
}
if (values.json) await writeFile(values.json, `${JSON.stringify({ seed, summaries }, null, 2)}\n`);
const broken = summaries.flatMap((summary) => summary.problems.map((problem) => ({ protocol: summary.protocol, ...problem })));
for (const problem of broken) {
  console.log(`FAIL ${problem.protocol} #${problem.index} (${problem.kind}): ${problem.problems.join('; ')}`);
  console.log(`  reproduce: npm run soak:crash -- --seed ${seed} --protocols ${problem.protocol} --objects ${problem.index}`);
}
process.exit(broken.length > 0 ? 1 : 0);

function report(summary, seed) {
  const rows = Object.entries(summary.moments)
    .filter(([, moment]) => moment.attempts > 0)
    .map(([name, m]) => `| ${name} | ${m.attempts} | ${m.kills} | ${m.inWindow}${name === 'final-request' ? ` (${m.serverActed} after the server acted)` : ''} | ${m.outran} | ${m.storedExactly}/${m.objects} |`);
  const kinds = Object.entries(summary.byKind).map(
    ([name, k]) => `| ${name} | ${k.objects} | ${k.skipped} | ${k.kills} | ${k.storedExactly} | ${Object.entries(k.expectedFailures).map(([code, n]) => `${code}×${n}`).join(' ') || '—'} |`,
  );
  return [
    `\n### ${summary.protocol} (seed ${seed}, ${summary.seconds} s)`,
    '',
    `objects ${summary.objects}, processes ${summary.attempts}, kills ${summary.kills} (in their window ${summary.killsInWindow}), stored exactly ${summary.storedExactly}, ` +
      `unexpected typed failures ${summary.typedFailures}, expected typed failures ${summary.expectedTypedFailures} (${summary.refusalsAfterFinal} resumes found the upload finished, ${summary.noCheckpointNeeded} single PutObjects needed no checkpoint), killed after finishing ${summary.killedAfterFinish}, untyped crashes ${summary.untypedCrashes}, hangs ${summary.hangs}, ` +
      `leftover temporary files ${summary.leftoverTemporaryFiles}, checkpoints left ${summary.checkpointsLeft}, orphan uploads ${summary.orphanUploads} (with parts ${summary.orphanUploadsWithParts}; fresh restarts ${summary.freshRestarts}; uploads with parts and no checkpoint after a kill ${summary.stagedWithoutCheckpoint}), ` +
      `corrupted objects ${summary.corrupted}, wrongly finalized ${summary.wronglyFinalized}, exits ${JSON.stringify(summary.exitCodes)}`,
    '',
    '| moment | processes | kills | kills in window | outran (ran to the end) | objects stored exactly |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    '| object kind | objects | skipped | kills | stored exactly | expected typed failures |',
    '|---|---|---|---|---|---|',
    ...kinds,
  ].join('\n');
}
