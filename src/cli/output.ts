/**
 * Everything the CLI prints goes through here (but `rws init`'s URL, its one job). A session URL
 * is a credential, and a user can put one anywhere by mistake (as the command, an option's
 * value, with a typo in its scheme): every URL in the text is redacted unless it carries nothing
 * secret. s3://BUCKET/KEY names an object, not a credential, and resume commands must keep it.
 */
import { redactUrl } from '../errors.js';

const URL_LIKE = /\b(?!s3:\/\/)[a-z][a-z\d+.-]*:\/\/[^\s"'`<>]+/gi;

/** The text with every URL that has a query, user-info or an id-like path segment redacted. */
export function redactUrls(text: string): string {
  return text.replace(URL_LIKE, (match) => {
    // Punctuation that closes the sentence around a URL is not part of it.
    const [, url = match, trail = ''] = /^(.*?)([),.;:]*)$/s.exec(match) ?? [];
    const redacted = redactUrl(url);
    try {
      return (redacted === new URL(url).href ? url : redacted) + trail;
    } catch {
      return redacted + trail;
    }
  });
}

export const out = (text: string): void => void process.stdout.write(redactUrls(text));
export const err = (text: string): void => void process.stderr.write(redactUrls(text));

/**
 * What an option of the library is called on the command line, per command: the library's
 * messages name its options (`chunkSize`), a CLI user knows the flags (`--chunk-size`).
 */
export type FlagNames = Readonly<Record<string, string>>;

export const UPLOAD_FLAGS: FlagNames = {
  url: 'the session URL',
  'resume.url': "the checkpoint's session URL",
  chunkSize: '--chunk-size',
  totalSize: '--total',
  checksum: '--checksum',
  headers: '--header',
  'retry.retries': '--retries',
  protocol: '--protocol',
  resume: '--resume',
  checkpointStore: '--checkpoint',
  allowInsecureHttp: '--allow-insecure-http',
  s3: '--s3',
  's3.bucket': '--s3 s3://BUCKET/…',
  's3.key': '--s3 s3://…/KEY',
  's3.region': '--region',
  's3.endpoint': '--endpoint',
  's3.queueSize': '--queue-size',
};

export const CP_FLAGS: FlagNames = {
  url: 'DEST',
  'resume.url': "the checkpoint's session URL",
  chunkSize: '--chunk-size',
  totalSize: '--total',
  uploadLength: '--total',
  checksum: '--checksum',
  headers: '--header',
  'retry.retries': '--retries',
  checkpointStore: '--checkpoint',
  allowInsecureHttp: '--allow-insecure-http',
  apiEndpoint: '--endpoint',
  endpoint: 'DEST',
  contentType: '--content-type',
  metadata: '--metadata',
  bucket: 'DEST gs://BUCKET/…',
  name: 'DEST gs://…/OBJECT',
  s3: 'DEST s3://BUCKET/KEY',
  's3.bucket': 'DEST s3://BUCKET/…',
  's3.key': 'DEST s3://…/KEY',
  's3.region': '--region',
  's3.endpoint': '--endpoint',
  's3.queueSize': '--parallel',
  's3.contentType': '--content-type',
};

export const INIT_FLAGS: FlagNames = {
  url: '--endpoint',
  apiEndpoint: '--endpoint',
  endpoint: '--endpoint',
  allowInsecureHttp: '--allow-insecure-http',
  bucket: '--bucket',
  name: '--name',
  table: '--table',
  size: '--size',
  uploadLength: '--size',
  api: '--api',
  metadata: '--metadata',
  contentType: '--content-type',
};

/**
 * A library message in the CLI's words: "Expected `chunkSize` to be …" becomes "--chunk-size
 * must be …", "set `allowInsecureHttp: true`" becomes "pass --allow-insecure-http". A name
 * without a flag keeps its backticks (a test pins that the CLI's reachable errors have none).
 */
export function inFlags(message: string, flags: FlagNames): string {
  const flag = (name: string) => flags[name] ?? flags[name.replace(/\..*$/, '')];
  return message
    // The CLI takes S3 credentials from the environment only: the option alternative is moot.
    .replace('Expected `s3.credentials`, or ', 'Expected ')
    // The CLI has no credential flags: the environment and the cloud's own files are its sources.
    .replace(', or pass `s3.credentials`', ', or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY')
    // The CLI's GCS credentials: --token or GCS_TOKEN, else Application Default Credentials.
    .replace(', or pass `token`, `getToken` or `auth`', ', or pass --token (or set GCS_TOKEN)')
    .replace('createGcsSession({ metadata, contentType, headers })', 'rws init gcs --metadata K=V --content-type T')
    .replace(/\bset `(\w+): true`/g, (whole, name: string) => (flag(name) ? `pass ${flag(name)}` : whole))
    .replace(/Expected `([\w.]+)`((?: \([^)]*\))?) to (be|use)\b/g, (whole, name: string, aside: string, verb: string) =>
      flag(name) ? `${flag(name)}${aside} must ${verb}` : whole,
    )
    .replace(/`([\w.]+)(?:: '?([^`']*)'?)?`/g, (whole, name: string, value: string | undefined) => {
      const named = flag(name);
      if (!named) return whole;
      return value === undefined || value === 'true' ? named : `${named} ${value}`;
    });
}
