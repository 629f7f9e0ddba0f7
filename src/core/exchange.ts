/**
 * One request through the transport, as both drivers send it: the answer's body bounded, a
 * transport failure mapped to its typed error (retry.ts classifies it), and a request the
 * upload's own abort stopped reported as that abort rather than as a network failure.
 */
import type { ErrorContext } from '../errors.js';
import { toTransportError, type Transport, type TransportAnswer, type TransportRequest } from '../transport.js';
import { MAX_ANSWER_BYTES, type Lifecycle } from './lifecycle.js';

export interface Exchanger {
  readonly transport: Transport;
  readonly life: Lifecycle;
  readonly redactedUrl: string;
  context(): ErrorContext;
}

export async function exchange(party: Exchanger, request: Omit<TransportRequest, 'maxBodyBytes'>, what: string): Promise<TransportAnswer> {
  try {
    return await party.transport.send({ ...request, maxBodyBytes: MAX_ANSWER_BYTES });
  } catch (error) {
    if (party.life.signal.aborted && request.signal === party.life.signal) throw party.life.abortError();
    throw toTransportError(error, `${what} to ${party.redactedUrl} failed`, party.context()) ?? error;
  }
}
