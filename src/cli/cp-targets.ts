/**
 * Where `rws cp` writes: a destination argument read into one of five kinds, and each kind's
 * stream options. Object properties (Content-Type, custom metadata, storage class…) go where
 * each service reads them: GCS and tus in the request that starts the session (GCS multipart:
 * its initiation), S3 on CreateMultipartUpload, Azure on Put Block List. A property a
 * destination has no place for is a usage error naming its flag, never dropped.
 */
import { createGcsSession, createTusUpload, type ProtocolName, type ResumableWriteStreamOptions, type S3Options } from '../index.js';
import { gcsEndpoint } from '../credentials/gcs.js';
import { profileRegion } from './aws-config.js';
import { UsageError } from './units.js';

export type Destination =
  | { readonly kind: 'gcs'; readonly bucket: string; readonly name: string }
  | { readonly kind: 's3'; readonly bucket: string; readonly key: string }
  | { readonly kind: 'tus'; readonly endpoint: string }
  /** A block blob: its URL (a SAS in its query is the credential). */
  | { readonly kind: 'azure'; readonly url: string }
  | { readonly kind: 'session'; readonly url: string };

/** What the user asked the object to carry; undefined fields were not asked for. */
export interface ObjectProperties {
  readonly contentType: string | undefined;
  readonly cacheControl: string | undefined;
  readonly contentEncoding: string | undefined;
  readonly storageClass: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
}

/** The flags that don't depend on the destination's kind but shape its session. */
export interface TargetFlags {
  readonly endpoint: string | undefined;
  readonly region: string | undefined;
  readonly token: string | undefined;
  readonly parallel: number | undefined;
  readonly allowInsecureHttp: boolean;
  /** The exact size when known: tus declares it when it creates the upload. */
  readonly totalSize: number | undefined;
}

const DEST_HELP = 'DEST expects gs://BUCKET/OBJECT, s3://BUCKET/KEY, an Azure blob URL, a tus endpoint URL (with --protocol tus) or a session URL';
/** Azure's own blob endpoints: `https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB`. */
const AZURE_BLOB = /^https:\/\/[a-z0-9]+\.blob\.core\.windows\.net\/[^/?]+\/[^?]+/i;

export function parseDestination(dest: string, protocol: string | undefined): Destination {
  const cloud = /^(gs|s3):\/\/([^/]+)\/(.+)$/.exec(dest);
  if (cloud) {
    const [, scheme, bucket = '', object = ''] = cloud;
    const kind = scheme === 'gs' ? 'gcs' : 's3';
    if (protocol !== undefined && protocol !== kind) throw new UsageError(`--protocol ${protocol} does not go with ${scheme}:// (leave --protocol out)`);
    return kind === 'gcs' ? { kind, bucket, name: object } : { kind, bucket, key: object };
  }
  if (/^(gs|s3):\/\//.test(dest)) throw new UsageError(`${DEST_HELP}: ${JSON.stringify(dest)} names no object`);
  if (!/^https?:\/\//i.test(dest)) throw new UsageError(`${DEST_HELP}, not ${JSON.stringify(dest)} (rws cp uploads; it does not download)`);
  if (protocol === 'tus') return { kind: 'tus', endpoint: dest };
  if (protocol === 'azure' || (protocol === undefined && AZURE_BLOB.test(dest))) return { kind: 'azure', url: dest };
  if (protocol === undefined || protocol === 'gcs') return { kind: 'session', url: dest };
  throw new UsageError(`--protocol expects tus (a tus endpoint URL), azure (a blob URL) or gcs (a session URL), not ${JSON.stringify(protocol)}`);
}

/** Who the destination is, for telling whether a checkpoint file belongs to it: no credential in it. */
export function destinationId(dest: Destination, flags: TargetFlags): string {
  switch (dest.kind) {
    case 'gcs':
      return `gs://${dest.bucket}/${dest.name} at ${gcsEndpoint(flags.endpoint).endpoint}`;
    case 's3':
      return `s3://${dest.bucket}/${dest.key} at ${flags.endpoint ?? (process.env['AWS_ENDPOINT_URL_S3'] || process.env['AWS_ENDPOINT_URL'] || 'AWS')}`;
    case 'tus':
      return `tus ${dest.endpoint}`;
    case 'session':
      return `session ${dest.url}`;
    case 'azure':
      // Printed when a checkpoint file belongs to another upload: the SAS stays out.
      return `azure ${azureUrl(dest, flags).split('?')[0]}`;
  }
}

/** The protocol a destination is written with (a checkpoint file must be of the same). */
export function destinationProtocol(dest: Destination, flags: TargetFlags): ProtocolName {
  if (dest.kind === 'gcs') return flags.parallel === undefined ? 'gcs' : 'gcs-multipart';
  return dest.kind === 'session' ? 'gcs' : dest.kind;
}

/**
 * What `--parallel N` selects for each destination: parts in flight for S3 and Azure; for gs://
 * GCS's XML multipart upload instead of a resumable session (see targetOptions).
 */
export function parallelOptions(dest: Destination, parallel: number | undefined): Pick<ResumableWriteStreamOptions, 'queueSize'> {
  if (parallel === undefined) return {};
  if (parallel < 1) throw new UsageError(`--parallel expects a whole number of parts in flight, at least 1, not ${parallel}`);
  if (dest.kind === 's3' || dest.kind === 'gcs' || dest.kind === 'azure') return { queueSize: parallel };
  throw new UsageError(`--parallel needs gs://, s3:// or an Azure blob (a ${dest.kind === 'tus' ? 'tus upload' : 'session URL'} takes its bytes in order, one request at a time)`);
}

/** The stream options that say where the bytes go (a lazily created session, or S3's target). */
export function targetOptions(dest: Destination, props: ObjectProperties, flags: TargetFlags): Partial<ResumableWriteStreamOptions> {
  switch (dest.kind) {
    case 'gcs':
      if (flags.parallel !== undefined) return gcsMultipartOptions(dest, props, flags);
      return { protocol: 'gcs', url: () => createGcsSession(gcsSessionOptions(dest, props, flags)) };
    case 's3':
      return { protocol: 's3', s3: s3Options(dest, props, flags), headers: s3ObjectHeaders(props), ...parallelOptions(dest, flags.parallel) };
    case 'azure':
      return azureOptions(dest, props, flags);
    case 'tus':
      return { protocol: 'tus', url: () => createTusUpload(tusUploadOptions(dest, props, flags)) };
    case 'session':
      refuseProperties(props, 'a session URL: its object was described when the session started (rws init gcs takes them)');
      return { protocol: 'gcs', url: dest.url };
  }
}

function gcsSessionOptions(dest: Extract<Destination, { kind: 'gcs' }>, props: ObjectProperties, flags: TargetFlags) {
  const resource = {
    ...(Object.keys(props.metadata).length === 0 ? {} : { metadata: props.metadata }),
    ...(props.cacheControl === undefined ? {} : { cacheControl: props.cacheControl }),
    ...(props.contentEncoding === undefined ? {} : { contentEncoding: props.contentEncoding }),
    ...(props.storageClass === undefined ? {} : { storageClass: props.storageClass }),
  };
  const token = flags.token ?? process.env['GCS_TOKEN'];
  return {
    bucket: dest.bucket,
    name: dest.name,
    metadata: resource,
    ...(props.contentType === undefined ? {} : { contentType: props.contentType }),
    ...(token ? { token } : {}),
    ...(flags.endpoint === undefined ? {} : { apiEndpoint: flags.endpoint }),
    ...(flags.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
  };
}

function s3Options(dest: Extract<Destination, { kind: 's3' }>, props: ObjectProperties, flags: TargetFlags): S3Options {
  const region = flags.region ?? (process.env['AWS_REGION'] || process.env['AWS_DEFAULT_REGION'] || profileRegion());
  return {
    bucket: dest.bucket,
    key: dest.key,
    ...(region === undefined ? {} : { region }),
    ...(flags.endpoint === undefined ? {} : { endpoint: flags.endpoint }),
    ...(props.contentType === undefined ? {} : { contentType: props.contentType }),
  };
}

/** gs:// with --parallel: GCS's XML multipart upload, the object's properties on its initiation. */
function gcsMultipartOptions(dest: Extract<Destination, { kind: 'gcs' }>, props: ObjectProperties, flags: TargetFlags): Partial<ResumableWriteStreamOptions> {
  const token = flags.token ?? process.env['GCS_TOKEN'];
  const headers: Record<string, string> = {};
  if (props.cacheControl !== undefined) headers['cache-control'] = props.cacheControl;
  if (props.contentEncoding !== undefined) headers['content-encoding'] = props.contentEncoding;
  if (props.storageClass !== undefined) headers['x-goog-storage-class'] = props.storageClass;
  const gcs = {
    bucket: dest.bucket,
    name: dest.name,
    ...(Object.keys(props.metadata).length === 0 ? {} : { metadata: { ...props.metadata } }),
    ...(props.contentType === undefined ? {} : { contentType: props.contentType }),
    ...(token ? { token } : {}),
    ...(flags.endpoint === undefined ? {} : { apiEndpoint: flags.endpoint }),
  };
  return { protocol: 'gcs-multipart', gcs, headers, ...parallelOptions(dest, flags.parallel) };
}

/**
 * An Azure blob: its URL (`--endpoint` points an `ACCOUNT.blob.core.windows.net` URL at an
 * emulator, path-style), the credential a SAS in it or else AZURE_STORAGE_KEY (Shared Key; the
 * library's default otherwise: DefaultAzureCredential), the properties on Put Block List.
 */
function azureOptions(dest: Extract<Destination, { kind: 'azure' }>, props: ObjectProperties, flags: TargetFlags): Partial<ResumableWriteStreamOptions> {
  const url = azureUrl(dest, flags);
  const key = process.env['AZURE_STORAGE_KEY'];
  const sas = new URL(url).searchParams.has('sig');
  const headers: Record<string, string> = {};
  if (props.cacheControl !== undefined) headers['x-ms-blob-cache-control'] = props.cacheControl;
  if (props.contentEncoding !== undefined) headers['x-ms-blob-content-encoding'] = props.contentEncoding;
  if (props.storageClass !== undefined) headers['x-ms-access-tier'] = props.storageClass;
  for (const [name, value] of Object.entries(props.metadata)) {
    // Azure sends metadata as headers whose names must be C# identifiers.
    if (!/^[A-Za-z_]\w*$/.test(name)) throw new UsageError(`--metadata ${name}=… : Azure metadata names are letters, digits and '_', not starting with a digit`);
    headers[`x-ms-meta-${name.toLowerCase()}`] = value;
  }
  const azure = {
    ...(!sas && key ? { accountKey: key, ...(process.env['AZURE_STORAGE_ACCOUNT'] ? { accountName: process.env['AZURE_STORAGE_ACCOUNT'] } : {}) } : {}),
    ...(props.contentType === undefined ? {} : { contentType: props.contentType }),
  };
  return { protocol: 'azure', url, azure, headers, ...parallelOptions(dest, flags.parallel) };
}

/** The blob URL, moved to `--endpoint` (path-style: ENDPOINT/ACCOUNT/CONTAINER/BLOB) when one is given. */
function azureUrl(dest: Extract<Destination, { kind: 'azure' }>, flags: TargetFlags): string {
  if (flags.endpoint === undefined) return dest.url;
  const parsed = new URL(dest.url);
  const account = /^([a-z0-9]+)\.blob\.core\.windows\.net$/i.exec(parsed.hostname)?.[1];
  if (account === undefined) throw new UsageError('--endpoint with an Azure blob takes DEST as https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB (or give the emulator\'s blob URL as DEST, with --protocol azure)');
  return `${flags.endpoint.replace(/\/+$/, '')}/${account}${parsed.pathname}${parsed.search}`;
}

/** S3 reads object properties as headers of CreateMultipartUpload; the library places them there. */
function s3ObjectHeaders(props: ObjectProperties): Record<string, string> {
  const headers: Record<string, string> = {};
  if (props.cacheControl !== undefined) headers['cache-control'] = props.cacheControl;
  if (props.contentEncoding !== undefined) headers['content-encoding'] = props.contentEncoding;
  if (props.storageClass !== undefined) headers['x-amz-storage-class'] = props.storageClass;
  for (const [key, value] of Object.entries(props.metadata)) {
    // S3 sends metadata as headers: a value outside printable ASCII would not survive.
    if (!/^[\x20-\x7e]*$/.test(value)) throw new UsageError(`--metadata ${key}=… : S3 metadata values must be printable ASCII`);
    headers[`x-amz-meta-${key.toLowerCase()}`] = value;
  }
  return headers;
}

function tusUploadOptions(dest: Extract<Destination, { kind: 'tus' }>, props: ObjectProperties, flags: TargetFlags) {
  const { contentType, ...rest } = props;
  refuseProperties({ ...rest, contentType: undefined, metadata: {} }, 'tus (Upload-Metadata holds only --metadata and --content-type)');
  // tus has no Content-Type of its own; `filetype` is the metadata key tus clients and servers use.
  const metadata = { ...props.metadata, ...(contentType === undefined ? {} : { filetype: contentType }) };
  return {
    endpoint: dest.endpoint,
    ...(Object.keys(metadata).length === 0 ? {} : { metadata }),
    ...(flags.totalSize === undefined ? {} : { uploadLength: flags.totalSize }),
    ...(flags.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
  };
}

/** Checked before anything is sent: a property that has nowhere to go is refused by its flag. */
export function checkPlacement(dest: Destination, props: ObjectProperties, flags: TargetFlags): void {
  if (dest.kind === 'tus') tusUploadOptions(dest, props, flags);
  if (dest.kind === 's3') s3ObjectHeaders(props);
  if (dest.kind !== 's3' && flags.region !== undefined) throw new UsageError('--region is for s3:// destinations');
  if (dest.kind !== 'gcs' && flags.token !== undefined) throw new UsageError('--token is for gs:// destinations (S3 credentials come from the AWS environment and profiles; Azure: a SAS in DEST or AZURE_STORAGE_KEY)');
  if ((dest.kind === 'tus' || dest.kind === 'session') && flags.endpoint !== undefined) throw new UsageError(`--endpoint is for gs://, s3:// and Azure blobs; the ${dest.kind === 'tus' ? 'tus endpoint' : 'session URL'} is DEST itself`);
  if (dest.kind === 'azure') azureOptions(dest, props, flags);
  parallelOptions(dest, flags.parallel);
  if (dest.kind === 'session') targetOptions(dest, props, flags);
}

function refuseProperties(props: ObjectProperties, where: string): void {
  const given = [
    props.contentType === undefined ? undefined : '--content-type',
    props.cacheControl === undefined ? undefined : '--cache-control',
    props.contentEncoding === undefined ? undefined : '--content-encoding',
    props.storageClass === undefined ? undefined : '--storage-class',
    Object.keys(props.metadata).length === 0 ? undefined : '--metadata',
  ].filter((flag) => flag !== undefined);
  if (given.length > 0) throw new UsageError(`${given.join(', ')} cannot be applied to ${where}`);
}
