#!/usr/bin/env node
/**
 * `rws`: upload from a shell pipe, start sessions, run the loopback server, run the demo.
 * Exit status: 0 success, 1 the upload failed, 2 usage error, 130 interrupted (Ctrl-C).
 * The session URL is a credential: only `rws init`, whose job it is, prints one.
 */
import { parseArgs } from 'node:util';
import { createGcsSession, createRedivisSession, createTusUpload, ResumableUploadError } from '../index.js';
import { helpText, version, wantsHelp } from './help.js';
import { err, inFlags, INIT_FLAGS, out } from './output.js';
import { upload } from './upload.js';
import { cp } from './cp.js';
import { parseCount, parseDuration, parseRate, parseSize, UsageError } from './units.js';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    out(`${helpText('') as string}\n`);
    return 2;
  }
  if (command === '--version' || command === '-V') {
    out(`${version()}\n`);
    return 0;
  }
  if (command === '--help' || command === '-h' || command === 'help') return help(rest.join(' '));
  if (wantsHelp(rest)) return help(helpTopic(command, rest));
  switch (command) {
    case 'cp':
      return cp(rest);
    case 'upload':
      return upload(rest);
    case 'init':
      return init(rest);
    case 'serve':
      return serve(rest);
    case 'demo': {
      parseArgs({ args: rest, options: {} });
      const { runDemo } = await import('../demo.js');
      return runDemo();
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)} (commands: cp, upload, init, serve, demo)`);
  }
}

/** `init gcs` for `rws init gcs … --help`; the command alone otherwise. */
function helpTopic(command: string, rest: string[]): string {
  const sub = rest[0];
  return command === 'init' && sub !== undefined && helpText(`init ${sub}`) !== undefined ? `init ${sub}` : command;
}

function help(topic: string): number {
  const text = helpText(topic);
  if (text === undefined) throw new UsageError(`no help for ${JSON.stringify(topic)}: rws has cp, upload, init (gcs, redivis, tus), serve and demo`);
  out(`${text}\n`);
  return 0;
}

// --- init ---------------------------------------------------------------------------------------

const INIT_OPTIONS = {
  bucket: { type: 'string' },
  name: { type: 'string' },
  table: { type: 'string' },
  size: { type: 'string' },
  token: { type: 'string' },
  api: { type: 'string' },
  'content-type': { type: 'string' },
  endpoint: { type: 'string' },
  metadata: { type: 'string', multiple: true },
  'allow-insecure-http': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

type InitValues = ReturnType<typeof parseArgs<{ options: typeof INIT_OPTIONS }>>['values'];

async function init(args: string[]): Promise<number> {
  const [service, ...rest] = args;
  const start = service === 'tus' ? initTus : service === 'gcs' ? initGcs : service === 'redivis' ? initRedivis : undefined;
  if (!start) throw new UsageError(`init expects gcs, redivis or tus${service === undefined ? '' : `, not ${JSON.stringify(service)}`} (rws init --help)`);
  const { values } = parseArgs({ args: rest, options: INIT_OPTIONS });
  try {
    await start(values);
  } catch (error) {
    // The library names its options; the user typed flags.
    if (error instanceof TypeError || error instanceof RangeError) throw new UsageError(inFlags(error.message, INIT_FLAGS));
    throw error;
  }
  return 0;
}

const insecure = (values: InitValues) => (values['allow-insecure-http'] ? { allowInsecureHttp: true } : {});
/** The session URL on stdout, whole: the one place the CLI prints it, since it is what was asked for. */
const printUrl = (url: string, values: InitValues) => process.stdout.write(values.json ? `${JSON.stringify({ url })}\n` : `${url}\n`);

async function initTus(values: InitValues): Promise<void> {
  if (!values.endpoint) throw new UsageError('init tus needs --endpoint (the creation URL, e.g. https://tus.example.com/files/)');
  const url = await createTusUpload({
    endpoint: values.endpoint,
    ...(values.metadata ? { metadata: parseMetadata(values.metadata) } : {}),
    ...(values.size === undefined ? {} : { uploadLength: parseSize('--size', values.size) }),
    ...insecure(values),
  });
  printUrl(url, values);
}

async function initGcs(values: InitValues): Promise<void> {
  if (!values.bucket || !values.name) throw new UsageError('init gcs needs --bucket and --name');
  if (values.api !== undefined && values.api !== 'json' && values.api !== 'xml') throw new UsageError('--api expects json or xml');
  const token = values.token ?? process.env['GCS_TOKEN'];
  const url = await createGcsSession({
    bucket: values.bucket,
    name: values.name,
    ...(token ? { token } : {}),
    ...(values.api ? { api: values.api as 'json' | 'xml' } : {}),
    ...(values['content-type'] ? { contentType: values['content-type'] } : {}),
    ...(values.metadata ? { metadata: { metadata: parseMetadata(values.metadata) } } : {}),
    ...(values.endpoint ? { apiEndpoint: values.endpoint } : {}),
    ...insecure(values),
  });
  printUrl(url, values);
}

/** `--metadata key=value`, repeatable: GCS custom metadata (x-goog-meta-* on the XML API); tus Upload-Metadata. */
function parseMetadata(pairs: string[]): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new UsageError(`--metadata expects key=value, received ${JSON.stringify(pair)}`);
    metadata[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  return metadata;
}

async function initRedivis(values: InitValues): Promise<void> {
  if (!values.table || values.size === undefined) throw new UsageError('init redivis needs --table and --size');
  const token = values.token ?? process.env['REDIVIS_TOKEN'];
  const session = await createRedivisSession({
    table: values.table,
    size: parseSize('--size', values.size),
    ...(token ? { token } : {}),
    ...(values.endpoint ? { apiEndpoint: values.endpoint } : {}),
    ...insecure(values),
  });
  if (values.json) process.stdout.write(`${JSON.stringify(session)}\n`);
  else {
    printUrl(session.url, values);
    err(`upload id: ${session.id}\n`);
  }
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
      s3: { type: 'boolean' },
    },
  });
  if (values.s3) return serveS3(values);
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
  out(`${server.url}\n`);
  err(
    `loopback GCS server listening at ${server.url} (Ctrl-C to stop)\n` +
      `start a session: rws init gcs --endpoint ${server.url} --bucket test --name object\n`,
  );
  await untilSignal();
  await server.close();
  return 0;
}

/** The loopback S3 server (SigV4 checked, keys test-key / test-secret), for trying rws cp s3:// locally. */
async function serveS3(values: { port?: string; fault?: string[]; latency?: string; bandwidth?: string; dialect?: string; token?: string }): Promise<number> {
  const other = (['port', 'fault', 'latency', 'bandwidth', 'dialect', 'token'] as const).find((name) => values[name] !== undefined);
  if (other) throw new UsageError(`--${other} is for the GCS server: rws serve --s3 takes no other option`);
  const { createS3TestServer } = await import('../testing/index.js');
  const server = await createS3TestServer();
  out(`${server.endpoint}\n`);
  err(
    `loopback S3 server listening at ${server.endpoint}, region ${server.region}, keys ${server.credentials.accessKeyId} / ${server.credentials.secretAccessKey} (Ctrl-C to stop)\n` +
      `copy to it: rws cp FILE s3://bucket/key --endpoint ${server.endpoint}\n`,
  );
  await untilSignal();
  await server.close();
  return 0;
}

function untilSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const usage = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    if (usage) {
      err(`rws: ${(error as Error).message}\nRun 'rws --help' for usage.\n`);
      process.exitCode = 2;
      return;
    }
    const code = error instanceof ResumableUploadError ? `${error.code}: ` : '';
    err(`rws: ${code}${(error as Error).message}\n`);
    process.exitCode = 1;
  },
);
