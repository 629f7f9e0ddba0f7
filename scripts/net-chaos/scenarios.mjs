// The scenarios of the net-chaos runner. Each one has a link condition held for the whole run
// (`setup`), and/or a fault applied at an instant of the upload (`fault`: it waits for its trigger
// through `ctx.when`, changes the link, and says when the fault began and ended). `together`
// scenarios upload all protocols at once (the condition is the link's, not a request's); the
// others run one protocol at a time, since their trigger is one protocol's request. `expect`
// is what the run should end in: 'exact' (stored exactly), 'typed' (a typed error), or 'either';
// `only` limits a scenario to the protocols it applies to. The name scenarios run one protocol at
// a time too: together, the fault waits for the slowest upload's second chunk, by when the
// fastest may have finished without needing a new connection (and so a new lookup).
// `capSeconds` bounds each client process (past it: a hang).
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The link down for `seconds` (or for good) once `trigger` happened. */
function flap(seconds, trigger) {
  return async (ctx) => {
    if (!(await ctx.when(trigger))) return undefined;
    await ctx.link('flap', 'down');
    const start = Date.now();
    if (seconds === Infinity) return { start, end: undefined };
    await sleep(seconds * 1000);
    await ctx.link('flap', 'up');
    return { start, end: Date.now() };
  };
}

/** A burst of RSTs (every TCP packet answered by one): requests in flight fail at once. */
async function resetPulse(ctx, ms = 300) {
  await ctx.link('reset', 'on');
  await sleep(ms);
  await ctx.link('reset', 'off');
}

/** A status query provoked by a reset pulse mid-chunk; the link goes down as it arrives. */
function flapDuringQuery(seconds) {
  return async (ctx) => {
    if (!(await ctx.when('mid-chunk'))) return undefined;
    await resetPulse(ctx);
    return flap(seconds, 'query')(ctx);
  };
}

function blackhole(seconds) {
  return async (ctx) => {
    if (!(await ctx.when('mid-chunk'))) return undefined;
    await ctx.link('blackhole', 'on');
    const start = Date.now();
    if (seconds === Infinity) return { start, end: undefined };
    await sleep(seconds * 1000);
    await ctx.link('blackhole', 'off');
    return { start, end: Date.now() };
  };
}

function serverRestart(downMs) {
  return async (ctx) => {
    if (!(await ctx.when('mid-chunk'))) return undefined;
    const start = Date.now();
    await ctx.restartServer(downMs);
    return { start, end: Date.now() };
  };
}

/** The server's name stops resolving, connections are reset (so the client must look it up again). */
function nameGone(seconds) {
  return async (ctx) => {
    if (!(await ctx.when('mid-chunk'))) return undefined;
    await ctx.link('name', ctx.host, 'off');
    const start = Date.now();
    // Long enough to meet every connection while it sends (a chunk's body or the next request).
    await resetPulse(ctx, 2000);
    if (seconds === Infinity) return { start, end: undefined };
    await sleep(seconds * 1000);
    await ctx.link('name', ctx.host, 'on');
    return { start, end: Date.now() };
  };
}

const condition = (name, args, off) => ({ setup: (ctx) => ctx.link(name, ...args), teardown: (ctx) => ctx.link(name, ...off) });

const FLAPS = [5, 30, 90];

export const SCENARIOS = [
  { name: 'baseline', together: true, expect: 'exact', capSeconds: 120 },
  { name: 'loss-1pct', together: true, expect: 'exact', capSeconds: 240, ...condition('loss', [1, 1], [0, 0]) },
  { name: 'loss-5pct', together: true, expect: 'exact', capSeconds: 400, scale: 0.5, ...condition('loss', [5, 5], [0, 0]) },
  { name: 'reorder-2pct-5ms', together: true, expect: 'exact', capSeconds: 240, ...condition('chaos', ['reorder', 2, 5000], ['off']) },
  { name: 'reorder-10pct-25ms', together: true, expect: 'exact', capSeconds: 240, ...condition('chaos', ['reorder', 10, 25000], ['off']) },
  { name: 'duplicate-2pct', together: true, expect: 'exact', capSeconds: 240, ...condition('dup', [2], [0]) },
  { name: 'duplicate-20pct', together: true, expect: 'exact', capSeconds: 240, ...condition('dup', [20], [0]) },
  { name: 'corrupt-tcp-caught-0.5pct', together: false, expect: 'exact', capSeconds: 240, corrupt: true, ...condition('chaos', ['corrupt', 0.5, 0], ['off']) },
  { name: 'corrupt-past-tcp-0.02pct', together: false, expect: 'either', capSeconds: 240, corrupt: true, ...condition('chaos', ['corrupt', 0.02, 1], ['off']) },
  ...FLAPS.map((s) => ({ name: `flap-${s}s-mid-chunk`, together: true, expect: 'exact', capSeconds: 300, fault: flap(s, 'mid-chunk') })),
  ...FLAPS.map((s) => ({ name: `flap-${s}s-final-request`, together: false, expect: 'exact', capSeconds: 300, fault: flap(s, 'final') })),
  // The parts driver (S3, GCS XML multipart, Azure) sends no status query within a stream (a
  // failed part is sent again from memory; ListParts / Get Block List only on a resume), so there
  // is no query to cut.
  ...FLAPS.map((s) => ({ name: `flap-${s}s-status-query`, together: false, only: ['gcs', 'tus'], expect: 'exact', capSeconds: 300, fault: flapDuringQuery(s) })),
  { name: 'link-down-for-good', together: true, expect: 'typed', capSeconds: 420, fault: flap(Infinity, 'mid-chunk') },
  { name: 'blackhole-40s', together: true, expect: 'exact', capSeconds: 300, fault: blackhole(40) },
  { name: 'blackhole-for-good', together: true, expect: 'typed', capSeconds: 600, fault: blackhole(Infinity) },
  // Every server keeps its uploads on disk (server.mjs), as the real services do: a restart must
  // cost nothing but the retries.
  { name: 'server-restart', together: false, expect: 'exact', capSeconds: 300, fault: serverRestart(2000) },
  { name: 'name-gone-10s', together: false, expect: 'exact', capSeconds: 300, fault: nameGone(10) },
  { name: 'name-gone-for-good', together: false, expect: 'typed', capSeconds: 420, fault: nameGone(Infinity) },
  { name: 'name-never-resolves', together: false, expect: 'typed', capSeconds: 420, unresolved: true },
];
