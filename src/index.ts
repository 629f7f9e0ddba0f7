export { createResumableWriteStream } from './create-resumable-write-stream.js';
export { ResumableWriteStream } from './resumable-write-stream.js';
export type { CancelResult, ResumableWriteStreamEvents } from './resumable-write-stream.js';
export type { RetryEvent, UploadProgress } from './uploader.js';
export type { UploadResult } from './upload-answers.js';
export type { ResumableWriteStreamOptions, RetryOptions, S3Options, SessionFactory, TimeoutOptions } from './options/index.js';
export type { S3ObjectResult } from './protocols/s3/xml.js';
export type { GcsHmacKey, GcsMultipartOptions } from './protocols/gcs-multipart/options.js';
export type { GcsObjectResult } from './protocols/gcs-multipart/wire.js';
export type { S3CredentialProvider, S3Credentials } from './credentials/aws.js';
export type { AzureOptions } from './protocols/azure/options.js';
export type { AzureAccessToken, AzureTokenCredential } from './protocols/azure/auth.js';
export type { AzureBlobResult } from './protocols/azure/adapter.js';
export { DEFAULT_CHUNK_SIZE } from './options/index.js';
export { CHUNK_ALIGNMENT } from './content-range.js';
export {
  AbortedError,
  CheckpointError,
  CredentialsError,
  ChecksumMismatchError,
  HttpStatusError,
  NetworkError,
  ProtocolError,
  ResumableUploadError,
  RetriesExhaustedError,
  ResumeMismatchError,
  SessionExpiredError,
  SizeMismatchError,
  TimeoutError,
  TlsError,
  redactUrl,
} from './errors.js';
export type { ErrorContext, ResumableUploadErrorCode } from './errors.js';
export { initiateSession } from './initiation.js';
export type { InitiateSessionOptions, TokenOptions } from './initiation.js';
export { createGcsSession, createRedivisSession } from './protocols/gcs/session.js';
export type { GcsSessionOptions, RedivisSession, RedivisSessionOptions } from './protocols/gcs/session.js';
export { createTusUpload } from './protocols/tus/creation.js';
export type { TusUploadOptions } from './protocols/tus/creation.js';
export type { ProtocolName } from './protocol.js';
export { createFileCheckpointStore, parseCheckpoint } from './checkpoint.js';
export type { Checkpoint, CheckpointStore } from './checkpoint.js';
export type { ChecksumOption, Digests } from './checksum.js';
export { createMemoryBudget, MemoryBudget } from './memory-budget.js';
