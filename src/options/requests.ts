/**
 * How requests are sent and retried: `retry`, `timeouts`, `dispatcher` and `signal`. Also what
 * the session helpers (protocols/gcs/session.ts, protocols/tus/creation.ts) validate of their own
 * options, with the same messages.
 */
import type { Dispatcher } from 'undici';
import { DEFAULT_RETRY, DEFAULT_TIMEOUTS } from './defaults.js';
import { describe, expectInteger, expectNumber, expectObject, optionalBoolean } from './expect.js';
import type { RetryOptions, TimeoutOptions } from './types.js';

export function validateRetry(value: unknown): Required<RetryOptions> {
  const retry = expectObject('retry', value) ?? {};
  const pick = <K extends keyof RetryOptions>(key: K) => (retry[key] === undefined ? DEFAULT_RETRY[key] : retry[key]);
  const resolved: Required<RetryOptions> = {
    retries: expectInteger('retry.retries', pick('retries'), 0),
    minTimeout: expectNumber('retry.minTimeout', pick('minTimeout'), 0),
    maxTimeout: expectNumber('retry.maxTimeout', pick('maxTimeout'), 0),
    factor: expectNumber('retry.factor', pick('factor'), 1),
    randomize: optionalBoolean('retry.randomize', pick('randomize')) as boolean,
    maxRetryTime: expectNumber('retry.maxRetryTime', pick('maxRetryTime'), 0, true),
    requeryDelay: expectNumber('retry.requeryDelay', pick('requeryDelay'), 0),
  };
  if (resolved.maxTimeout < resolved.minTimeout) {
    throw new RangeError(
      `Expected \`retry.maxTimeout\` (${resolved.maxTimeout}) to be ≥ \`retry.minTimeout\` (${resolved.minTimeout})`,
    );
  }
  return resolved;
}

export function validateTimeouts(value: unknown): Required<TimeoutOptions> {
  const timeouts = expectObject('timeouts', value) ?? {};
  const pick = <K extends keyof TimeoutOptions>(key: K) => (timeouts[key] === undefined ? DEFAULT_TIMEOUTS[key] : timeouts[key]);
  return {
    headersTimeout: expectInteger('timeouts.headersTimeout', pick('headersTimeout'), 1),
    bodyTimeout: expectInteger('timeouts.bodyTimeout', pick('bodyTimeout'), 1),
  };
}

export function validateDispatcher(value: unknown): Dispatcher | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || typeof (value as Dispatcher).dispatch !== 'function') {
    throw new TypeError(`Expected \`dispatcher\` to be an undici Dispatcher, received ${describe(value)}`);
  }
  return value as Dispatcher;
}

export function validateSignal(value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) {
    throw new TypeError(`Expected \`signal\` to be an AbortSignal, received ${describe(value)}`);
  }
  return value;
}

/** The options every request takes, validated together: the stream's and the session helpers'. */
export interface RequestOptions {
  readonly retry: Readonly<Required<RetryOptions>>;
  readonly timeouts: Readonly<Required<TimeoutOptions>>;
  readonly dispatcher: Dispatcher | undefined;
  readonly signal: AbortSignal | undefined;
}

export function validateRequestOptions(raw: { retry?: unknown; timeouts?: unknown; dispatcher?: unknown; signal?: unknown }): RequestOptions {
  return {
    dispatcher: validateDispatcher(raw.dispatcher),
    retry: validateRetry(raw.retry),
    timeouts: validateTimeouts(raw.timeouts),
    signal: validateSignal(raw.signal),
  };
}
