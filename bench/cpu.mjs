// CPU per byte on the loopback: the client's process.cpuUsage() (user + system) per GiB uploaded,
// as a ratio to the raw request of the same bytes measured in the same run (ratios, not absolute
// figures, are what this noisy 2-core machine can compare). Never part of npm test.
//
//   node bench/cpu.mjs [--size-mib 512] [--runs 3] [--chunks 8,16] [--protocols gcs,tus,s3]
//                      [--fresh] [--old PATH/TO/OLDER/dist] [--new PATH/TO/dist] [--streams 200] [--stream-mib 16]
//                      [--budget-mib M]
//                      [--results]
//
// The server runs in its own process (bench/server.mjs). Every scenario runs once per round, in
// turn, each in a fresh client process that warms up on 16 MiB first; figures are medians of the
// rounds. The source yields 64 KiB views of one pool (nothing allocated: what remains is the
// client's own work), or, with `--fresh`, new 64 KiB buffers as fs and zlib streams do. `--old`:
// an older build side by side ("ours before"). `--streams N`: also N concurrent streams of
// `--stream-mib` each through one dispatcher, against one stream of the same chunk size.
// Writes bench/out/cpu.md; `--results` also puts it between bench/RESULTS.md's cpu.mjs markers.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const SIZE_MIB = Number(option('--size-mib', '512'));
const RUNS = Number(option('--runs', '3'));
const CHUNKS = option('--chunks', '8,16').split(',').map(Number);
const PROTOCOLS = option('--protocols', 'gcs,tus,s3').split(',').filter((name) => ['gcs', 'tus', 's3'].includes(name)); // --protocols none: streams only
const OLD = option('--old', undefined);
// `--new`: the build measured as "ours" (default: this checkout's dist).
const NEW = option('--new', undefined);
const STREAMS = Number(option('--streams', '0'));
const STREAM_MIB = Number(option('--stream-mib', '16'));
const BUDGET_MIB = Number(option('--budget-mib', '0'));
const SOURCE = args.includes('--fresh') ? {} : { copy: false };
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

const KINDS = { gcs: { raw: 'raw', ours: 'stream', server: {} }, tus: { raw: 'tusRaw', ours: 'tus', server: { tus: true } }, s3: { raw: 's3raw', ours: 's3', server: { s3: true } } };
const RAW_NAMES = { gcs: 'raw undici PUT of every byte', tus: 'raw undici PATCH of every byte', s3: 'raw undici PutObject of every byte' };

function scenariosOf(protocol) {
  const { raw, ours } = KINDS[protocol];
  const builds = [...(OLD ? [['ours before', resolve(OLD)]] : []), ['ours', NEW && resolve(NEW)]];
  return [
    { key: 'raw', name: RAW_NAMES[protocol], spec: { kind: raw } },
    // tus's sequential ceiling: what a client that waits for each PATCH's answer can reach at best.
    ...(protocol === 'tus' ? CHUNKS.map((chunk) => ({ key: `ceiling/${chunk}`, name: `raw undici ${chunk} MiB PATCHes one after another, one connection (the sequential ceiling)`, spec: { kind: 'tusRawChunks', chunkSize: chunk * MiB } })) : []),
    ...CHUNKS.flatMap((chunk) =>
      [false, 'crc32c'].flatMap((checksum) =>
        builds.map(([label, dist]) => ({
          key: `${label}/${chunk}/${checksum}`,
          name: `${label}, ${chunk} MiB, ${checksum === false ? 'checksum: false' : 'CRC32C'}`,
          spec: { kind: ours, chunkSize: chunk * MiB, checksum, ...(dist ? { dist } : {}) },
        })),
      ),
    ),
  ];
}

function startServer(options) {
  const child = spawn(process.execPath, [join(here, 'server.mjs'), JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not start within 20 s')), 20_000);
    child.stdout.once('data', (chunk) => {
      clearTimeout(timer);
      const { url } = JSON.parse(String(chunk));
      resolvePromise({ url, stop: () => new Promise((done) => { child.once('exit', done); child.kill('SIGTERM'); }) });
    });
  });
}

function runClient(spec) {
  const child = spawn(process.execPath, ['--expose-gc', join(here, 'scenario.mjs'), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 });
  return new Promise((resolvePromise, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('exit', (code) => (code === 0 ? resolvePromise(JSON.parse(out.trim().split('\n').at(-1))) : reject(new Error(`scenario ${spec.kind} exited ${code}`))));
  });
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const cpuPerGiB = (result) => result.cpuMs / 1000 / (result.objectBytes / GiB);

/** Runs every scenario once per round against one server; each run's figures, by key. */
async function measure(serverOptions, scenarios, label) {
  const server = await startServer(serverOptions);
  const results = Object.fromEntries(scenarios.map(({ key }) => [key, []]));
  try {
    for (let round = 0; round < RUNS; round++) {
      for (const { key, name, spec } of scenarios) {
        const result = await runClient({ size: SIZE_MIB * MiB, ...SOURCE, ...spec, server: server.url });
        results[key].push(result);
        console.log(`${label} round ${round + 1}: ${name}: ${cpuPerGiB(result).toFixed(3)} s/GiB, ${result.mibps.toFixed(0)} MiB/s`);
      }
    }
  } finally {
    await server.stop();
  }
  return results;
}

function table(scenarios, results, baseKey, baseName) {
  const base = results[baseKey];
  const baseCpu = median(base.map(cpuPerGiB));
  const baseMibps = median(base.map((result) => result.mibps));
  const rows = scenarios.map(({ key, name }) => {
    const runs = results[key];
    const cpu = median(runs.map(cpuPerGiB));
    const mibps = median(runs.map((result) => result.mibps));
    const rss = median(runs.map((result) => result.rssGrowth / MiB));
    const connections = median(runs.map((result) => result.connectionsOpened));
    return `| ${name} | ${cpu.toFixed(3)} | ${(cpu / baseCpu).toFixed(2)}× | ${mibps.toFixed(0)} | ${(mibps / baseMibps).toFixed(2)}× | ${rss.toFixed(1)} | ${connections} | ${runs.map((result) => cpuPerGiB(result).toFixed(2)).join(', ')} |`;
  });
  return `| scenario | client CPU s per GiB (median) | ÷ ${baseName} | MiB/s | ÷ ${baseName} | peak RSS growth (MiB) | connections opened | every run (s per GiB) |\n|---|---|---|---|---|---|---|---|\n${rows.join('\n')}`;
}

const medianOf = (runs, figure) => median(runs.map(figure));
const targets = [];

/** The issue's targets, as ratios to the raw request of the same run. */
function targetRows(protocol, results) {
  const raw = results.raw;
  for (const chunk of CHUNKS) {
    for (const [checksum, cpuLimit, speedLimit] of [[false, 1.15, 0.9], ['crc32c', 1.4, 0.8]]) {
      const runs = results[`ours/${chunk}/${checksum}`];
      const cpu = medianOf(runs, cpuPerGiB) / medianOf(raw, cpuPerGiB);
      const speed = medianOf(runs, (result) => result.mibps) / medianOf(raw, (result) => result.mibps);
      const label = `${protocol}, ${chunk} MiB, ${checksum === false ? 'checksum: false' : 'CRC32C'}`;
      targets.push([`${label}: CPU per GiB ≤ ${cpuLimit}× raw`, `${cpu.toFixed(2)}×`, cpu <= cpuLimit]);
      if (protocol !== 's3') targets.push([`${label}: MiB/s ≥ ${speedLimit}× raw`, `${speed.toFixed(2)}×`, speed >= speedLimit]);
    }
  }
}

const sections = [];
for (const protocol of PROTOCOLS) {
  const scenarios = scenariosOf(protocol);
  const results = await measure(KINDS[protocol].server, scenarios, protocol);
  targetRows(protocol, results);
  sections.push(`### ${protocol}, ${SIZE_MIB} MiB\n\n${table(scenarios, results, 'raw', 'raw')}`);
}

if (STREAMS > 0) {
  const chunkSize = CHUNKS[0] * MiB;
  const builds = [...(OLD ? [['ours before', resolve(OLD)]] : []), ['ours', NEW && resolve(NEW)]];
  const scenarios = builds.flatMap(([label, dist]) => [
    { key: `${label}/one`, name: `${label}, one stream of ${SIZE_MIB} MiB`, spec: { kind: 'stream', chunkSize, ...(dist ? { dist } : {}) } },
    { key: `${label}/many`, name: `${label}, ${STREAMS} concurrent streams × ${STREAM_MIB} MiB`, spec: { kind: 'many', chunkSize, concurrency: STREAMS, size: STREAM_MIB * MiB, ...(BUDGET_MIB ? { budget: BUDGET_MIB * MiB } : {}), ...(dist ? { dist } : {}) } },
  ]);
  const results = await measure({}, scenarios, 'streams');
  const oneKey = 'ours/one';
  const ratio = medianOf(results['ours/many'], cpuPerGiB) / medianOf(results[oneKey], cpuPerGiB);
  targets.push([`${STREAMS} concurrent streams: CPU per GiB ≤ 1.2× one stream's`, `${ratio.toFixed(2)}×`, ratio <= 1.2]);
  sections.push(`### ${STREAMS} concurrent streams, ${CHUNKS[0]} MiB chunks, CRC32C, one dispatcher (Agent with ${STREAMS} connections)${BUDGET_MIB ? `, createMemoryBudget(${BUDGET_MIB} MiB)` : ', no memory budget'}\n\n${table(scenarios, results, oneKey, 'ours, one stream')}`);
}

const header = `## CPU per byte (bench/cpu.mjs): client CPU per GiB against the raw request, median of ${RUNS}

Machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${os.platform()} ${os.release()}. Node ${process.version}. ${new Date().toISOString().slice(0, 10)}.
Command: \`node bench/cpu.mjs${args.length ? ` ${args.join(' ')}` : ''}\` after \`npm run build\`.

Client CPU is the client process's \`process.cpuUsage()\` (user + system) over the timed run, after a 16 MiB warm-up; the server (the loopback GCS server, @tus/server over a store that keeps no bytes, the loopback S3 server) runs in its own process and shares the two cores. Source: ${SOURCE.copy === false ? '64 KiB views of one pool (nothing allocated)' : 'fresh 64 KiB buffers'}. The raw rows send every byte in one request straight through undici: no stream, no checksum, nothing retained. *Connections opened*: TCP connections the client process opened, its warm-up and session creation included.${OLD ? ' *Ours before*: the build given by `--old`.' : ''}`;
const targetTable = `| target | measured (ratio of medians) | met |\n|---|---|---|\n${targets.map(([name, value, met]) => `| ${name} | ${value} | ${met ? 'yes' : '**no**'} |`).join('\n')}`;
const text = `${header}\n\n${targetTable}\n\n${sections.join('\n\n')}\n`;
await mkdir(join(here, 'out'), { recursive: true });
await writeFile(join(here, 'out/cpu.md'), text);
if (args.includes('--results')) await quoteInResults(text);
console.log(`\n${text}`);

/** Replaces the section between bench/RESULTS.md's cpu.mjs markers (appends it the first time). */
async function quoteInResults(section) {
  const path = join(here, 'RESULTS.md');
  const marked = `<!-- cpu.mjs -->\n${section}<!-- /cpu.mjs -->`;
  const previous = readFileSync(path, 'utf8');
  const markers = /<!-- cpu\.mjs -->[\s\S]*<!-- \/cpu\.mjs -->/;
  await writeFile(path, markers.test(previous) ? previous.replace(markers, () => marked) : `${previous.trimEnd()}\n\n${marked}\n`);
}
