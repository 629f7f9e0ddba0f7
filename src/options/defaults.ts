/** What an option is when not given (each default is also written in its TSDoc, types.ts). */
import type { RetryOptions, TimeoutOptions } from './types.js';

export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;

/** Parts in flight with a parts protocol. */
export const DEFAULT_QUEUE_SIZE = 4;

export const DEFAULT_RETRY: Readonly<Required<RetryOptions>> = {
  retries: 10,
  minTimeout: 1000,
  maxTimeout: 32_000,
  factor: 2,
  randomize: true,
  maxRetryTime: 600_000,
  requeryDelay: 2000,
};

export const DEFAULT_TIMEOUTS: Readonly<Required<TimeoutOptions>> = {
  headersTimeout: 60_000,
  bodyTimeout: 60_000,
};
