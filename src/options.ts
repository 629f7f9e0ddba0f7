/**
 * Options of {@link createResumableWriteStream}, documented where they are declared, and their
 * eager validation: a wrong option is a TypeError or RangeError at construction that names the
 * option, what it expects and what it received.
 */
import type { Dispatcher } from 'undici';
import { CHUNK_ALIGNMENT } from './content-range.js';

export interface RetryOptions {
  /**
   * Failed attempts retried in a row before giving up. The budget is restored whenever the
   * server's committed offset advances, so a long stream never dies of old, recovered faults.
   * @default 10
   */
  retries?: number;
  /** Delay before the first retry, in ms. @default 1000 */
  minTimeout?: number;
  /** Cap of the exponential delay, in ms (a `Retry-After` may ask for more, up to 60 s). @default 32000 */
  maxTimeout?: number;
  /** Growth of the delay per attempt. @default 2 */
  factor?: number;
  /** Multiply each delay by a random factor in [1, 2) (jitter), so many clients don't retry in step. @default true */
  randomize?: boolean;
  /** Longest time, in ms, spent retrying without the committed offset advancing. @default 600000 */
  maxRetryTime?: number;
  /**
   * Wait, in ms, before asking a second time when a status query answers 308 without `Range`
   * after bytes were confirmed (GCS: "wait a few seconds … and query a second time").
   * @default 2000
   */
  requeryDelay?: number;
}

export interface TimeoutOptions {
  /**
   * Longest wait, in ms, for an answer's headers after the body was sent or last made progress.
   * A stalled request is aborted and recovered. @default 60000
   */
  headersTimeout?: number;
  /** Longest pause, in ms, between two pieces of an answer's body. @default 60000 */
  bodyTimeout?: number;
}

export interface ResumableWriteStreamOptions {
  /** The session URI. It is a credential: the stream never prints it whole. */
  url: string | URL;
  /**
   * Bytes per request: a positive multiple of 262144 (256 KiB). Larger is faster (fewer round
   * trips); the stream retains at most about 2 × chunkSize (see README, "Memory").
   * @default 8388608 (8 MiB)
   */
  chunkSize?: number;
  /**
   * The object's size when known in advance: sent as the total on every request. Writing more,
   * or ending with fewer, is a SizeMismatchError and the upload is never finalized.
   */
  totalSize?: number;
  /** Extra request headers on every request to the session (not `content-range`/`content-length`). */
  headers?: Record<string, string>;
  /** An undici Dispatcher (Agent, Pool, ProxyAgent). @default a shared keep-alive Agent */
  dispatcher?: Dispatcher;
  retry?: RetryOptions;
  timeouts?: TimeoutOptions;
  /** Aborts the in-flight request and any backoff; the upload is never finalized. */
  signal?: AbortSignal;
  /** The Writable's highWaterMark, in bytes. @default Node's default */
  highWaterMark?: number;
}

export interface ResolvedOptions {
  readonly url: string;
  readonly chunkSize: number;
  readonly totalSize: number | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly dispatcher: Dispatcher | undefined;
  readonly retry: Readonly<Required<RetryOptions>>;
  readonly timeouts: Readonly<Required<TimeoutOptions>>;
  readonly signal: AbortSignal | undefined;
  readonly highWaterMark: number | undefined;
}

export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;

const DEFAULT_RETRY: Required<RetryOptions> = {
  retries: 10,
  minTimeout: 1000,
  maxTimeout: 32_000,
  factor: 2,
  randomize: true,
  maxRetryTime: 600_000,
  requeryDelay: 2000,
};

const DEFAULT_TIMEOUTS: Required<TimeoutOptions> = {
  headersTimeout: 60_000,
  bodyTimeout: 60_000,
};

/** Headers the stream owns: setting them would break the protocol. */
const RESERVED_HEADERS = new Set(['content-range', 'content-length', 'transfer-encoding', 'host', 'connection']);

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return `${typeof value} ${String(value)}`;
}

function expectInteger(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`Expected \`${name}\` to be a finite number, received ${describe(value)}`);
  }
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`Expected \`${name}\` to be an integer ≥ ${min}, received ${value}`);
  }
  return value;
}

function expectNumber(name: string, value: unknown, min: number, allowInfinity = false): number {
  if (typeof value !== 'number' || Number.isNaN(value) || (!allowInfinity && !Number.isFinite(value))) {
    throw new TypeError(`Expected \`${name}\` to be a ${allowInfinity ? 'number' : 'finite number'}, received ${describe(value)}`);
  }
  if (value < min) throw new RangeError(`Expected \`${name}\` to be ≥ ${min}, received ${value}`);
  return value;
}

function expectObject(name: string, value: unknown): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`Expected \`${name}\` to be an object, received ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function validateUrl(value: unknown): string {
  if (typeof value !== 'string' && !(value instanceof URL)) {
    throw new TypeError(`Expected \`url\` to be a string or URL, received ${describe(value)}`);
  }
  let parsed: URL;
  try {
    parsed = new URL(String(value));
  } catch {
    // Never echo the value: it may be a credential.
    throw new TypeError('Expected `url` to be an absolute http(s) URL, received a string that does not parse as a URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new TypeError(`Expected \`url\` to be an http(s) URL, received protocol ${JSON.stringify(parsed.protocol)}`);
  }
  return parsed.href;
}

function validateChunkSize(value: unknown): number {
  if (value === undefined) return DEFAULT_CHUNK_SIZE;
  const size = expectInteger('chunkSize', value, 1);
  if (size % CHUNK_ALIGNMENT !== 0) {
    throw new RangeError(`Expected \`chunkSize\` to be a positive multiple of 262144 (256 KiB), received ${size}`);
  }
  return size;
}

function validateHeaders(value: unknown): Record<string, string> {
  const headers = expectObject('headers', value) ?? {};
  const result: Record<string, string> = {};
  for (const [name, headerValue] of Object.entries(headers)) {
    if (typeof headerValue !== 'string') {
      throw new TypeError(`Expected \`headers.${name}\` to be a string, received ${describe(headerValue)}`);
    }
    if (RESERVED_HEADERS.has(name.toLowerCase())) {
      throw new TypeError(`\`headers\` may not set ${JSON.stringify(name)}: the stream sets it per request`);
    }
    result[name.toLowerCase()] = headerValue;
  }
  return result;
}

function validateRetry(value: unknown): Required<RetryOptions> {
  const retry = expectObject('retry', value) ?? {};
  const pick = <K extends keyof RetryOptions>(key: K) => (retry[key] === undefined ? DEFAULT_RETRY[key] : retry[key]);
  const randomize = pick('randomize');
  if (typeof randomize !== 'boolean') {
    throw new TypeError(`Expected \`retry.randomize\` to be a boolean, received ${describe(randomize)}`);
  }
  const resolved: Required<RetryOptions> = {
    retries: expectInteger('retry.retries', pick('retries'), 0),
    minTimeout: expectNumber('retry.minTimeout', pick('minTimeout'), 0),
    maxTimeout: expectNumber('retry.maxTimeout', pick('maxTimeout'), 0),
    factor: expectNumber('retry.factor', pick('factor'), 1),
    randomize,
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

function validateTimeouts(value: unknown): Required<TimeoutOptions> {
  const timeouts = expectObject('timeouts', value) ?? {};
  const pick = <K extends keyof TimeoutOptions>(key: K) => (timeouts[key] === undefined ? DEFAULT_TIMEOUTS[key] : timeouts[key]);
  return {
    headersTimeout: expectInteger('timeouts.headersTimeout', pick('headersTimeout'), 1),
    bodyTimeout: expectInteger('timeouts.bodyTimeout', pick('bodyTimeout'), 1),
  };
}

function validateDispatcher(value: unknown): Dispatcher | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || typeof (value as Dispatcher).dispatch !== 'function') {
    throw new TypeError(`Expected \`dispatcher\` to be an undici Dispatcher, received ${describe(value)}`);
  }
  return value as Dispatcher;
}

function validateSignal(value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) {
    throw new TypeError(`Expected \`signal\` to be an AbortSignal, received ${describe(value)}`);
  }
  return value;
}

export function resolveOptions(options: unknown): ResolvedOptions {
  const raw = expectObject('options', options);
  if (raw === undefined) throw new TypeError('Expected options to be an object with a `url`, received undefined');
  return {
    url: validateUrl(raw.url),
    chunkSize: validateChunkSize(raw.chunkSize),
    totalSize: raw.totalSize === undefined ? undefined : expectInteger('totalSize', raw.totalSize, 0),
    headers: validateHeaders(raw.headers),
    dispatcher: validateDispatcher(raw.dispatcher),
    retry: validateRetry(raw.retry),
    timeouts: validateTimeouts(raw.timeouts),
    signal: validateSignal(raw.signal),
    highWaterMark: raw.highWaterMark === undefined ? undefined : expectInteger('highWaterMark', raw.highWaterMark, 1),
  };
}
