/**
 * `rws cp SRC DEST`: one step from a file or a pipe to an object, as `gcloud storage cp` and
 * `aws s3 cp` do it: the session is started here (credentials from the environment), object
 * properties go where each service reads them (cp-targets.ts), and `--checkpoint FILE` makes the
 * same command line resume after a crash or a restart (cp-run.ts runs it).
 */
import { readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createFileCheckpointStore, parseCheckpoint, type Checkpoint, type CheckpointStore, type ProtocolName, type ResumableWriteStreamOptions } from '../index.js';
import { runCopy, type CopyPlan } from './cp-run.js';
import { checkPlacement, destinationId, destinationProtocol, parseDestination, targetOptions, type ObjectProperties, type TargetFlags } from './cp-targets.js';
import { err } from './output.js';
import { trackSaves } from './tracked-store.js';
import { parseChecksum, parseCount, parseHeaders, parseSize, UsageError } from './units.js';

const OPTIONS = {
  protocol: { type: 'string' },
  endpoint: { type: 'string' },
  region: { type: 'string' },
  token: { type: 'string' },
  'content-type': { type: 'string' },
  'cache-control': { type: 'string' },
  'content-encoding': { type: 'string' },
  'storage-class': { type: 'string' },
  metadata: { type: 'string', multiple: true },
  gzip: { type: 'boolean' },
  parallel: { type: 'string' },
  'chunk-size': { type: 'string' },
  total: { type: 'string' },
  checksum: { type: 'string' },
  header: { type: 'string', multiple: true },
  checkpoint: { type: 'string' },
  'finalize-on-signal': { type: 'boolean' },
  retries: { type: 'string' },
  'allow-insecure-http': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

export async function cp(args: string[]): Promise<number> {
  return runCopy(planCopy(args));
}

/** Reads the arguments into stream options; every mistake is a UsageError before anything is sent. */
export function planCopy(args: string[]): CopyPlan {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: OPTIONS });
  if (positionals.length !== 2) throw new UsageError(`cp takes SRC (a file, or - for stdin) and DEST, received ${positionals.length} argument${positionals.length === 1 ? '' : 's'}`);
  const [input = '-', destArg = ''] = positionals;
  const size = inputSize(input);
  const total = values.total === undefined ? undefined : parseSize('--total', values.total);
  // A file's own size is declared (the bar then shows % and ETA) unless the input may end early.
  const totalSize = total ?? (values.gzip || values['finalize-on-signal'] ? undefined : size);
  const dest = parseDestination(destArg, values.protocol);
  const props = objectProperties(values);
  const flags: TargetFlags = {
    endpoint: nonEmpty('--endpoint', values.endpoint),
    region: nonEmpty('--region', values.region),
    token: nonEmpty('--token', values.token),
    parallel: values.parallel === undefined ? undefined : parseCount('--parallel', values.parallel),
    allowInsecureHttp: values['allow-insecure-http'] === true,
    totalSize,
  };
  checkPlacement(dest, props, flags);
  const file = nonEmpty('--checkpoint', values.checkpoint);
  const id = destinationId(dest, flags);
  const saved = file === undefined ? undefined : checkpointFor(file, id, destinationProtocol(dest, flags));
  const target = targetOptions(dest, props, flags);
  const options: ResumableWriteStreamOptions = {
    ...(saved === undefined ? target : resumeOptions(target, saved)),
    ...(values['chunk-size'] === undefined ? {} : { chunkSize: parseSize('--chunk-size', values['chunk-size']) }),
    ...(totalSize === undefined ? {} : { totalSize }),
    checksum: parseChecksum(values.checksum),
    headers: { ...lowerCased(parseHeaders(values.header ?? [])), ...target.headers },
    ...(file === undefined ? {} : { checkpointStore: trackSaves(taggedStore(createFileCheckpointStore(file), id)) }),
    ...(values.retries === undefined ? {} : { retry: { retries: parseCount('--retries', values.retries) } }),
    ...(flags.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
  };
  return {
    options,
    input,
    gzip: values.gzip === true,
    finalizeOnSignal: values['finalize-on-signal'] === true,
    checkpointFile: file,
    resumed: saved !== undefined,
    mode: values.json ? 'json' : process.stderr.isTTY ? 'tty' : 'lines',
  };
}

function inputSize(input: string): number | undefined {
  if (input === '-') return undefined;
  const stats = statSync(input, { throwIfNoEntry: false });
  if (!stats) throw new UsageError(`no such file: ${input}`);
  if (stats.isDirectory()) throw new UsageError(`${input} is a directory: pipe it through tar (tar c ${input} | rws cp - DEST)`);
  return stats.isFile() ? stats.size : undefined;
}

function nonEmpty(flag: string, value: string | undefined): string | undefined {
  if (value === '') throw new UsageError(`${flag} expects a value, received an empty one`);
  return value;
}

function objectProperties(values: Values): ObjectProperties {
  return {
    contentType: nonEmpty('--content-type', values['content-type']),
    cacheControl: nonEmpty('--cache-control', values['cache-control']),
    contentEncoding: nonEmpty('--content-encoding', values['content-encoding']),
    storageClass: nonEmpty('--storage-class', values['storage-class']),
    metadata: parseMetadata(values.metadata ?? []),
  };
}

/** `--metadata key=value`, repeatable; a key every service takes (a header token, no spaces or commas for tus). */
function parseMetadata(pairs: string[]): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    const key = pair.slice(0, equals);
    if (equals <= 0 || !/^[\w.-]+$/.test(key)) throw new UsageError(`--metadata expects key=value with a key of letters, digits, '-', '_' or '.', not ${JSON.stringify(pair)}`);
    metadata[key] = pair.slice(equals + 1);
  }
  return metadata;
}



// --- checkpoints --------------------------------------------------------------------------------

/** The checkpoint file names its destination, so that a file left by another upload is never resumed into this one. */
function taggedStore(store: CheckpointStore, destination: string): CheckpointStore {
  return {
    load: () => store.load(),
    clear: () => store.clear(),
    save(checkpoint) {
      const tagged = { ...checkpoint, destination };
      return store.save(tagged);
    },
  };
}

/**
 * FILE's checkpoint when it is this destination's; undefined when FILE is absent or belongs to
 * another upload (said, then overwritten). A file that is no checkpoint is never overwritten.
 */
function checkpointFor(file: string, id: string, protocol: ProtocolName): Checkpoint | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`--checkpoint ${file}: cannot read it (${String((error as NodeJS.ErrnoException).code)})`);
  }
  let raw: unknown;
  let checkpoint: Checkpoint;
  try {
    raw = JSON.parse(text);
    checkpoint = parseCheckpoint(raw);
  } catch {
    // The reason would quote the file, and a checkpoint holds a session URL: not repeated.
    throw new UsageError(`--checkpoint ${file} exists and is not a checkpoint file: rws will not overwrite it`);
  }
  const destination = (raw as { destination?: unknown }).destination;
  if (destination === id && checkpoint.protocol === protocol) return checkpoint;
  const whose = typeof destination === 'string' ? `the upload to ${destination}` : 'an upload rws cp did not start';
  err(`rws: ${file} holds the checkpoint of ${whose}: starting a new upload, whose checkpoint replaces it\n`);
  return undefined;
}

/** Resuming: the checkpoint names the session; S3 still needs its target (bucket, key, endpoint, region). */
function resumeOptions(target: Partial<ResumableWriteStreamOptions>, saved: Checkpoint): Partial<ResumableWriteStreamOptions> {
  const { url: _created, ...rest } = target;
  return { ...rest, protocol: saved.protocol, resume: saved };
}

/** Header names lower-cased, so a --header and an object flag naming the same header meet as one. */
function lowerCased(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}
