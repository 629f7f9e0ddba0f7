#!/usr/bin/env node
/**
 * `rws`: upload from a shell pipe, start sessions, run the loopback server, run the demo.
 * Exit status: 0 success, 1 the upload failed, 2 usage error, 130 interrupted (Ctrl-C).
 * The session URL is a credential: only `rws init`, whose job it is, prints one.
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import {
  createFileCheckpointStore,
  createGcsSession,
  createRedivisSession,
  createResumableWriteStream,
  createTusUpload,
  parseCheckpoint,
  ResumableUploadError,
  type ChecksumOption,
  type ProtocolName,
  type ResumableWriteStreamOptions,
} from '../index.js';
import { createReporter, type ReporterMode } from './reporters.js';
import { parseCount, parseDuration, parseRate, parseSize, UsageError } from './units.js';

const USAGE = `Usage:
  rws upload <session-url> [file|-] [options]    upload a file or stdin to a resumable session
  rws upload --protocol tus <upload-url> [file|-] to a tus upload (see rws init tus)
  rws upload --s3 s3://BUCKET/KEY [file|-]       to S3 (multipart; AWS_* credentials from the environment)
  rws upload --resume FILE [file|-] [options]    resume from a checkpoint file (same input again)
  rws init gcs --bucket B --name N [--token T] [--api json|xml] [--content-type T] [--endpoint URL]
  rws init redivis --table T --size N [--token T] [--endpoint URL]
  rws init tus --endpoint URL [--metadata key=value ...] [--size N]
  rws serve [--port P] [--fault NAME ...] [--latency 30ms] [--bandwidth 100MB/s] [--dialect gcs|redivis]
  rws demo

upload options:
  --gzip                 compress on the fly
  --protocol P           gcs (default) or tus
  --s3 s3://BUCKET/KEY   upload to S3; with --endpoint URL (MinIO, R2…), --region R, --queue-size N
  --chunk-size SIZE      bytes per request: gcs a multiple of 256KiB, s3 5MiB to 5GiB (default 8MiB)
  --total SIZE           the exact size, when known
  --checksum ALG         crc32c (default), md5, both or none
  --header 'Name: value' an extra request header (repeatable)
  --checkpoint FILE      save a checkpoint after every acknowledgement
  --resume FILE          resume from (and keep saving to) a checkpoint file
  --continue             resume <session-url> from wherever the server stands
  --retries N            retries in a row before giving up (default 10)
  --json                 one JSON object per event on stdout
Tokens: --token, or GCS_TOKEN / REDIVIS_TOKEN in the environment.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  switch (command) {
    case 'upload':
      return upload(rest);
    case 'init':
      return init(rest);
    case 'serve':
      return serve(rest);
    case 'demo': {
      const { runDemo } = await import('../demo.js');
      return runDemo();
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

// --- upload -------------------------------------------------------------------------------------

interface UploadPlan {
  readonly options: ResumableWriteStreamOptions;
  readonly input: string | undefined;
  readonly gzip: boolean;
  readonly mode: ReporterMode;
  /** The exact command that resumes this upload (without the session URL). */
  readonly resumeCommand: string;
}

async function upload(args: string[]): Promise<number> {
  return runUpload(planUpload(args));
}

/** Reads `rws upload`'s arguments into stream options; every mistake is a UsageError. */
function planUpload(args: string[]): UploadPlan {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
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
      json: { type: 'boolean' },
    },
  });
  const [first, second, extra] = positionals;
  const s3 = values.s3 === undefined ? undefined : parseS3Target(values);
  const protocol = parseProtocol(values.protocol ?? checkpointProtocol(values.resume), s3 !== undefined);
  // The session URL comes first, unless a checkpoint or --s3 says where the upload goes.
  const needsUrl = values.resume === undefined && s3 === undefined;
  const url = needsUrl ? first : undefined;
  const input = needsUrl ? second : first;
  if (extra !== undefined || (!needsUrl && second !== undefined)) throw new UsageError('too many arguments');
  if (needsUrl && url === undefined) throw new UsageError('upload needs a session URL (or --s3 s3://BUCKET/KEY, or --resume FILE)');
  if (values.resume !== undefined && values.checkpoint !== undefined && values.resume !== values.checkpoint) {
    throw new UsageError('--resume FILE already saves checkpoints to FILE; --checkpoint must be the same file or left out');
  }
  if (values.continue && url === undefined) throw new UsageError('--continue needs the session URL');
  if (input !== undefined && input !== '-' && !statSync(input, { throwIfNoEntry: false })?.isFile()) {
    throw new UsageError(`no such file: ${input}`);
  }
  const checkpointFile = values.resume ?? values.checkpoint;
  const options: ResumableWriteStreamOptions = {
    protocol,
    ...(s3 === undefined ? {} : { s3 }),
    ...(url === undefined ? {} : { url }),
    ...(values['chunk-size'] === undefined ? {} : { chunkSize: parseSize('--chunk-size', values['chunk-size']) }),
    ...(values.total === undefined ? {} : { totalSize: parseSize('--total', values.total) }),
    checksum: parseChecksum(values.checksum),
    headers: parseHeaders(values.header ?? []),
    ...(checkpointFile === undefined ? {} : { checkpointStore: createFileCheckpointStore(checkpointFile) }),
    ...(values.resume !== undefined ? { resume: true as const } : {}),
    ...(values.continue && url !== undefined ? { resume: parseCheckpoint({ version: 1, url, protocol, bytesCommitted: 0 }) } : {}),
    ...(values.retries === undefined ? {} : { retry: { retries: parseCount('--retries', values.retries) } }),
  };
  return {
    options,
    input,
    gzip: values.gzip === true,
    mode: values.json ? 'json' : process.stderr.isTTY ? 'tty' : 'lines',
    resumeCommand: buildResumeCommand(values, input, checkpointFile),
  };
}

/** Runs the upload with its reporter; Ctrl-C aborts it without finalizing. Returns the exit status. */
async function runUpload(plan: UploadPlan): Promise<number> {
  const controller = new AbortController();
  let stream;
  try {
    stream = createResumableWriteStream({ ...plan.options, signal: controller.signal });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const onSignal = () => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const reporter = createReporter(plan.mode, plan.options.totalSize);
  stream.on('progress', (progress) => reporter.progress(progress));
  stream.on('retry', (event) => reporter.retry(event));
  stream.on('checkpoint', (checkpoint) => reporter.checkpoint(checkpoint.bytesCommitted));
  const source: Readable = plan.input === undefined || plan.input === '-' ? process.stdin : createReadStream(plan.input);
  const started = performance.now();
  try {
    await (plan.gzip ? pipeline(source, createGzip(), stream) : pipeline(source, stream));
    reporter.done(stream.result, { bytesWritten: stream.bytesWritten, seconds: (performance.now() - started) / 1000 });
    return 0;
  } catch (error) {
    const failure = error as Error;
    const code = failure instanceof ResumableUploadError ? failure.code : String((failure as { code?: unknown }).code ?? failure.name);
    // A gone session, a changed input or a refused object cannot be resumed: no command then.
    const resumable = !['RWS_SESSION_EXPIRED', 'RWS_RESUME_MISMATCH', 'RWS_CHECKSUM_MISMATCH'].includes(code);
    const interrupted = controller.signal.aborted;
    reporter.failed({ code, message: failure.message, bytesCommitted: stream.bytesCommitted, resume: resumable ? plan.resumeCommand : undefined, interrupted });
    return interrupted ? 130 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** A checkpoint file says which protocol it resumes (tus needs no --protocol again); gcs for S3 files is left to --s3. */
function checkpointProtocol(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  try {
    const protocol = (JSON.parse(readFileSync(file, 'utf8')) as { protocol?: unknown }).protocol;
    return protocol === 'tus' ? protocol : undefined;
  } catch {
    return undefined;
  }
}

function parseProtocol(value: string | undefined, s3: boolean): ProtocolName {
  if (value === undefined) return s3 ? 's3' : 'gcs';
  if ((value === 'gcs' || value === 'tus') && !s3) return value;
  if (value === 's3' && s3) return value;
  throw new UsageError(s3 ? '--s3 goes with --protocol s3 (or no --protocol)' : `--protocol expects gcs or tus (S3: --s3 s3://BUCKET/KEY), not ${JSON.stringify(value)}`);
}

/** `--s3 s3://BUCKET/KEY` with --endpoint, --region, --queue-size; credentials from the AWS_* environment. */
function parseS3Target(values: { s3?: string | undefined; endpoint?: string | undefined; region?: string | undefined; 'queue-size'?: string | undefined }) {
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

function parseChecksum(value: string | undefined): ChecksumOption {
  if (value === undefined) return 'crc32c';
  if (value === 'none') return false;
  if (value === 'crc32c' || value === 'md5' || value === 'both') return value;
  throw new UsageError(`--checksum expects crc32c, md5, both or none, not ${JSON.stringify(value)}`);
}

function parseHeaders(lines: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new UsageError(`--header expects 'Name: value', not ${JSON.stringify(line)}`);
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** The exact command that resumes this upload, without the session URL (a credential). */
function buildResumeCommand(values: Record<string, unknown>, input: string | undefined, checkpointFile: string | undefined): string {
  const parts = ['rws', 'upload'];
  const s3 = typeof values.s3 === 'string';
  if (checkpointFile !== undefined) parts.push('--resume', checkpointFile);
  else if (!s3) parts.push('"$SESSION_URL"', '--continue');
  if (values.gzip) parts.push('--gzip');
  for (const option of ['protocol', 's3', 'endpoint', 'region', 'queue-size', 'chunk-size', 'total', 'checksum', 'retries'] as const) {
    if (typeof values[option] === 'string') parts.push(`--${option}`, values[option] as string);
  }
  for (const header of (values.header as string[] | undefined) ?? []) parts.push('--header', header);
  if (values.json) parts.push('--json');
  parts.push(input ?? '-');
  const command = parts.map((part) => (part === '"$SESSION_URL"' || /^[\w@%+=:,./-]+$/.test(part) ? part : `'${part.replace(/'/g, `'\\''`)}'`)).join(' ');
  if (checkpointFile === undefined && s3) return `${command}   # starts over: S3 resumes only from a --checkpoint FILE`;
  return checkpointFile === undefined ? `${command}   # SESSION_URL: the session URL you passed (not printed: it is a credential)` : command;
}

// --- init ---------------------------------------------------------------------------------------

async function init(args: string[]): Promise<number> {
  const [service, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      bucket: { type: 'string' },
      name: { type: 'string' },
      table: { type: 'string' },
      size: { type: 'string' },
      token: { type: 'string' },
      api: { type: 'string' },
      'content-type': { type: 'string' },
      endpoint: { type: 'string' },
      metadata: { type: 'string', multiple: true },
      json: { type: 'boolean' },
    },
  });
  if (service === 'tus') {
    if (!values.endpoint) throw new UsageError('init tus needs --endpoint (the creation URL, e.g. https://tus.example.com/files/)');
    const metadata: Record<string, string> = {};
    for (const pair of values.metadata ?? []) {
      const equals = pair.indexOf('=');
      if (equals <= 0) throw new UsageError(`--metadata expects key=value, not ${JSON.stringify(pair)}`);
      metadata[pair.slice(0, equals)] = pair.slice(equals + 1);
    }
    const url = await createTusUpload({
      endpoint: values.endpoint,
      ...(values.metadata ? { metadata } : {}),
      ...(values.size === undefined ? {} : { uploadLength: parseSize('--size', values.size) }),
    });
    process.stdout.write(values.json ? `${JSON.stringify({ url })}\n` : `${url}\n`);
    return 0;
  }
  if (service === 'gcs') {
    if (!values.bucket || !values.name) throw new UsageError('init gcs needs --bucket and --name');
    if (values.api !== undefined && values.api !== 'json' && values.api !== 'xml') throw new UsageError('--api expects json or xml');
    const token = values.token ?? process.env['GCS_TOKEN'];
    const url = await createGcsSession({
      bucket: values.bucket,
      name: values.name,
      ...(token ? { token } : {}),
      ...(values.api ? { api: values.api as 'json' | 'xml' } : {}),
      ...(values['content-type'] ? { contentType: values['content-type'] } : {}),
      ...(values.endpoint ? { apiEndpoint: values.endpoint } : {}),
    });
    process.stdout.write(values.json ? `${JSON.stringify({ url })}\n` : `${url}\n`);
    return 0;
  }
  if (service === 'redivis') {
    if (!values.table || values.size === undefined) throw new UsageError('init redivis needs --table and --size');
    const token = values.token ?? process.env['REDIVIS_TOKEN'];
    const session = await createRedivisSession({
      table: values.table,
      size: parseSize('--size', values.size),
      ...(token ? { token } : {}),
      ...(values.endpoint ? { apiEndpoint: values.endpoint } : {}),
    });
    if (values.json) process.stdout.write(`${JSON.stringify(session)}\n`);
    else {
      process.stdout.write(`${session.url}\n`);
      process.stderr.write(`upload id: ${session.id}\n`);
    }
    return 0;
  }
  throw new UsageError('init expects gcs, redivis or tus');
}

// --- serve --------------------------------------------------------------------------------------

async function serve(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string' },
      fault: { type: 'string', multiple: true },
      latency: { type: 'string' },
      bandwidth: { type: 'string' },
      dialect: { type: 'string' },
      token: { type: 'string' },
    },
  });
  if (values.dialect !== undefined && values.dialect !== 'gcs' && values.dialect !== 'redivis') throw new UsageError('--dialect expects gcs or redivis');
  const { createTestServer, parseFault } = await import('../testing/index.js');
  for (const fault of values.fault ?? []) {
    try {
      parseFault(fault);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  const server = await createTestServer({
    ...(values.port === undefined ? {} : { port: parseCount('--port', values.port) }),
    faults: values.fault ?? [],
    ...(values.latency === undefined ? {} : { latencyMs: parseDuration('--latency', values.latency) }),
    ...(values.bandwidth === undefined ? {} : { bandwidth: parseRate('--bandwidth', values.bandwidth) }),
    ...(values.dialect === undefined ? {} : { dialect: values.dialect as 'gcs' | 'redivis' }),
    ...(values.token === undefined ? {} : { token: values.token }),
  });
  process.stdout.write(`${server.url}\n`);
  process.stderr.write(
    `loopback GCS server listening at ${server.url} (Ctrl-C to stop)\n` +
      `start a session: rws init gcs --endpoint ${server.url} --bucket test --name object\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const usage = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    if (usage) {
      process.stderr.write(`rws: ${(error as Error).message}\nRun 'rws --help' for usage.\n`);
      process.exitCode = 2;
      return;
    }
    const code = error instanceof ResumableUploadError ? `${error.code}: ` : '';
    process.stderr.write(`rws: ${code}${(error as Error).message}\n`);
    process.exitCode = 1;
  },
);
