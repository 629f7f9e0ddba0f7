/**
 * Bytes on their way: a transport wrapper that counts the request body bytes handed to the
 * network and not yet answered, so progress can move between acknowledgements (an 8 MiB chunk
 * takes seconds on a slow link). Protocol-blind: every body of a buffer list counts.
 */
import type { Transport } from './transport.js';

export interface SentBytesCounter {
  readonly transport: Transport;
  /** Body bytes of the requests in flight handed to the network so far. */
  readonly inFlight: number;
}

/**
 * `onSent` is called as the count grows; a request leaves the count once it settles. Bodies are
 * followed only while `isWanted()` (someone listens): otherwise each goes out as it would unwrapped.
 */
export function countSentBytes(transport: Transport, onSent: () => void, isWanted: () => boolean): SentBytesCounter {
  let inFlight = 0;
  return {
    get inFlight() {
      return inFlight;
    },
    transport: {
      async send(request) {
        if (typeof request.body === 'string' || request.body === undefined || !isWanted()) return transport.send(request);
        let counted = 0;
        const onBodySent = (bytes: number) => {
          inFlight += bytes - counted;
          counted = bytes;
          onSent();
        };
        try {
          return await transport.send({ ...request, onBodySent });
        } finally {
          inFlight -= counted;
        }
      },
    },
  };
}
