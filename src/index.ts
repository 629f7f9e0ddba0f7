export { createResumableWriteStream } from './create-resumable-write-stream.js';
export { ResumableWriteStream } from './resumable-write-stream.js';
export type { CancelResult, ResumableWriteStreamEvents } from './resumable-write-stream.js';
export type { RetryEvent, UploadProgress, UploadResult } from './chunk-uploader.js';
export type { ResumableWriteStreamOptions, RetryOptions, TimeoutOptions } from './options.js';
export { DEFAULT_CHUNK_SIZE } from './options.js';
export { CHUNK_ALIGNMENT } from './content-range.js';
export {
  AbortedError,
  HttpStatusError,
  NetworkError,
  ProtocolError,
  ResumableUploadError,
  RetriesExhaustedError,
  SessionExpiredError,
  SizeMismatchError,
  TimeoutError,
  redactUrl,
} from './errors.js';
export type { ErrorContext, ResumableUploadErrorCode } from './errors.js';
