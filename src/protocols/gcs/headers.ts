/**
 * Which of the `headers` option GCS would drop: those it reads only from the request that starts
 * a session (protocols/gcs/session.ts), never from a chunk.
 */

/**
 * Headers GCS reads only from the request that starts a session and ignores on chunks: object
 * metadata (`x-goog-meta-*`), its content headers, ACL, storage class and preconditions. Sent
 * with every chunk they would be dropped without a word, so they are refused (encryption keys,
 * `x-goog-user-project` and authorization do belong on every request and pass).
 */
const SESSION_ONLY_HEADER = /^(x-goog-meta-.+|x-goog-acl|x-goog-storage-class|x-goog-custom-time|x-goog-if-.+|x-upload-content-(type|length)|content-(type|disposition|encoding|language)|cache-control)$/i;

/** Whether GCS ignores this header on a chunk or status query (it belongs on initiation). */
export function isSessionOnlyHeader(name: string): boolean {
  return SESSION_ONLY_HEADER.test(name);
}

/** `headers` for a GCS session, unchanged; a TypeError naming the first one GCS would ignore. */
export function refuseSessionHeaders(headers: Record<string, string>): Record<string, string> {
  const ignored = Object.keys(headers).find(isSessionOnlyHeader);
  if (ignored !== undefined) {
    throw new TypeError(
      `\`headers\` may not set ${JSON.stringify(ignored)}: GCS reads it only from the request that starts the session and ignores it on ` +
        'chunks. Give it where the session is created: createGcsSession({ metadata, contentType, headers })',
    );
  }
  return headers;
}

