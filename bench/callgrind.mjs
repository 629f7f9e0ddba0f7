// Instruction counts per byte under valgrind's callgrind: repeatable on a machine where CPU time
// varies ±30 % with the neighbours' load. Each scenario runs twice in a client under valgrind
// (`--small-mib` and `--large-mib`, after a 2 MiB warm-up), the server in its own process outside
// it; the difference of the two totals divided by the difference of the sizes is the cost of one
// more byte, with start-up, JIT warm-up and session creation cancelled out. Counts cover user space
// only (every thread of the process: JIT compilers and GC helpers too), not the kernel's share of
// socket writes. Never part of npm test.
//
//   node bench/callgrind.mjs [--small-mib 16] [--large-mib 48] [--chunk-mib 8] [--fresh]
//                            [--old PATH/TO/OLDER/dist] [--new PATH/TO/dist] [--only raw,false,crc32c]
//                            [--protocol gcs|s3|tus] [--s3-verify] [--results]
//
// Writes bench/out/callgrind.md (and keeps the larger runs' callgrind files in bench/out/ for
// callgrind_annotate); `--results` also puts it between bench/RESULTS.md's callgrind.mjs markers.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const SMALL_MIB = Number(option('--small-mib', '16'));
const LARGE_MIB = Number(option('--large-mib', '48'));
const CHUNK = Number(option('--chunk-mib', '8')) * 1024 * 1024;
const OLD = option('--old', undefined);
// `--new`: the build measured as "ours" (default: this checkout's dist).
const NEW = option('--new', undefined);
const ONLY = option('--only', undefined)?.split(',');
// `--protocol s3`: the parts driver against the loopback S3 server (raw: one signed PutObject);
// `--protocol tus`: tus PATCHes to @tus/server over a store that keeps nothing (raw: one PATCH).
const PROTOCOL = option('--protocol', 'gcs');
const S3 = PROTOCOL === 's3';
const TUS = PROTOCOL === 'tus';
// `--s3-verify`: the S3 server checks and echoes x-amz-checksum-crc32c, so parts carry no Content-MD5 fallback.
const S3_SERVER = JSON.stringify({ s3: true, verifyDigests: args.includes('--s3-verify') });
const SOURCE = args.includes('--fresh') ? {} : { copy: false };
const MiB = 1024 * 1024;
const out = join(here, 'out');

const builds = [...(OLD ? [['ours before', resolve(OLD)]] : []), ['ours', NEW && resolve(NEW)]];
const scenarios = [
  { key: 'raw', name: `raw undici ${TUS ? 'PATCH' : 'PUT'} of every byte`, spec: { kind: S3 ? 's3raw' : TUS ? 'tusRaw' : 'raw' } },
  ...[false, 'crc32c'].flatMap((checksum) =>
    builds.map(([label, dist]) => ({
      key: String(checksum),
      name: `${label}${S3 || TUS ? `, ${PROTOCOL}` : ''}, ${CHUNK / MiB} MiB, ${checksum === false ? 'checksum: false' : 'CRC32C'}`,
      spec: { kind: S3 ? 's3' : TUS ? 'tus' : 'stream', chunkSize: CHUNK, checksum, ...(dist ? { dist } : {}) },
    })),
  ),
].filter(({ key }) => !ONLY || ONLY.includes(key));

function startServer() {
  const child = spawn(process.execPath, [join(here, 'server.mjs'), S3 ? S3_SERVER : TUS ? '{"tus":true}' : '{}'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolvePromise) => {
    child.stdout.once('data', (chunk) => {
      resolvePromise({ url: JSON.parse(String(chunk)).url, stop: () => new Promise((done) => { child.once('exit', done); child.kill('SIGTERM'); }) });
    });
  });
}

/** Total instructions of one client run under callgrind. */
function instructions(spec, file) {
  // V8 rewrites the code it generated: valgrind must watch every page for self-modifying code.
  const argv = ['--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${file}`, process.execPath, '--expose-gc', join(here, 'scenario.mjs'), JSON.stringify(spec)];
  const { stderr, status } = spawnSync('valgrind', argv, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], timeout: 1_800_000 });
  if (status !== 0) throw new Error(`valgrind exited ${status}:\n${stderr.slice(-2000)}`);
  const match = /Collected : (\d+)/.exec(stderr);
  if (!match) throw new Error(`no instruction count in valgrind's output:\n${stderr.slice(-2000)}`);
  return Number(match[1]);
}

await mkdir(out, { recursive: true });
const server = await startServer();
const rows = [];
try {
  for (const { name, spec, key } of scenarios) {
    const base = { ...SOURCE, ...spec, server: server.url, warmupMib: 2 };
    const tag = `${S3 || TUS ? `${PROTOCOL}-` : ''}${key}${spec.dist && spec.dist !== (NEW && resolve(NEW)) ? '-old' : ''}${SOURCE.copy === false ? '' : '-fresh'}`;
    const small = instructions({ ...base, size: SMALL_MIB * MiB }, join(out, `callgrind.${tag}.small.out`));
    const large = instructions({ ...base, size: LARGE_MIB * MiB }, join(out, `callgrind.${tag}.large.out`));
    const perByte = (large - small) / ((LARGE_MIB - SMALL_MIB) * MiB);
    rows.push({ name, small, large, perByte });
    console.log(`${name}: ${small} / ${large} instructions, ${perByte.toFixed(3)} per byte`);
  }
} finally {
  await server.stop();
}

const raw = rows.find((row) => row.name.startsWith('raw'))?.perByte;
const table = rows.map(({ name, small, large, perByte }) =>
  `| ${name} | ${(small / 1e9).toFixed(3)} | ${(large / 1e9).toFixed(3)} | ${perByte.toFixed(3)} | ${(perByte * 1024 ** 3 / 1e9).toFixed(2)} | ${raw ? `${(perByte / raw).toFixed(2)}×` : '—'} |`);
const text = `## Instructions per byte (bench/callgrind.mjs)

Machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${os.platform()} ${os.release()}. Node ${process.version}. ${execFileSync('valgrind', ['--version'], { encoding: 'utf8' }).trim()}. ${new Date().toISOString().slice(0, 10)}.
Command: \`node bench/callgrind.mjs${args.length ? ` ${args.join(' ')}` : ''}\` after \`npm run build\`.

Each row: two client runs under \`valgrind --tool=callgrind --smc-check=all-non-file\` (${SMALL_MIB} and ${LARGE_MIB} MiB, after a 2 MiB warm-up, to the loopback ${S3 ? 'S3' : TUS ? 'tus (@tus/server)' : 'GCS'} server in its own process); *per byte* is the difference of their totals over the difference of their sizes. User-space instructions of every thread of the client; the kernel's socket copies are not counted. Source: ${SOURCE.copy === false ? '64 KiB views of one pool' : 'fresh 64 KiB buffers'}.

| scenario | instructions, ${SMALL_MIB} MiB (10⁹) | ${LARGE_MIB} MiB (10⁹) | per byte | per GiB (10⁹) | ÷ raw |
|---|---|---|---|---|---|
${table.join('\n')}
`;
await writeFile(join(out, S3 || TUS ? `callgrind-${PROTOCOL}.md` : 'callgrind.md'), text);
if (args.includes('--results')) {
  const path = join(here, 'RESULTS.md');
  const marked = `<!-- callgrind.mjs -->\n${text}<!-- /callgrind.mjs -->`;
  const previous = readFileSync(path, 'utf8');
  const markers = /<!-- callgrind\.mjs -->[\s\S]*<!-- \/callgrind\.mjs -->/;
  await writeFile(path, markers.test(previous) ? previous.replace(markers, () => marked) : `${previous.trimEnd()}\n\n${marked}\n`);
}
console.log(`\n${text}`);
