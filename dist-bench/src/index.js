export { createResumableWriteStream } from './create-resumable-write-stream.js';
export { ResumableWriteStream } from './resumable-write-stream.js';
export { DEFAULT_CHUNK_SIZE } from './options.js';
export { CHUNK_ALIGNMENT } from './content-range.js';
export { AbortedError, HttpStatusError, NetworkError, ProtocolError, ResumableUploadError, RetriesExhaustedError, SessionExpiredError, SizeMismatchError, TimeoutError, redactUrl, } from './errors.js';
