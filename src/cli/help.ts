/** `--help` of every command and subcommand, and `--version`. */
import { readFileSync } from 'node:fs';

const GENERAL = `rws: stream a file or a shell pipe to a resumable upload (GCS, Redivis, tus 1.0, S3 multipart).

Usage:
  rws cp SRC DEST [options]                     copy a file or stdin (-) to gs://, s3://, tus (rws cp --help)
  rws upload <session-url> [file|-] [options]   upload to a session (rws upload --help)
  rws init gcs|redivis|tus [options]            start a session, print its URL (rws init --help)
  rws serve [options]                           run the loopback test server (rws serve --help)
  rws demo                                      an upload through injected faults, end to end
  rws --version                                 print the version
Every command takes --help (or -h); 'rws help upload' is 'rws upload --help'.

Examples:
  tar c /srv/data | rws cp - gs://my-bucket/backup.tar.gz --gzip --checkpoint /var/tmp/backup.ckpt
  journalctl -f | rws cp - s3://logs/host1.log --finalize-on-signal
  SESSION_URL=$(rws init gcs --bucket my-bucket --name backup.tar.gz)
  tar c /srv/data | rws upload "$SESSION_URL" --gzip --checkpoint /var/tmp/backup.ckpt
  tar c /srv/data | rws upload --resume /var/tmp/backup.ckpt --gzip

Exit status: 0 success, 1 the upload failed, 2 usage error, 130 interrupted (Ctrl-C).
The session URL is a credential: only rws init prints it.`;

const CP = `Usage:
  rws cp SRC gs://BUCKET/OBJECT [options]     a GCS resumable upload (credentials: --token, GCS_TOKEN,
                                              else Application Default Credentials; an emulator:
                                              STORAGE_EMULATOR_HOST or --endpoint, no credentials sent)
  rws cp SRC s3://BUCKET/KEY [options]        S3 multipart (credentials: AWS_* env, ~/.aws and AWS_PROFILE,
                                              SSO, web identity, ECS, IMDS; region: --region, AWS_REGION,
                                              else the profile's region in ~/.aws/config)
  rws cp SRC gs://BUCKET/OBJECT --parallel N  GCS XML multipart: N parts in flight (same credentials)
  rws cp SRC https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB[?SAS] [options]
                                              an Azure block blob (credentials: a SAS in DEST, else
                                              AZURE_STORAGE_KEY, else DefaultAzureCredential)
  rws cp SRC URL --protocol tus [options]     a new upload at a tus endpoint (creation)
  rws cp SRC SESSION_URL [options]            a session already started (rws init)
SRC is a file, or - for stdin.

Options:
  --content-type T        the object's Content-Type (tus: Upload-Metadata filetype)
  --metadata K=V          custom object metadata (repeatable): GCS metadata, S3 x-amz-meta-K,
                          tus Upload-Metadata
  --cache-control V       the object's Cache-Control (gs://, s3://)
  --content-encoding V    the object's Content-Encoding (gs://, s3://)
  --storage-class C       the storage class, e.g. NEARLINE (gs://) or STANDARD_IA (s3://)
  --gzip                  compress on the fly. The object is the gzip stream itself, with no
                          Content-Encoding (a .gz file, as a backup wants); add
                          --content-encoding gzip for gsutil cp -Z's transparent decompression
  --checkpoint FILE       resume from FILE when it holds this destination's checkpoint, else start
                          a new upload saving checkpoints there (removed after success): one
                          command line for a cron job or a restarting service
  --finalize-on-signal    on the first SIGTERM/SIGINT end the input and finalize what was read (a
                          live source); a second one aborts. Default: abort, nothing finalized
  --parallel N            parts in flight at once (s3:// and Azure: default 4); with gs:// it
                          selects GCS's XML multipart upload instead of a resumable session
  --endpoint URL          another GCS endpoint (an emulator), an S3-compatible one (MinIO, R2), or
                          an Azure emulator (Azurite: http://127.0.0.1:10000)
  --region R              the S3 region
  --token T               a GCS OAuth2 access token (default: GCS_TOKEN)
  --protocol tus|azure|gcs  tus: DEST is a tus creation endpoint; azure: DEST is a blob URL (an
                          emulator's, path-style); gcs (default): DEST is a session URL
  --chunk-size SIZE       bytes per request (default 8MiB; gs:// a multiple of 256KiB, s3:// >= 5MiB)
  --total SIZE            the exact size (a file without --gzip declares its own)
  --checksum ALG          crc32c (default), md5, both or none
  --header 'Name: value'  an extra header on every upload request (repeatable)
  --retries N             retries in a row before giving up (default 10)
  --allow-insecure-http   allow plain http to a host that is not loopback
  --json                  one JSON object per event on stdout (progress: bytesWritten,
                          bytesSent, bytesCommitted)
  -h, --help              this help

Exit status: 0 success, 1 the upload failed, 2 usage error, 130 SIGINT, 143 SIGTERM.

Examples:
  rws cp backup.tar.gz gs://my-bucket/backup.tar.gz
  tar c /srv/data | rws cp - gs://my-bucket/data.tar.gz --gzip --checkpoint /var/tmp/data.ckpt
  pg_dump db | rws cp - s3://backups/db.sql.gz --gzip --storage-class STANDARD_IA
  rws cp app.log http://127.0.0.1:1080/files/ --protocol tus --metadata filename=app.log
  journalctl -f | rws cp - gs://logs/host1.log --finalize-on-signal --checkpoint /var/tmp/log.ckpt`;

const UPLOAD = `Usage:
  rws upload <session-url> [file|-] [options]        to a GCS / Redivis / Content-Range session
  rws upload --protocol tus <upload-url> [file|-]    to a tus upload (see rws init tus)
  rws upload --s3 s3://BUCKET/KEY [file|-]           to S3 multipart (AWS credentials: env, ~/.aws, SSO, IMDS…)
  rws upload --resume FILE [file|-] [options]        resume from a checkpoint file (the same input again)
  rws upload <session-url> --resume FILE [file|-]    resume from FILE if it holds a checkpoint, else from
                                                     wherever the server stands, saving checkpoints to FILE
Without a file, or with -, the input is stdin.

Options:
  --gzip                  compress on the fly
  --protocol P            gcs (default) or tus; a --resume file says which itself
  --s3 s3://BUCKET/KEY    upload to S3; with --endpoint URL (MinIO, R2, Ceph), --region R, --queue-size N
  --chunk-size SIZE       bytes per request: gcs a multiple of 256KiB, s3 5MiB to 5GiB (default 8MiB)
  --total SIZE            the exact size. A file argument without --gzip declares its own size (so
                          the bar shows % and ETA); a file that changes while read then fails, with
                          nothing finalized (pipe it: cat FILE | rws upload ... to declare no size)
  --checksum ALG          crc32c (default), md5, both or none
  --header 'Name: value'  an extra request header (repeatable)
  --checkpoint FILE       save a checkpoint after every acknowledgement (removed after success)
  --resume FILE           resume from (and keep saving to) a checkpoint file
  --continue              resume <session-url> from wherever the server stands, without a checkpoint
  --retries N             retries in a row before giving up (default 10)
  --allow-insecure-http   allow a plain http URL to a host that is not loopback (anyone on the
                          path can read the session URL, a credential)
  --json                  one JSON object per event on stdout
  -h, --help              this help

Sizes: 256KiB, 16MiB, 8M, 1.5GiB (powers of 1024); 100KB, 5MB (powers of 1000).

Examples:
  tar c /srv/data | rws upload "$SESSION_URL" --gzip --chunk-size 16MiB --checkpoint /var/tmp/b.ckpt
  tar c /srv/data | rws upload --resume /var/tmp/b.ckpt --gzip --chunk-size 16MiB
  rws upload "$SESSION_URL" big.log --checksum both --header 'x-goog-meta-host: web1'
  rws upload --protocol tus "$UPLOAD_URL" app.log
  pg_dump db | rws upload --s3 s3://backups/db.sql.gz --gzip --checkpoint /var/tmp/db.ckpt
  rws upload --s3 s3://backups/db.sql --endpoint http://minio.lan:9000 --allow-insecure-http db.sql`;

const INIT = `Usage:
  rws init gcs --bucket B --name N [options]     a GCS resumable session (JSON or XML API)
  rws init redivis --table T --size N [options]  a Redivis resumable upload
  rws init tus --endpoint URL [options]          a tus 1.0 upload (creation)
Prints the session URL on stdout (a credential: keep it out of logs). 'rws init gcs --help' and
so on tell each one's options.

Examples:
  SESSION_URL=$(rws init gcs --bucket my-bucket --name "backups/$(date +%F).tar.gz")
  UPLOAD_URL=$(rws init tus --endpoint https://tus.example.com/files/ --metadata filename=app.log)`;

const COMMON_INIT = `  --allow-insecure-http   allow a plain http --endpoint that is not loopback (the token and the
                          session URL would cross the network in the clear)
  --json                  print {"url": …} instead of the bare URL
  -h, --help              this help`;

const INIT_GCS = `Usage: rws init gcs --bucket B --name N [options]

Options:
  --bucket B              the bucket
  --name N                the object name
  --token T               an OAuth2 access token (default: GCS_TOKEN, else Application
                          Default Credentials: GOOGLE_APPLICATION_CREDENTIALS, gcloud, metadata)
  --api json|xml          the JSON API (default) or the XML API
  --content-type T        the object's Content-Type
  --metadata K=V          custom object metadata (repeatable); GCS reads it only here, when the
                          session starts, never from the chunks
  --endpoint URL          another endpoint than https://storage.googleapis.com (an emulator)
${COMMON_INIT}

Examples:
  SESSION_URL=$(GCS_TOKEN=$(gcloud auth print-access-token) rws init gcs --bucket b --name n.tar.gz)
  rws init gcs --endpoint http://127.0.0.1:4443 --bucket test --name object`;

const INIT_REDIVIS = `Usage: rws init redivis --table T --size N [options]
Prints the session URL on stdout and the upload id on stderr (both with --json).

Options:
  --table T               the qualified table reference (user.dataset.table)
  --size N                the upload's size (Redivis needs it up front): 123456, 1.5GiB
  --token T               an API token (default: REDIVIS_TOKEN from the environment)
  --endpoint URL          another endpoint than https://redivis.com
${COMMON_INIT}

Example:
  rws init redivis --table user.dataset.table --size 123456 --json`;

const INIT_TUS = `Usage: rws init tus --endpoint URL [options]

Options:
  --endpoint URL          the tus server's creation URL, e.g. https://tus.example.com/files/
  --metadata key=value    Upload-Metadata (repeatable)
  --size N                the upload's length, when known (default: deferred)
${COMMON_INIT}

Example:
  UPLOAD_URL=$(rws init tus --endpoint https://tus.example.com/files/ --metadata filename=app.log)
  rws upload --protocol tus "$UPLOAD_URL" app.log`;

const SERVE = `Usage: rws serve [options]
Runs the loopback GCS-like test server on 127.0.0.1 until Ctrl-C; prints its base URL on stdout.

Options:
  --port P                the port (default: any free one)
  --fault NAME            a fault on every session (repeatable), e.g. return-503, return-503-after-256K,
                          return-reset-connection, persist-only-64K, stall-for-2s, session-gone
  --latency 30ms          delay before every answer
  --bandwidth 100MB/s     throttle every body
  --dialect gcs|redivis   which service to mimic (default gcs)
  --token T               require this bearer token
  --s3                    run the loopback S3 server instead (keys test-key / test-secret, region
                          us-east-1; no other option)
  -h, --help              this help

Example:
  rws serve --fault return-503-after-1024K --latency 30ms &
  SESSION_URL=$(rws init gcs --endpoint http://127.0.0.1:PORT --bucket test --name object)`;

const DEMO = `Usage: rws demo
Gzips a generated log (148 MiB) into a session on the embedded loopback server while it injects
faults (a 503 mid-body, a reset, partial persistence, a 429, a lost final answer), shows progress
and retries, and compares the stored object with what was written. Takes no options.

Example:
  rws demo            (what npm run demo runs)`;

const HELP: Record<string, string> = {
  '': GENERAL,
  cp: CP,
  upload: UPLOAD,
  init: INIT,
  'init gcs': INIT_GCS,
  'init redivis': INIT_REDIVIS,
  'init tus': INIT_TUS,
  serve: SERVE,
  demo: DEMO,
};

/** The help of `rws <topic>` ('init gcs', 'upload', '' for rws itself); undefined for no such command. */
export function helpText(topic: string): string | undefined {
  return HELP[topic];
}

/** Whether the arguments ask for help (before a `--`, after which everything is positional). */
export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

export function version(): string {
  const manifest = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}
