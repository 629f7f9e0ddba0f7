/**
 * Creating a tus upload (the creation and creation-defer-length extensions), whose URL the
 * `'tus'` protocol then uploads to.
 */
import { initiate, locationOf, type InitiateSessionOptions } from '../../initiation.js';
import { TUS_VERSION } from './adapter.js';

export interface TusUploadOptions extends Omit<InitiateSessionOptions, 'url' | 'method' | 'body'> {
  /** The tus server's creation endpoint, e.g. `https://tus.example.com/files/`. */
  endpoint: string | URL;
  /** `Upload-Metadata` pairs (the values are base64-encoded for you), e.g. `{ filename: 'a.log' }`. */
  metadata?: Record<string, string>;
  /**
   * The upload's length when known in advance (`Upload-Length`; give the stream the same
   * `totalSize`). Without it the length is deferred (`Upload-Defer-Length: 1`) and the stream
   * sends it with its last PATCH.
   */
  uploadLength?: number;
}

/**
 * Creates a tus upload (creation extension) and returns its URL, for `protocol: 'tus'`. Pass it
 * as `url: () => createTusUpload({...})` to create the upload on the first request.
 */
export async function createTusUpload(options: TusUploadOptions): Promise<string> {
  const headers: Record<string, string> = { ...options.headers, 'tus-resumable': TUS_VERSION };
  const { uploadLength, metadata } = options;
  if (uploadLength === undefined) headers['upload-defer-length'] = '1';
  else if (!Number.isSafeInteger(uploadLength) || uploadLength < 0) {
    throw new RangeError(`Expected \`uploadLength\` to be a non-negative integer, received ${String(uploadLength)}`);
  } else headers['upload-length'] = String(uploadLength);
  if (metadata !== undefined) headers['upload-metadata'] = formatTusMetadata(metadata);
  const url = String(options.endpoint);
  const answer = await initiate({ ...options, url, method: 'POST' }, async () => headers);
  return locationOf(answer, url);
}

/** `key base64(value),key2 base64(value2)`; keys may not hold spaces or commas (tus 1.0). */
function formatTusMetadata(metadata: Record<string, string>): string {
  return Object.entries(metadata)
    .map(([key, value]) => {
      if (key === '' || /[\s,]/.test(key)) throw new TypeError(`Expected \`metadata\` keys without spaces or commas, received ${JSON.stringify(key)}`);
      if (typeof value !== 'string') throw new TypeError(`Expected \`metadata.${key}\` to be a string, received ${typeof value}`);
      return `${key} ${Buffer.from(value, 'utf8').toString('base64')}`;
    })
    .join(',');
}
