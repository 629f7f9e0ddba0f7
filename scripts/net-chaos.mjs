// npm run soak:net -- [--scenario all|NAME,NAME] [--runs 1] [--seconds 3600] [--protocols gcs,tus,s3,gcs-multipart,azure]
//                     [--seed S] [--json FILE] [--report FILE]
// Real uploads across a shaped link between two network namespaces, under each scenario of
// scripts/net-chaos/scenarios.mjs (loss, reordering, duplication, corruption, flaps, blackhole,
// server restart, name resolution); every run must end stored exactly or in a typed error, never
// hung. --runs runs per scenario; --seconds bounds the whole suite (no run starts after it).
// --json appends every run's record to FILE; --report FILE only prints the tables of such a file.
// Needs root (namespaces, iptables) and the packages link.sh names: skips (exit 0) without them.
// Exits 1 if any run ended unexpectedly (a hang, a wrong object, an untyped error, a leak).
import { execFileSync } from 'node:child_process';
import { appendFile, readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { report } from './net-chaos/report.mjs';
import { LINK, runScenario, startSuite, stopSuite } from './net-chaos/runner.mjs';
import { PORTS } from './net-chaos/link.mjs';
import { SCENARIOS } from './net-chaos/scenarios.mjs';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'all' },
    runs: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '3600' },
    protocols: { type: 'string', default: 'gcs,tus,s3,gcs-multipart,azure' },
    seed: { type: 'string' },
    json: { type: 'string' },
    report: { type: 'string' },
  },
});

function fail(message) {
  console.error(`net chaos: ${message}`);
  process.exit(2);
}

if (values.report) {
  const records = (await readFile(values.report, 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
  console.log(report(records));
  process.exit(0);
}

const runs = Number(values.runs);
const seconds = Number(values.seconds);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const protocols = values.protocols.split(',');
const names = values.scenario === 'all' ? SCENARIOS.map((scenario) => scenario.name) : values.scenario.split(',');
const unknown = names.filter((name) => !SCENARIOS.some((scenario) => scenario.name === name));
if (!Number.isSafeInteger(runs) || runs < 1 || runs > 50) fail('--runs expects an integer from 1 to 50');
if (!(seconds > 0)) fail('--seconds expects a positive number');
if (!Number.isSafeInteger(seed) || seed < 0) fail('--seed expects a non-negative integer');
if (protocols.some((name) => !Object.keys(PORTS).includes(name))) fail(`--protocols expects a comma-separated list of ${Object.keys(PORTS).join(', ')}`);
if (unknown.length > 0) fail(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((scenario) => scenario.name).join(', ')}`);

const missing = ['ip', 'iptables-legacy', 'tc', 'ethtool', 'nstat', 'cc'].filter((tool) => {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return false;
  } catch {
    return true;
  }
});
if (process.getuid?.() !== 0 || missing.length > 0) {
  console.log(`net chaos: skipped: ${process.getuid?.() !== 0 ? 'needs root (network namespaces, iptables)' : `missing ${missing.join(', ')}`} — see scripts/net-chaos/README.md`);
  process.exit(0);
}

console.log(`net chaos: seed ${seed}, link ${LINK.rttMs} ms RTT at ${LINK.rate}, ${runs} run(s) of ${names.join(', ')}, at most ${seconds} s`);
const deadline = Date.now() + seconds * 1000;
const suite = await startSuite(protocols).catch(async (error) => {
  await stopSuite({ servers: {}, directory: undefined });
  throw error;
});
const records = [];
const stop = () => stopSuite(suite).finally(() => process.exit(130));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
try {
  outer: for (const name of names) {
    const scenario = SCENARIOS.find((entry) => entry.name === name);
    for (let run = 0; run < runs; run++) {
      const applicable = protocols.filter((protocol) => !scenario.only || scenario.only.includes(protocol));
      const groups = scenario.together ? [applicable] : applicable.map((protocol) => [protocol]);
      for (const group of groups) {
        if (Date.now() > deadline) break outer;
        const done = await runScenario(suite, scenario, group, run, seed + records.length * 10);
        for (const record of done) {
          records.push(record);
          console.log(`${record.expected && !record.leaked ? 'ok  ' : 'FAIL'} ${record.scenario} ${record.protocol} #${run}: ${record.outcome}${record.code ? ` ${record.code}` : ''} in ${record.seconds.toFixed(1)} s` +
            `${record.recoverSeconds !== undefined ? `, recovered ${record.recoverSeconds.toFixed(1)} s after the fault` : ''}${record.retries ? `, ${record.retries} retries` : ''}${record.triggered === false && scenario.fault ? ' (fault not triggered)' : ''}` +
            `${record.expected ? '' : ` — ${record.message ?? record.exit}`}`);
          if (values.json) await appendFile(values.json, `${JSON.stringify({ seed, ...record })}\n`);
        }
      }
    }
  }
} finally {
  await stopSuite(suite);
}
console.log(report(records));
process.exit(records.some((record) => !record.expected || record.leaked) ? 1 : 0);
