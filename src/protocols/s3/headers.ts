/** Where each caller header goes among the requests of an S3 upload (checked at construction). */

/**
 * The `headers` option sorted by the S3 requests that take them. Object headers describe the
 * object (metadata, SSE, storage class, ACL, tags, the HTTP headers GetObject gives back, object
 * lock): CreateMultipartUpload or PutObject. SSE-C keys go on every request that reads or writes
 * the object's bytes: UploadPart needs them, Complete and ListParts need them when the upload has
 * a checksum algorithm (our default), HEAD needs them to see the object. Requester-pays and the
 * expected bucket owner apply to every request.
 */
export interface S3Headers {
  readonly object: Readonly<Record<string, string>>;
  readonly sseCustomer: Readonly<Record<string, string>>;
  readonly everyRequest: Readonly<Record<string, string>>;
}

const OBJECT_HEADERS = new Set([
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-language',
  'content-type',
  'expires',
  'x-amz-acl',
  'x-amz-storage-class',
  'x-amz-tagging',
  'x-amz-website-redirect-location',
  'x-amz-server-side-encryption',
  'x-amz-server-side-encryption-aws-kms-key-id',
  'x-amz-server-side-encryption-context',
  'x-amz-server-side-encryption-bucket-key-enabled',
  'x-amz-object-lock-mode',
  'x-amz-object-lock-retain-until-date',
  'x-amz-object-lock-legal-hold',
]);
const OBJECT_PREFIXES = ['x-amz-meta-', 'x-amz-grant-'];
const SSE_CUSTOMER_HEADERS = new Set([
  'x-amz-server-side-encryption-customer-algorithm',
  'x-amz-server-side-encryption-customer-key',
  'x-amz-server-side-encryption-customer-key-md5',
]);
const EVERY_REQUEST_HEADERS = new Set(['x-amz-request-payer', 'x-amz-expected-bucket-owner']);

/**
 * Sorts lower-cased `headers` (see {@link S3Headers}); a header no S3 request of an upload takes
 * (or one the stream sets itself: signing, digests) is a TypeError naming it, never dropped.
 */
export function placeS3Headers(headers: Readonly<Record<string, string>>): S3Headers {
  const placed = { object: {} as Record<string, string>, sseCustomer: {} as Record<string, string>, everyRequest: {} as Record<string, string> };
  for (const [name, value] of Object.entries(headers)) {
    if (OBJECT_HEADERS.has(name) || OBJECT_PREFIXES.some((prefix) => name.startsWith(prefix) && name.length > prefix.length)) placed.object[name] = value;
    else if (SSE_CUSTOMER_HEADERS.has(name)) placed.sseCustomer[name] = value;
    else if (EVERY_REQUEST_HEADERS.has(name)) placed.everyRequest[name] = value;
    else {
      throw new TypeError(
        `\`headers\` may not set ${JSON.stringify(name)} with \`protocol: 's3'\`: no S3 request of an upload takes it from the caller ` +
          '(accepted: x-amz-meta-*, x-amz-server-side-encryption*, x-amz-storage-class, x-amz-acl, x-amz-grant-*, x-amz-tagging, cache-control, ' +
          'content-disposition, content-encoding, content-language, content-type, expires, x-amz-website-redirect-location, x-amz-object-lock-*, ' +
          'x-amz-request-payer, x-amz-expected-bucket-owner)',
      );
    }
  }
  const sseC = Object.keys(placed.sseCustomer).length;
  if (sseC !== 0 && sseC !== SSE_CUSTOMER_HEADERS.size) {
    const missing = [...SSE_CUSTOMER_HEADERS].filter((name) => !(name in placed.sseCustomer));
    throw new TypeError(`\`headers\` with SSE-C needs all three x-amz-server-side-encryption-customer-* headers: ${missing.join(', ')} missing`);
  }
  return placed;
}
