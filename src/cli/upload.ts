/** `rws upload`: its arguments, the run, and what it says when the upload fails. */
import { createReadStream, statSync, existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import {
  ChecksumMismatchError,
  createFileCheckpointStore,
  createResumableWriteStream,
  parseCheckpoint,
  ResumableUploadError,
  SizeMismatchError,
  type Checkpoint,
  type ProtocolName,
  type ResumableWriteStreamOptions,
} from '../index.js';
import { isOffsetProtocolName, PROTOCOLS } from '../protocols/index.js';
import { inFlags, UPLOAD_FLAGS } from './output.js';
import { createReporter, type FailureSummary, type ReporterMode } from './reporters.js';
import { trackSaves, type TrackedStore } from './tracked-store.js';
import { readCheckpointFile, sameUrl } from './upload-checkpoint.js';
import { parseChecksum, parseCount, parseHeaders, parseSize, UsageError } from './units.js';

const OPTIONS = {
  gzip: { type: 'boolean' },
  protocol: { type: 'string' },
  s3: { type: 'string' },
  endpoint: { type: 'string' },
  region: { type: 'string' },
  'queue-size': { type: 'string' },
  'chunk-size': { type: 'string' },
  total: { type: 'string' },
  checksum: { type: 'string' },
  header: { type: 'string', multiple: true },
  checkpoint: { type: 'string' },
  resume: { type: 'string' },
  continue: { type: 'boolean' },
  retries: { type: 'string' },
  'allow-insecure-http': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

interface UploadPlan {
  readonly options: ResumableWriteStreamOptions;
  readonly values: Values;
  readonly input: string | undefined;
  readonly checkpointFile: string | undefined;
  /** Where the declared total came from, to say what a size mismatch means. */
  readonly totalFrom: 'flag' | 'file' | undefined;
  readonly mode: ReporterMode;
}

export async function upload(args: string[]): Promise<number> {
  return runUpload(planUpload(args));
}

/** Reads `rws upload`'s arguments into stream options; every mistake is a UsageError. */
function planUpload(args: string[]): UploadPlan {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: OPTIONS });
  const s3 = values.s3 === undefined ? undefined : parseS3Target(values);
  const { url, input } = splitPositionals(positionals, s3 !== undefined);
  const checkpointFile = checkpointFileOf(values);
  const saved = values.resume === undefined ? undefined : readCheckpointFile(values.resume);
  const protocol = parseProtocol(values.protocol, saved, s3 !== undefined);
  if (url === undefined && s3 === undefined && values.resume === undefined) {
    throw new UsageError('upload needs a session URL (or --s3 s3://BUCKET/KEY, or --resume FILE)');
  }
  if (values.continue && url === undefined) throw new UsageError('--continue needs the session URL');
  if (values.continue && values.resume !== undefined) throw new UsageError('--continue and --resume FILE both say where to resume from: pass one');
  const size = inputSize(input);
  const total = values.total === undefined ? undefined : parseSize('--total', values.total);
  const declared = total ?? (values.gzip ? undefined : size);
  const options: ResumableWriteStreamOptions = {
    protocol,
    ...(s3 === undefined ? {} : { s3 }),
    ...(url === undefined ? {} : { url }),
    ...(values['chunk-size'] === undefined ? {} : { chunkSize: parseSize('--chunk-size', values['chunk-size']) }),
    ...(declared === undefined ? {} : { totalSize: declared }),
    checksum: parseChecksum(values.checksum),
    headers: parseHeaders(values.header ?? []),
    ...(checkpointFile === undefined ? {} : { checkpointStore: trackSaves(createFileCheckpointStore(checkpointFile)) }),
    ...resumeOption(values, saved, url, protocol),
    ...(values.retries === undefined ? {} : { retry: { retries: parseCount('--retries', values.retries) } }),
    ...(values['allow-insecure-http'] ? { allowInsecureHttp: true } : {}),
  };
  return {
    options,
    values,
    input,
    checkpointFile,
    totalFrom: total !== undefined ? 'flag' : declared !== undefined ? 'file' : undefined,
    mode: values.json ? 'json' : process.stderr.isTTY ? 'tty' : 'lines',
  };
}

/**
 * The session URL is the positional that looks like a URL, wherever it stands: taking it for the
 * input would print it ("no such file: <URL>"). A scheme is enough: `gs://…` is a wrong URL, not a file.
 */
function splitPositionals(positionals: string[], s3: boolean): { url: string | undefined; input: string | undefined } {
  const isUrl = (arg: string) => /^[a-z][a-z\d+.-]*:\/\//i.test(arg);
  const urls = positionals.filter(isUrl);
  const inputs = positionals.filter((arg) => !isUrl(arg));
  if (urls.length > 1) throw new UsageError('more than one session URL given: rws upload takes one session URL and one input (a file, or - for stdin)');
  if (inputs.length > 1) throw new UsageError(`too many arguments: one input (a file, or - for stdin), not ${inputs.length}`);
  if (s3 && urls.length > 0) throw new UsageError('--s3 takes no session URL: s3://BUCKET/KEY says where the object goes');
  return { url: urls[0], input: inputs[0] };
}

/** The input's size when it is a regular file (it can then declare the total); FIFOs and devices stream. */
function inputSize(input: string | undefined): number | undefined {
  if (input === undefined || input === '-') return undefined;
  const stats = statSync(input, { throwIfNoEntry: false });
  if (!stats) throw new UsageError(`no such file: ${input}`);
  if (stats.isDirectory()) throw new UsageError(`${input} is a directory: pipe it through tar (tar c ${input} | rws upload …)`);
  return stats.isFile() ? stats.size : undefined;
}

function checkpointFileOf(values: Values): string | undefined {
  if (values.resume === '' || values.checkpoint === '') throw new UsageError(`--${values.resume === '' ? 'resume' : 'checkpoint'} expects a file path`);
  if (values.resume !== undefined && values.checkpoint !== undefined && values.resume !== values.checkpoint) {
    throw new UsageError('--resume FILE already saves checkpoints to FILE; --checkpoint must be the same file or left out');
  }
  return values.resume ?? values.checkpoint;
}

/**
 * `--resume FILE` resumes from FILE's checkpoint; with the session URL and no checkpoint in FILE,
 * from wherever the server stands (as --continue) while saving to FILE. Without either, there is
 * nothing to resume, and that is said plainly rather than starting something.
 */
function resumeOption(values: Values, saved: Checkpoint | undefined, url: string | undefined, protocol: ProtocolName): Pick<ResumableWriteStreamOptions, 'resume'> {
  const file = values.resume;
  if (saved !== undefined) {
    if (url !== undefined && !sameUrl(saved.url, url)) {
      throw new UsageError(`${file} is the checkpoint of another session than the URL given: leave the URL out to resume that one`);
    }
    return { resume: saved };
  }
  if (file !== undefined && url === undefined) {
    const start = protocol === 's3' ? `rws upload --s3 ${String(values.s3)} --checkpoint ${file} …` : `rws upload "$SESSION_URL" --checkpoint ${file} …`;
    throw new UsageError(`no checkpoint at ${file}: nothing to resume (a finished upload removes its checkpoint; to start an upload: ${start})`);
  }
  if ((values.continue || file !== undefined) && url !== undefined) {
    return { resume: parseCheckpoint({ version: 1, url, protocol, bytesCommitted: 0 }) };
  }
  return {};
}

/** gcs unless said otherwise; a checkpoint file says its own protocol, which --protocol/--s3 must match. */
function parseProtocol(value: string | undefined, saved: Checkpoint | undefined, s3: boolean): ProtocolName {
  if (saved?.protocol === 's3' && !s3) throw new UsageError('the --resume file is the checkpoint of an S3 upload: pass the same --s3 s3://BUCKET/KEY (and --endpoint) again');
  if (saved !== undefined && saved.protocol !== 's3' && s3) throw new UsageError(`the --resume file is the checkpoint of a ${saved.protocol} upload, not S3: leave out --s3`);
  if (value === undefined) return s3 ? 's3' : (saved?.protocol ?? 'gcs');
  if (saved !== undefined && value !== saved.protocol) throw new UsageError(`the --resume file is the checkpoint of a ${saved.protocol} upload: --protocol ${value} does not match`);
  if (isOffsetProtocolName(value) && !s3) return value;
  if (value === 's3' && s3) return value;
  throw new UsageError(s3 ? '--s3 goes with --protocol s3 (or no --protocol)' : `--protocol expects ${Object.keys(PROTOCOLS).join(' or ')} (S3: --s3 s3://BUCKET/KEY), not ${JSON.stringify(value)}`);
}

/** `--s3 s3://BUCKET/KEY` with --endpoint, --region, --queue-size; credentials from the AWS_* environment. */
function parseS3Target(values: Values) {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(values.s3 ?? '');
  if (!match) throw new UsageError(`--s3 expects s3://BUCKET/KEY, not ${JSON.stringify(values.s3)}`);
  return {
    bucket: match[1] as string,
    key: match[2] as string,
    ...(values.endpoint === undefined ? {} : { endpoint: values.endpoint }),
    ...(values.region === undefined ? {} : { region: values.region }),
    ...(values['queue-size'] === undefined ? {} : { queueSize: parseCount('--queue-size', values['queue-size']) }),
  };
}



// --- the run ------------------------------------------------------------------------------------

/** Runs the upload with its reporter; Ctrl-C aborts it without finalizing. Returns the exit status. */
async function runUpload(plan: UploadPlan): Promise<number> {
  const controller = new AbortController();
  let stream;
  try {
    stream = createResumableWriteStream({ ...plan.options, signal: controller.signal });
  } catch (error) {
    throw new UsageError(inFlags((error as Error).message, UPLOAD_FLAGS));
  }
  const onSignal = () => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const reporter = createReporter(plan.mode, plan.options.totalSize);
  // Bytes the server held before this process moved none: they are not in the rate. A resumed S3
  // upload's input starts at 0 again, so the checkpoint's offset is the floor.
  const resumedFrom = typeof plan.options.resume === 'object' ? plan.options.resume.bytesCommitted : 0;
  let startedAt = 0;
  stream.committedOffset().then((offset) => {
    startedAt = Math.max(offset, resumedFrom);
    reporter.start(startedAt);
  }, () => {});
  stream.on('progress', (progress) => reporter.progress(progress));
  stream.on('retry', (event) => reporter.retry(event));
  stream.on('checkpoint', (checkpoint) => reporter.checkpoint(checkpoint.bytesCommitted));
  const source: Readable = plan.input === undefined || plan.input === '-' ? process.stdin : createReadStream(plan.input);
  const started = performance.now();
  try {
    await (plan.values.gzip ? pipeline(source, createGzip(), stream) : pipeline(source, stream));
    reporter.done(stream.result, { bytesWritten: stream.bytesWritten, seconds: (performance.now() - started) / 1000, resumedAt: startedAt });
    return 0;
  } catch (error) {
    const interrupted = controller.signal.aborted;
    await (plan.options.checkpointStore as TrackedStore | undefined)?.settled();
    reporter.failed(describeFailure(plan, error as Error, { committed: stream.bytesCommitted, written: stream.bytesWritten }, interrupted));
    return interrupted ? 130 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** What to tell the user: the error, what the server holds (as the error's facts say), and a resume command only if it can work. */
function describeFailure(plan: UploadPlan, failure: Error, bytes: { committed: number; written: number }, interrupted: boolean): FailureSummary {
  const bytesCommitted = bytes.committed;
  const code = failure instanceof ResumableUploadError ? failure.code : String((failure as { code?: unknown }).code ?? failure.name);
  const base = { code, message: inFlags(failure.message, UPLOAD_FLAGS), bytesCommitted, interrupted, resume: undefined, note: undefined };
  if (interrupted) return { ...base, ...resumeAdvice(plan), state: `${bytesCommitted} bytes were committed and nothing was finalized.` };
  if (failure instanceof ResumableUploadError && failure.storedSize !== undefined) return { ...base, state: finalizedElsewhere(failure, failure.storedSize, bytes.written) };
  if (failure instanceof SizeMismatchError) return { ...base, message: sizeMismatchMessage(failure, plan), state: 'nothing was finalized: start a new session for this input.' };
  // A server that breaks the protocol (one that calls a session complete before the final request,
  // say) cannot be trusted to resume: a resume could take its word for a success. No command then.
  if (code === 'RWS_PROTOCOL') {
    return { ...base, state: `rws finalized nothing, but the server's answers contradict the protocol (it had confirmed ${bytesCommitted} bytes): check what it holds, or start a new session.` };
  }
  // A gone session, a changed input or a refused object cannot be resumed: no command then.
  const resumable = !['RWS_SESSION_EXPIRED', 'RWS_RESUME_MISMATCH', 'RWS_CHECKSUM_MISMATCH'].includes(code);
  return { ...base, ...(resumable ? resumeAdvice(plan) : {}), state: `${bytesCommitted} bytes were committed; nothing was finalized.` };
}

/** The server answered with a finalized object that is not this input: say what it holds. */
function finalizedElsewhere(failure: ResumableUploadError, storedSize: number, bytesWritten: number): string {
  const what =
    failure instanceof ChecksumMismatchError
      ? `an object of ${storedSize} bytes whose ${failure.algorithm} is ${String(failure.reported)}, not this input's ${String(failure.expected)}`
      : `an object of ${storedSize} bytes, not the ${bytesWritten} bytes of this input`;
  return `the session is finalized: the server holds ${what}. A finalized session takes no more data: start a new session (rws init …) for this input.`;
}

function sizeMismatchMessage(failure: SizeMismatchError, plan: UploadPlan): string {
  const { expected, actual } = failure;
  // Without a declared total the library's words stand (S3's part limit, say).
  if (plan.totalFrom === undefined) return inFlags(failure.message, UPLOAD_FLAGS);
  if (plan.totalFrom === 'file') {
    return `${plan.input} changed while it was read (${expected} bytes when rws started, ${actual > expected ? 'more were' : `${actual} bytes`} read): pipe it (cat FILE | rws upload …) to upload it without declaring its size`;
  }
  const total = plan.values.total === String(expected) ? `--total ${expected}` : `--total ${String(plan.values.total)} (${expected} bytes)`;
  return actual > expected ? `the input is longer than ${total}: at least ${actual} bytes were written` : `the input ended after ${actual} bytes, but ${total} declared more`;
}

/** The command that resumes, only if it would work; the session URL (a credential) never in it. */
function resumeAdvice(plan: UploadPlan): { resume: string | undefined; note: string | undefined } {
  const file = plan.checkpointFile;
  const saved = file !== undefined && existsSync(file);
  const note = file !== undefined && !saved ? `no checkpoint was saved at ${file}.` : undefined;
  const s3 = plan.values.s3 !== undefined;
  const parts = ['rws', 'upload'];
  if (saved) parts.push('--resume', file);
  else if (!s3) parts.push('"$SESSION_URL"', '--continue');
  if (!saved && file !== undefined) parts.push('--checkpoint', file);
  // A tus checkpoint said its protocol; resuming by the URL must say it again.
  if (!saved && plan.options.protocol === 'tus' && plan.values.protocol === undefined) parts.push('--protocol', 'tus');
  if (plan.values.gzip) parts.push('--gzip');
  for (const option of ['protocol', 's3', 'endpoint', 'region', 'queue-size', 'chunk-size', 'total', 'checksum', 'retries'] as const) {
    const value = plan.values[option];
    if (value !== undefined) parts.push(`--${option}`, value);
  }
  for (const header of plan.values.header ?? []) parts.push('--header', header);
  if (plan.values['allow-insecure-http']) parts.push('--allow-insecure-http');
  if (plan.values.json) parts.push('--json');
  parts.push(plan.input ?? '-');
  const command = parts.map((part) => (part === '"$SESSION_URL"' || /^[\w@%+=:,./-]+$/.test(part) ? part : `'${part.replace(/'/g, `'\\''`)}'`)).join(' ');
  if (saved) return { resume: command, note };
  if (s3) return { resume: `${command}   # starts over: S3 resumes only from a saved checkpoint`, note };
  return { resume: `${command}   # SESSION_URL: the session URL you passed (not printed: it is a credential)`, note };
}
