// The shaped-link benchmark: the loopback servers in one network namespace, each client run in
// another, over real kernel TCP shaped by ../shared/netlink/link.sh (rate, RTT; needs root). Never
// part of npm test. Every scenario runs once per round, in turn, so drift over the run spreads over
// all of them; each figure is the median of the rounds, also given as a ratio to the suite's
// reference scenario (link-suites.mjs). Ours checksums with CRC32C (its default).
//
// As root:
//   node bench/link.mjs [--suite sequential|parts] [--rtts 30,60] [--ccs bbr,cubic] [--size-mib 256]
//                       [--runs 3] [--queues 2,4,8] [--old PATH/TO/OLDER/dist] [--no-peer] [--no-azure]
//                       [--only KEY,…] [--link PATH/TO/link.sh] [--trace] [--results]
//
// `--suite`: `sequential` (default: GCS resumable against raw sequential PUTs) or `parts` (the
// parts protocols at each of `--queues` against 4 raw PUTs in flight and @aws-sdk/lib-storage).
// `--ccs`: the congestion control set in both namespaces, always with tcp_slow_start_after_idle=1
// (Linux's default: an idle connection's congestion window restarts). `--old`: an older build to
// compare side by side (both suites; parts: at queueSize 4). Writes bench/out/link-SUITE.md and prints it; `--results`
// also puts it in bench/RESULTS.md, between the suite's markers (which npm run bench keeps). The
// link is taken down at the end, even after a failure.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { partsSuite, sequentialSuite } from './link-suites.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const SUITE = option('--suite', 'sequential');
const RTTS = option('--rtts', '30,60').split(',').map(Number);
const CCS = option('--ccs', SUITE === 'parts' ? 'cubic' : 'bbr,cubic').split(',');
const SIZE_MIB = Number(option('--size-mib', '256'));
const RUNS = Number(option('--runs', '3'));
const OLD = option('--old', undefined);
const PEER = !args.includes('--no-peer');
const LINK = resolve(option('--link', join(here, '../../shared/netlink/link.sh')));
const RATE = '800mbit';
const HOST = '10.99.0.2';
/** Each server's port in the server namespace. */
const PORTS = { gcs: 8080, s3: 8081, azure: 8082 };
/** No run may take longer than this (256 MiB at 60 ms takes about 8 s). */
const RUN_TIMEOUT_S = 180;
const MiB = 1024 * 1024;

const suite =
  SUITE === 'parts'
    ? partsSuite({ peer: PEER, queues: option('--queues', '2,4,8').split(',').map(Number), azure: !args.includes('--no-azure'), old: OLD && resolve(OLD) })
    : sequentialSuite({ old: OLD && resolve(OLD), peer: PEER });
/** `--only key,…`: a subset of the suite's scenarios (the reference is always kept). */
const ONLY = option('--only', undefined)?.split(',');
/** `--trace`: each run's requests (sent, answered; ms from its clock's start) in bench/out/trace-*.json. */
const TRACE = args.includes('--trace');
async function saveTrace(name, result) {
  await mkdir(join(here, 'out'), { recursive: true });
  await writeFile(join(here, `out/trace-${name}.json`), JSON.stringify(result.trace));
  delete result.trace;
}
const scenarios = suite.scenarios.filter(({ key }) => !ONLY || key === suite.reference || ONLY.includes(key));

const link = (...rest) => execFileSync(LINK, rest, { encoding: 'utf8', timeout: 120_000 }).trim();
const inNamespace = (side, command) => execFileSync(LINK, [side, ...command], { encoding: 'utf8', timeout: 30_000 }).trim();

const ALLOWED = '/proc/sys/net/ipv4/tcp_allowed_congestion_control';
const allowedBefore = readFileSync(ALLOWED, 'utf8').trim();

/**
 * A namespace may only pick a congestion control from the host's allowed list (global, not per
 * namespace), which may lack cubic: it is added for the run and the list restored at the end.
 */
function setCongestionControl(cc) {
  const allowed = readFileSync(ALLOWED, 'utf8').trim().split(/\s+/);
  if (!allowed.includes(cc)) writeFileSync(ALLOWED, [...allowed, cc].join(' '));
  for (const side of ['client', 'server']) {
    inNamespace(side, ['sysctl', '-q', '-w', `net.ipv4.tcp_congestion_control=${cc}`, 'net.ipv4.tcp_slow_start_after_idle=1']);
  }
}

/** The command that runs server `name` in the server namespace; it prints {"url":…} once listening. */
function serverCommand(name) {
  if (name === 'azure') return [process.execPath, join(here, 'azurite.mjs'), JSON.stringify({ host: HOST, port: PORTS.azure })];
  return [process.execPath, join(here, 'server.mjs'), JSON.stringify({ host: HOST, port: PORTS[name], ...(name === 's3' ? { s3: true } : {}) })];
}

function startServer(name) {
  const child = spawn(LINK, ['server', ...serverCommand(name)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`the ${name} server did not start within 30 s`)), 30_000);
    child.stdout.once('data', (chunk) => {
      clearTimeout(timer);
      const { url } = JSON.parse(String(chunk));
      resolvePromise({ url, stop: () => new Promise((done) => { child.once('exit', done); child.kill('SIGTERM'); }) });
    });
  });
}

async function startServers() {
  const started = {};
  for (const name of suite.servers) started[name] = await startServer(name);
  return {
    urls: Object.fromEntries(Object.entries(started).map(([name, server]) => [name, server.url])),
    stop: () => Promise.all(Object.values(started).map((server) => server.stop())),
  };
}

function runClient(spec) {
  const argv = ['client', 'timeout', String(RUN_TIMEOUT_S), process.execPath, '--expose-gc', join(here, 'scenario.mjs'), JSON.stringify(spec)];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(LINK, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('exit', (code) => (code === 0 ? resolvePromise(JSON.parse(out.trim().split('\n').at(-1))) : reject(new Error(`scenario ${spec.kind} exited ${code}`))));
  });
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const sections = [];
const targets = [];
const mibpsOf = (results, key) => (results[key] ? median(results[key].map((result) => result.mibps)) : Number.NaN);

try {
  for (const rtt of RTTS) {
    console.log(link('up', String(rtt), RATE));
    for (const cc of CCS) {
      setCongestionControl(cc);
      const servers = await startServers();
      const results = Object.fromEntries(scenarios.map(({ key }) => [key, []]));
      try {
        for (let round = 0; round < RUNS; round++) {
          for (const { key, name, spec } of scenarios) {
            const result = await runClient({ ...spec, size: SIZE_MIB * MiB, server: servers.urls[spec.on ?? 'gcs'], servers: servers.urls, trace: TRACE });
            if (TRACE) await saveTrace(`${rtt}ms-${cc}-${key}-${round + 1}`, result);
            results[key].push(result);
            console.log(`${rtt} ms ${cc} round ${round + 1}: ${name}: ${result.mibps.toFixed(1)} MiB/s, ${result.cpuSecondsPerGiB.toFixed(2)} CPU s/GiB, ${result.connectionsOpened} connections`);
          }
        }
      } finally {
        await servers.stop();
      }
      sections.push(table(rtt, cc, results));
      targets.push(...suite.targetRows(`${rtt} ms, ${cc}`, (key) => mibpsOf(results, key)));
    }
  }
} finally {
  link('down');
  writeFileSync(ALLOWED, allowedBefore);
}

function table(rtt, cc, results) {
  const reference = mibpsOf(results, suite.reference);
  const rows = scenarios.map(({ key, name }) => {
    const mibps = mibpsOf(results, key);
    const cpu = median(results[key].map((result) => result.cpuSecondsPerGiB));
    const connections = [...new Set(results[key].map((result) => result.connectionsOpened))].join(', ');
    return `| ${name} | ${mibps.toFixed(1)} | ${(mibps / reference).toFixed(3)}× | ${cpu.toFixed(2)} | ${connections} | ${results[key].map((result) => result.mibps.toFixed(1)).join(', ')} |`;
  });
  return `### ${rtt} ms RTT, ${cc}, tcp_slow_start_after_idle=1\n\n| scenario | MiB/s (median) | ÷ ${suite.referenceName} | CPU s/GiB (median) | connections opened | every run (MiB/s) |\n|---|---|---|---|---|---|\n${rows.join('\n')}`;
}

const header = `## Shaped link (${SUITE} suite): ${RATE}, ${RTTS.join(' and ')} ms RTT, ${SIZE_MIB} MiB, median of ${RUNS}

Machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${os.platform()} ${os.release()}. Node ${process.version}. ${new Date().toISOString().slice(0, 10)}.
Command: \`node bench/link.mjs${args.length ? ` ${args.join(' ')}` : ''}\`, as root, after \`npm run build\`, \`npm --prefix bench ci\` and the packages ../shared/netlink/README.md lists (link: ${LINK}).

${suite.description}`;
const targetTable = `| target | measured | met |\n|---|---|---|\n${targets.map(([name, value, met]) => `| ${name} | ${value} | ${met ? 'yes' : '**no**'} |`).join('\n')}`;
const text = `${header}\n\n${targetTable}\n\n${sections.join('\n\n')}\n`;
await mkdir(join(here, 'out'), { recursive: true });
await writeFile(join(here, `out/link-${SUITE}.md`), text);
if (args.includes('--results')) await quoteInResults(text);
console.log(`\n${text}`);

/** Replaces the section between bench/RESULTS.md's markers of the suite (appends it the first time). */
async function quoteInResults(section) {
  const path = join(here, 'RESULTS.md');
  const marker = suite.marker;
  const marked = `<!-- ${marker} -->\n${section}<!-- /${marker} -->`;
  const previous = readFileSync(path, 'utf8');
  const escaped = marker.replace('.', '\\.');
  const markers = new RegExp(`<!-- ${escaped} -->[\\s\\S]*<!-- /${escaped} -->`);
  await writeFile(path, markers.test(previous) ? previous.replace(markers, () => marked) : `${previous.trimEnd()}\n\n${marked}\n`);
}
