/**
 * Requests to one S3 object, signed as they are sent: each carries those of the `headers` option
 * S3 takes on it (headers.ts) and the credentials current now (temporary ones are refreshed
 * before they expire).
 */
import type { ResolvedS3 } from '../../options/index.js';
import type { PartsRequest } from '../../parts/protocol.js';
import { signRequest, type S3Request } from './wire.js';

export interface Placement {
  /** The object headers (metadata, SSE, content-type…): CreateMultipartUpload and PutObject. */
  readonly object?: boolean;
  /** The SSE-C keys: every request but AbortMultipartUpload. */
  readonly sseCustomer?: boolean;
}

export class S3Signer {
  constructor(readonly s3: ResolvedS3) {}

  get objectPath(): string {
    return this.s3.target.objectPath;
  }

  /** `objectPath?query` for upload `uploadId` and the extra `query` parameters. */
  uploadPath(uploadId: string, query = ''): string {
    return `${this.objectPath}?${query}uploadId=${encodeURIComponent(uploadId)}`;
  }

  async sign(method: S3Request['method'], path: string, own: Record<string, string> = {}, { object = false, sseCustomer = true }: Placement = {}): Promise<PartsRequest> {
    const { everyRequest, sseCustomer: sseC, object: objectHeaders } = this.s3.headers;
    const credentials = await this.s3.credentials();
    return signRequest(this.s3.target, credentials, method, path, { ...everyRequest, ...(sseCustomer ? sseC : {}), ...(object ? objectHeaders : {}), ...own });
  }
}
