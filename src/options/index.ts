/**
 * The options of {@link createResumableWriteStream}: declarations (types.ts), defaults, and
 * `resolveOptions`, which validates each concern in its own file and each protocol's own option
 * through its hook (protocol-hook.ts, protocols.ts).
 */
export type { ResolvedOptions, ResumableWriteStreamOptions, RetryOptions, SessionFactory, TimeoutOptions } from './types.js';
export type { ResolvedS3, S3Options } from '../protocols/s3/options.js';
export type { ProtocolOptionsContext, ProtocolOptionsHook } from './protocol-hook.js';
export { DEFAULT_CHUNK_SIZE, DEFAULT_QUEUE_SIZE } from './defaults.js';
export { resolveOptions } from './resolve.js';
export { validateRequestOptions, type RequestOptions } from './requests.js';
export { isLoopbackHost, refuseInsecureHttp, validateCredentialUrl, validateUrl } from './url-policy.js';
