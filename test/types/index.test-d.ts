import { expectAssignable, expectError, expectType } from 'tsd';
import type { Writable } from 'node:stream';
import { fromIni } from '@aws-sdk/credential-providers';
import { GoogleAuth } from 'google-auth-library';
import {
  createGcsSession,
  createResumableWriteStream,
  createTusUpload,
  type S3CredentialProvider,
  ResumableUploadError,
  type ProtocolName,
  type ResumableUploadErrorCode,
  type ResumableWriteStream,
  type ResumableWriteStreamOptions,
  type RetryEvent,
  type UploadProgress,
  type UploadResult,
} from '../../dist/index.js';
import { createTestServer, type TestServer } from '../../dist/testing/index.js';

const stream = createResumableWriteStream({ url: 'https://example.com/upload?upload_id=x' });
expectType<ResumableWriteStream>(stream);
expectAssignable<Writable>(stream);
expectType<number>(stream.bytesWritten);
expectType<number>(stream.bytesCommitted);
expectType<UploadResult | undefined>(stream.result);
expectType<Promise<{ readonly status: number | undefined }>>(stream.cancel());

createResumableWriteStream({
  url: new URL('https://example.com'),
  chunkSize: 16 * 1024 * 1024,
  totalSize: 10,
  headers: { 'x-goog-user-project': 'b' },
  retry: { retries: 3, minTimeout: 100, maxTimeout: 1000, factor: 2, randomize: false, maxRetryTime: 60_000 },
  timeouts: { headersTimeout: 1000, bodyTimeout: 1000 },
  signal: AbortSignal.timeout(1000),
});

expectError(createResumableWriteStream({ url: 42 }));
expectError(createResumableWriteStream({ url: 'x', checksum: 'sha1' }));
expectError(createResumableWriteStream({ url: 'x', resumeInput: 'middle' }));
expectError(createResumableWriteStream({ url: 'x', chunkSize: '8MiB' }));
expectError(createResumableWriteStream({ url: 'x', retry: { retries: 'many' } }));

stream.on('progress', (progress) => expectType<UploadProgress>(progress));
stream.on('progress', (progress) => expectType<number>(progress.bytesSent));
stream.on('retry', (event) => {
  expectType<RetryEvent>(event);
  expectType<number>(event.delayMs);
  // Only typed errors are retried: no instanceof needed to read the code.
  expectType<ResumableUploadError>(event.error);
  expectType<ResumableUploadErrorCode>(event.error.code);
});
stream.on('error', (error) => {
  if (error instanceof ResumableUploadError) {
    expectType<ResumableUploadErrorCode>(error.code);
    expectType<number | undefined>(error.bytesCommitted);
  }
});

expectType<Promise<TestServer>>(createTestServer({ faults: ['return-503', { fault: 'omit-range', on: 2 }] }));

// Protocols: tus with an upload URL (or createTusUpload as a factory), S3 with its own options.
createResumableWriteStream({ protocol: 'tus', url: () => createTusUpload({ endpoint: 'https://tus.example/files/', metadata: { filename: 'a' } }) });
createResumableWriteStream({ s3: { bucket: 'b', key: 'k', region: 'eu-west-1', queueSize: 4, credentials: { accessKeyId: 'a', secretAccessKey: 's' } } });
expectType<Promise<string>>(createTusUpload({ endpoint: 'https://tus.example/files/' }));
// queueSize: parts in flight, top-level for every parts protocol (s3.queueSize is its alias).
createResumableWriteStream({ s3: { bucket: 'b', key: 'k' }, queueSize: 8 });
expectType<number | undefined>(({} as ResumableWriteStreamOptions).queueSize);
expectError(createResumableWriteStream({ s3: { bucket: 'b', key: 'k' }, queueSize: '8' }));
expectAssignable<ProtocolName>('s3');
expectAssignable<ProtocolName>('gcs-multipart');
expectAssignable<ResumableWriteStreamOptions>({ gcs: { bucket: 'b', name: 'n', hmac: { accessId: 'GOOG1', secret: 's' }, queueSize: 8 } });
expectAssignable<ResumableWriteStreamOptions>({ gcs: { bucket: 'b', name: 'n', getToken: async () => 't', metadata: { a: 'b' } } });
expectError(createResumableWriteStream({ gcs: { bucket: 'b' } }));
expectError(createResumableWriteStream({ url: 'x', protocol: 'ftp' }));
expectError(createResumableWriteStream({ s3: { bucket: 'b' } }));
// Credentials: an AWS SDK provider or a function of one's own; a GoogleAuth for GCS sessions.
createResumableWriteStream({ s3: { bucket: 'b', key: 'k', credentials: fromIni({ profile: 'dev' }) } });
expectAssignable<S3CredentialProvider>(async () => ({ accessKeyId: 'a', secretAccessKey: 's', sessionToken: 't', expiration: new Date() }));
expectError(createResumableWriteStream({ s3: { bucket: 'b', key: 'k', credentials: async () => ({ accessKeyId: 'a' }) } }));
void createGcsSession({ bucket: 'b', name: 'n', auth: new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/devstorage.read_write'] }) });
void createGcsSession({ bucket: 'b', name: 'n', auth: await new GoogleAuth().getClient() });
void createGcsSession({ bucket: 'b', name: 'n', useAuthWithCustomEndpoint: true });

// Azure Block Blobs: `url` is the blob URL; the credential is a SAS in it, a key, or a TokenCredential.
createResumableWriteStream({ protocol: 'azure', url: 'https://a.blob.core.windows.net/c/b?sig=x', queueSize: 4 });
createResumableWriteStream({ url: 'https://a.blob.core.windows.net/c/b', azure: { accountKey: 'a2V5' } });
createResumableWriteStream({ url: 'https://a.blob.core.windows.net/c/b', azure: { credential: { getToken: async () => ({ token: 't', expiresOnTimestamp: 0 }) } } });
expectAssignable<ProtocolName>('azure');
expectError(createResumableWriteStream({ url: 'https://a.blob.core.windows.net/c/b', azure: { credential: { getToken: () => 'token' } } }));
