// The net-chaos runner: real uploads from the client namespace to the servers in the server
// namespace across the shaped link, one scenario at a time (scenarios.mjs), each run checked
// against what the server stored. See README.md beside this file.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLIENT_NS, PORTS, SERVER_HOST, killClients, link, runClient, startServer, tcpChecksumErrors } from './link.mjs';

const MiB = 1024 * 1024;
/** Object size and request size per protocol (S3, GCS XML multipart: 5 MiB parts, the smallest they take). */
const SHAPES = {
  gcs: { size: 12 * MiB, chunkSize: 2 * MiB },
  tus: { size: 12 * MiB, chunkSize: 2 * MiB },
  s3: { size: 16 * MiB, chunkSize: 5 * MiB },
  'gcs-multipart': { size: 16 * MiB, chunkSize: 5 * MiB },
  azure: { size: 12 * MiB, chunkSize: 2 * MiB },
};
/** Parts protocols whose parts have a 5 MiB minimum: objects of at least two parts, even scaled down. */
const FIVE_MIB_PARTS = new Set(['s3', 'gcs-multipart']);
export const LINK = { rttMs: 20, rate: '50mbit' };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Server events of the current run, and the triggers scenarios wait for. */
class RunEvents {
  constructor(protocols) {
    this.protocols = protocols;
    this.counts = Object.fromEntries(protocols.map((name) => [name, { chunk: 0, final: 0, query: 0 }]));
    this.waiters = new Set();
    this.finished = false;
  }
  push(protocol, event) {
    if (!this.counts[protocol]) return;
    this.counts[protocol][event.event]++;
    for (const waiter of this.waiters) waiter();
  }
  reached(trigger) {
    if (trigger === 'mid-chunk') return this.protocols.every((name) => this.counts[name].chunk >= 2);
    return this.protocols.some((name) => this.counts[name][trigger] > 0);
  }
  /** True once `trigger` happened; false if every upload ended first. */
  when(trigger) {
    return new Promise((resolve) => {
      const check = () => {
        if (this.reached(trigger)) resolve(true);
        else if (this.finished) resolve(false);
        else return;
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }
  finish() {
    this.finished = true;
    for (const waiter of this.waiters) waiter();
  }
}

export async function startSuite(protocols = Object.keys(PORTS)) {
  await link('up', LINK.rttMs, LINK.rate);
  await link('name', SERVER_HOST, 'on');
  const directory = await mkdtemp(join(tmpdir(), 'rws-net-chaos-'));
  const suite = { directory, servers: {}, current: undefined, counter: 0 };
  const onEvent = (protocol, event) => suite.current?.push(protocol, event);
  for (const protocol of protocols) {
    suite.servers[protocol] = await startServer(protocol, join(directory, protocol), onEvent);
  }
  return suite;
}

export async function stopSuite(suite) {
  killClients();
  for (const server of Object.values(suite.servers)) await server.stop().catch(() => {});
  await link('down').catch(() => {});
  if (suite.directory) await rm(suite.directory, { recursive: true, force: true });
}

async function jobFor(suite, protocol, scale, seed) {
  const origin = `http://${SERVER_HOST}:${PORTS[protocol]}`;
  const shape = SHAPES[protocol];
  const size = Math.max(FIVE_MIB_PARTS.has(protocol) ? 8 * MiB : MiB, Math.round(shape.size * scale));
  const base = { protocol, size, seed, chunkSize: shape.chunkSize };
  if (protocol === 'gcs') {
    const { uri } = await suite.servers.gcs.ask('session');
    const url = new URL(uri);
    return { job: { ...base, url: `${origin}${url.pathname}${url.search}` }, lookup: { uri } };
  }
  if (protocol === 'tus') return { job: { ...base, endpoint: `${origin}/files` }, lookup: undefined };
  if (protocol === 'gcs-multipart') {
    const name = `chaos/object-${++suite.counter}`;
    const { token } = await suite.servers[protocol].ask('credentials');
    return { job: { ...base, endpoint: origin, name, token }, lookup: { name } };
  }
  if (protocol === 'azure') {
    const blob = `object-${++suite.counter}`;
    const { account, accountKey } = await suite.servers.azure.ask('credentials');
    return { job: { ...base, url: `${origin}/${account}/chaos/${blob}`, accountKey }, lookup: { blob } };
  }
  const key = `chaos/object-${++suite.counter}`;
  const { accessKeyId, secretAccessKey } = await suite.servers.s3.ask('credentials');
  return { job: { ...base, endpoint: origin, key }, lookup: { key }, env: { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } };
}

async function restoreLink(scenario, ctx) {
  await scenario.teardown?.(ctx);
  await link('flap', 'up');
  await link('blackhole', 'off');
  await link('reset', 'off');
  await link('name', SERVER_HOST, 'on');
}

/** The chaos queue's last counter line (it prints one when stopped). */
async function chaosCounters() {
  const log = await readFile(join(process.env.NF_STATE ?? `/tmp/rws-net-chaos-${CLIENT_NS}`, 'chaosq.log'), 'utf8').catch(() => '');
  const line = log.trim().split('\n').filter((entry) => entry.includes('packets')).pop() ?? '';
  return { corruptedPackets: Number(/corrupted (\d+)/.exec(line)?.[1] ?? 0), heldPackets: Number(/held (\d+)/.exec(line)?.[1] ?? 0) };
}

/** One run of a scenario: its protocols upload at once; the fault runs beside them. */
export async function runScenario(suite, scenario, protocols, runIndex, seed) {
  const events = new RunEvents(protocols);
  const ctx = {
    link,
    host: SERVER_HOST,
    when: (trigger) => events.when(trigger),
    restartServer: async (downMs) => {
      const server = suite.servers[protocols[0]];
      await server.stop();
      await sleep(downMs);
      await server.restart();
    },
  };
  const jobs = await Promise.all(protocols.map((protocol, i) => jobFor(suite, protocol, scenario.scale ?? 1, seed + i)));
  if (scenario.unresolved) await link('name', SERVER_HOST, 'off');
  await scenario.setup?.(ctx);
  const checksumErrorsBefore = scenario.corrupt ? await tcpChecksumErrors() : 0;
  suite.current = events;
  const started = Date.now();
  const clients = Promise.all(jobs.map(({ job, env }) => runClient(job, env ?? {}, scenario.capSeconds * 1000)));
  const fault = (scenario.fault?.(ctx) ?? Promise.resolve(undefined)).catch((error) => ({ error: String(error) }));
  const results = await clients;
  events.finish();
  const window = await fault;
  suite.current = undefined;
  const counters = scenario.corrupt ? { tcpChecksumDrops: (await tcpChecksumErrors()) - checksumErrorsBefore } : {};
  await restoreLink(scenario, ctx);
  if (scenario.corrupt || scenario.name.startsWith('reorder')) Object.assign(counters, await chaosCounters());
  const records = [];
  for (const [i, protocol] of protocols.entries()) {
    const stored = await storedObject(suite, protocol, jobs[i], results[i]);
    records.push(classify({ scenario, protocol, runIndex, started, window, result: results[i], job: jobs[i].job, stored, counters, triggered: window !== undefined }));
  }
  return records;
}

async function storedObject(suite, protocol, { lookup }, result) {
  const url = result.events.find((event) => event.ev === 'url')?.url;
  const args = protocol === 'tus' ? (url ? { uri: `http://${SERVER_HOST}${url}` } : undefined) : lookup;
  if (!args) return { finalized: false };
  return suite.servers[protocol].ask('object', args).catch((error) => ({ finalized: false, missing: String(error.message) }));
}

const seconds = (ms) => (ms === undefined ? undefined : ms / 1000);

function firstEventAfter(result, at) {
  // Recovered: the server confirmed bytes again (a checkpoint) or the upload completed.
  const event = [...result.events, ...(result.final?.ev === 'done' ? [result.final] : [])].find((entry) => entry.ev === 'checkpoint' || entry.ev === 'done' ? entry.at >= at : false);
  return event ? event.at - at : undefined;
}

function classify({ scenario, protocol, runIndex, started, window, result, job, stored, counters, triggered }) {
  const exact = stored.finalized && stored.size === job.size && stored.sha256 === result.final?.sha256;
  let outcome;
  if (result.hang) outcome = 'hang';
  else if (!result.final) outcome = 'crash';
  else if (result.final.ev === 'done') outcome = exact ? 'exact' : 'wrong';
  else if (!result.final.typed) outcome = 'untyped';
  else outcome = stored.finalized ? 'typed-but-finalized' : 'typed';
  const retries = result.events.filter((event) => event.ev === 'retry');
  const retryCodes = {};
  for (const retry of retries) retryCodes[retry.code] = (retryCodes[retry.code] ?? 0) + 1;
  return {
    scenario: scenario.name,
    protocol,
    run: runIndex,
    outcome,
    code: result.final?.ev === 'error' ? result.final.code : undefined,
    message: result.final?.ev === 'error' ? result.final.message : undefined,
    expected: scenario.expect === 'either' ? outcome === 'exact' || outcome === 'typed' : outcome === scenario.expect,
    leaked: result.leaked,
    handles: result.handles,
    triggered,
    fault: Boolean(scenario.fault),
    seconds: ((result.final?.at ?? Date.now()) - started) / 1000,
    faultAtSeconds: window?.start ? (window.start - started) / 1000 : undefined,
    faultSeconds: window?.start && window.end ? (window.end - window.start) / 1000 : undefined,
    // Undefined too when the upload ended before the fault did (it did not need the link back).
    recoverSeconds: window?.end && outcome === 'exact' ? seconds(firstEventAfter(result, window.end)) : undefined,
    endedDuringFault: window?.end !== undefined && result.final !== undefined && result.final.at < window.end,
    errorAfterSeconds: window?.start && result.final?.ev === 'error' ? (result.final.at - window.start) / 1000 : undefined,
    retries: retries.length,
    retryCodes,
    verified: result.final?.verified,
    openUploads: stored.openUploads,
    ...(outcome === 'exact' ? {} : { stored: { finalized: stored.finalized, size: stored.size, persisted: stored.persisted, sameDigest: stored.sha256 === result.final?.sha256, missing: stored.missing, wire: stored.wire } }),
    exit: result.exit,
    ...counters,
  };
}
