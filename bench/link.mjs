// The shaped-link benchmark: the loopback server in one network namespace, each client run in
// another, over real kernel TCP shaped by ../shared/netlink/link.sh (rate, RTT; needs root). Never
// part of npm test. Every scenario runs once per round, in turn, so drift over the run spreads over
// all of them; each figure is the median of the rounds, also given as a ratio to the sequential
// ceiling (raw 16 MiB PUTs one after another on one keep-alive connection). Ours checksums with
// CRC32C (its default).
//
// As root:
//   node bench/link.mjs [--rtts 30,60] [--ccs bbr,cubic] [--size-mib 256] [--runs 3]
//                       [--old PATH/TO/OLDER/dist] [--no-peer] [--link PATH/TO/link.sh] [--results]
//
// `--ccs`: the congestion control set in both namespaces, always with tcp_slow_start_after_idle=1
// (Linux's default: an idle connection's congestion window restarts). `--old`: an older build to
// compare side by side. Writes bench/out/link.md and prints it; `--results` also puts it in
// bench/RESULTS.md, between the link.mjs markers (which npm run bench keeps). The link is taken
// down at the end, even after a failure.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const RTTS = option('--rtts', '30,60').split(',').map(Number);
const CCS = option('--ccs', 'bbr,cubic').split(',');
const SIZE_MIB = Number(option('--size-mib', '256'));
const RUNS = Number(option('--runs', '3'));
const OLD = option('--old', undefined);
const PEER = !args.includes('--no-peer');
const LINK = resolve(option('--link', join(here, '../../shared/netlink/link.sh')));
const RATE = '800mbit';
const SERVER = { host: '10.99.0.2', port: 8080 };
/** No run may take longer than this (256 MiB at 60 ms takes about 8 s). */
const RUN_TIMEOUT_S = 180;
const MiB = 1024 * 1024;

// Two sources: fresh 64 KiB buffers (as fs and zlib streams hand them over; what a client keeps of
// them costs it garbage collection) and views of one pool (the data ready, nothing allocated: the
// source the ceiling uses, so what remains is the client's own cost).
const fresh = {};
const views = { copy: false };
const scenarios = [
  { name: 'raw 16 MiB PUTs one after another, one connection (the sequential ceiling), source of views', key: 'ceiling', spec: { kind: 'rawChunks', chunkSize: 16 * MiB, ...views } },
  { name: 'raw 16 MiB PUTs one after another, one connection, fresh buffers', key: 'rawFresh', spec: { kind: 'rawChunks', chunkSize: 16 * MiB, ...fresh } },
  ...[16, 64].flatMap((chunk) => [
    ...(OLD ? [{ name: `ours before, ${chunk} MiB, fresh buffers`, key: `old${chunk}`, spec: { kind: 'stream', chunkSize: chunk * MiB, dist: resolve(OLD), ...fresh } }] : []),
    { name: `ours, ${chunk} MiB, fresh buffers`, key: `new${chunk}`, spec: { kind: 'stream', chunkSize: chunk * MiB, ...fresh } },
    ...(OLD ? [{ name: `ours before, ${chunk} MiB, source of views`, key: `old${chunk}v`, spec: { kind: 'stream', chunkSize: chunk * MiB, dist: resolve(OLD), ...views } }] : []),
    { name: `ours, ${chunk} MiB, source of views`, key: `new${chunk}v`, spec: { kind: 'stream', chunkSize: chunk * MiB, ...views } },
  ]),
  ...(PEER ? [{ name: '@google-cloud/storage 16 MiB (validation: false), fresh buffers', key: 'gcs16', spec: { kind: 'gcs', chunkSize: 16 * MiB, validation: false, ...fresh } }] : []),
];

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

function startServer() {
  const child = spawn(LINK, ['server', process.execPath, join(here, 'server.mjs'), JSON.stringify(SERVER)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error('the link server did not start within 20 s')), 20_000);
    child.stdout.once('data', (chunk) => {
      clearTimeout(timer);
      const { url } = JSON.parse(String(chunk));
      resolvePromise({ url, stop: () => new Promise((done) => { child.once('exit', done); child.kill('SIGTERM'); }) });
    });
  });
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
const mibpsOf = (results, key) => median(results[key].map((result) => result.mibps));

try {
  for (const rtt of RTTS) {
    console.log(link('up', String(rtt), RATE));
    for (const cc of CCS) {
      setCongestionControl(cc);
      const server = await startServer();
      const results = Object.fromEntries(scenarios.map(({ key }) => [key, []]));
      try {
        for (let round = 0; round < RUNS; round++) {
          for (const { key, name, spec } of scenarios) {
            const result = await runClient({ ...spec, size: SIZE_MIB * MiB, server: server.url });
            results[key].push(result);
            console.log(`${rtt} ms ${cc} round ${round + 1}: ${name}: ${result.mibps.toFixed(1)} MiB/s, ${result.connectionsOpened} connections`);
          }
        }
      } finally {
        await server.stop();
      }
      sections.push(table(rtt, cc, results));
      targets.push(...targetRows(rtt, cc, results));
    }
  }
} finally {
  link('down');
  writeFileSync(ALLOWED, allowedBefore);
}

/** The issue's targets: ours ≥ 0.98× the sequential ceiling at 16 and 64 MiB, and ≥ the peer. */
function targetRows(rtt, cc, results) {
  const ceiling = mibpsOf(results, 'ceiling');
  const rows = [];
  for (const chunk of [16, 64]) {
    for (const [source, suffix] of [['fresh buffers', ''], ['source of views', 'v']]) {
      const ratio = mibpsOf(results, `new${chunk}${suffix}`) / ceiling;
      rows.push([`${rtt} ms, ${cc}: ours ${chunk} MiB (${source}) ≥ 0.98× the ceiling`, `${ratio.toFixed(3)}×`, ratio >= 0.98]);
    }
  }
  if (PEER) {
    const ratio = mibpsOf(results, 'new16') / mibpsOf(results, 'gcs16');
    rows.push([`${rtt} ms, ${cc}: ours 16 MiB ≥ @google-cloud/storage 16 MiB (both fresh buffers)`, `${ratio.toFixed(3)}×`, ratio >= 1]);
  }
  return rows;
}

function table(rtt, cc, results) {
  const ceiling = mibpsOf(results, 'ceiling');
  const rows = scenarios.map(({ key, name }) => {
    const mibps = mibpsOf(results, key);
    const connections = [...new Set(results[key].map((result) => result.connectionsOpened))].join(', ');
    return `| ${name} | ${mibps.toFixed(1)} | ${(mibps / ceiling).toFixed(3)}× | ${connections} | ${results[key].map((result) => result.mibps.toFixed(1)).join(', ')} |`;
  });
  return `### ${rtt} ms RTT, ${cc}, tcp_slow_start_after_idle=1\n\n| scenario | MiB/s (median) | ÷ ceiling | connections opened | every run (MiB/s) |\n|---|---|---|---|---|\n${rows.join('\n')}`;
}

const header = `## Shaped link: ${RATE}, ${RTTS.join(' and ')} ms RTT, ${SIZE_MIB} MiB, median of ${RUNS}

Machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${os.platform()} ${os.release()}. Node ${process.version}. ${new Date().toISOString().slice(0, 10)}.
Command: \`node bench/link.mjs${args.length ? ` ${args.join(' ')}` : ''}\`, as root, after \`npm run build\`, \`npm --prefix bench ci\` and the packages ../shared/netlink/README.md lists (link: ${LINK}).

Server (the loopback GCS server, \`storeObjects: false, digests: false\`) and client in two network namespaces joined by a veth pair, shaped by tc tbf and a userspace delay line (real kernel TCP); congestion control set in both, with \`tcp_slow_start_after_idle=1\`. Every scenario runs once per round, in turn; each run is a fresh client process that warms up on 16 MiB first. *The sequential ceiling*: raw 16 MiB PUTs one after another on one keep-alive connection, from a source of views (nothing allocated). *Fresh buffers*: the source yields new 64 KiB buffers, as fs and zlib streams do; *source of views*: views of one pool. *connections opened*: TCP connections the client process opened, its warm-up (and its session creation) included; the raw PUTs go through one undici \`Client\`. *Ours before*: the build of the library before the connection fix.`;
const targetTable = `| target | measured | met |\n|---|---|---|\n${targets.map(([name, value, met]) => `| ${name} | ${value} | ${met ? 'yes' : '**no**'} |`).join('\n')}`;
const text = `${header}\n\n${targetTable}\n\n${sections.join('\n\n')}\n`;
await mkdir(join(here, 'out'), { recursive: true });
await writeFile(join(here, 'out/link.md'), text);
if (args.includes('--results')) await quoteInResults(text);
console.log(`\n${text}`);

/** Replaces the section between bench/RESULTS.md's link.mjs markers (appends it the first time). */
async function quoteInResults(section) {
  const path = join(here, 'RESULTS.md');
  const marked = `<!-- link.mjs -->\n${section}<!-- /link.mjs -->`;
  const previous = readFileSync(path, 'utf8');
  const markers = /<!-- link\.mjs -->[\s\S]*<!-- \/link\.mjs -->/;
  await writeFile(path, markers.test(previous) ? previous.replace(markers, () => marked) : `${previous.trimEnd()}\n\n${marked}\n`);
}
