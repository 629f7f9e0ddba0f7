import { describe, expect, it } from 'vitest';
import { HttpStatusError, NetworkError, RetriesExhaustedError } from '../../src/errors.js';
import { S3_RETRY } from '../../src/protocols/s3/wire.js';
import { backoffDelay, classifySocketFailure, isRetryable, isRetryableStatus, parseRetryAfter, sleep, withRetry, type RetryNotice } from '../../src/retry.js';

const policy = { retries: 3, minTimeout: 1, maxTimeout: 4, factor: 2, randomize: false, maxRetryTime: 10_000, requeryDelay: 1 };
const run = (notices: RetryNotice[], signal = new AbortController().signal) => ({
  policy,
  signal,
  onRetry: (notice: RetryNotice) => notices.push(notice),
  describe: () => 'uploading bytes 0-9/*',
  context: () => ({ bytesCommitted: 5 }),
});

describe('backoff', () => {
  it('doubles from minTimeout up to maxTimeout, jitter within [1, 2)', () => {
    const base = { ...policy, minTimeout: 1000, maxTimeout: 32_000 };
    expect([1, 2, 3, 6, 7, 10].map((attempt) => backoffDelay(attempt, base))).toEqual([1000, 2000, 4000, 32_000, 32_000, 32_000]);
    for (let index = 0; index < 100; index++) {
      const delay = backoffDelay(2, { ...base, randomize: true });
      expect(delay).toBeGreaterThanOrEqual(2000);
      expect(delay).toBeLessThan(4001);
    }
  });

  it('waits at least what Retry-After asks, up to 60 s', () => {
    expect(backoffDelay(1, policy, 3000)).toBe(3000);
    expect(backoffDelay(1, policy, 10 * 60_000)).toBe(60_000);
  });

  it('parses Retry-After seconds and dates', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

describe('withRetry', () => {
  it('retries retryable failures and reports each before waiting', async () => {
    const notices: RetryNotice[] = [];
    let calls = 0;
    const result = await withRetry(async () => {
      if (++calls < 3) throw new NetworkError('reset');
      return 'ok';
    }, run(notices));
    expect(result).toBe('ok');
    expect(notices.map((notice) => [notice.attempt, notice.delayMs])).toEqual([[1, 1], [2, 2]]);
  });

  it('gives up with RetriesExhaustedError carrying attempts, the context and the last error', async () => {
    const last = new HttpStatusError(503, '', true, 'answered 503');
    const error = await withRetry(async () => {
      throw last;
    }, run([])).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect(error).toMatchObject({ code: 'RWS_RETRIES_EXHAUSTED', attempts: 4, bytesCommitted: 5, cause: last });
    expect((error as Error).message).toMatch(/gave up uploading bytes 0-9\/\* after 4 attempts .*retries: 3.*answered 503/);
  });

  it('does not retry what is not retryable', async () => {
    let calls = 0;
    const rejected = new HttpStatusError(403, '', false, 'forbidden');
    await expect(withRetry(async () => {
      calls++;
      throw rejected;
    }, run([]))).rejects.toBe(rejected);
    expect(calls).toBe(1);
    expect(isRetryable(new Error('bug'))).toBe(false);
  });

  it('an abort during the backoff ends the wait with the abort reason', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    const pending = withRetry(async () => {
      throw new NetworkError('reset');
    }, { ...run([]), policy: { ...policy, minTimeout: 60_000, maxTimeout: 60_000 }, signal: controller.signal });
    setTimeout(() => controller.abort(reason), 5);
    await expect(pending).rejects.toBe(reason);
  });

  it('sleep rejects at once on an aborted signal', async () => {
    await expect(sleep(10, AbortSignal.abort(new Error('x')))).rejects.toThrow('x');
  });
});

describe('the classification table', () => {
  it('shared statuses, and each protocol’s extras only for that protocol', () => {
    for (const status of [408, 429, 500, 502, 503, 504]) expect(isRetryableStatus(status)).toBe(true);
    for (const status of [400, 401, 403, 404, 409, 410, 412, 423, 308]) expect(isRetryableStatus(status)).toBe(false);
    expect(isRetryableStatus(409, { statuses: new Set([409, 423]) })).toBe(true);
    expect(isRetryableStatus(400, S3_RETRY, 'RequestTimeout')).toBe(true);
    expect(isRetryableStatus(403, S3_RETRY, 'AccessDenied')).toBe(false);
    expect(isRetryableStatus(400, {}, 'RequestTimeout')).toBe(false);
  });

  it('socket failures are network failures; certificate and handshake failures are TLS; anything else is neither', () => {
    for (const code of ['ECONNRESET', 'UND_ERR_SOCKET', 'HPE_INVALID_CONSTANT', 'EAI_AGAIN']) expect(classifySocketFailure(code)).toBe('network');
    for (const code of ['DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_SSL_WRONG_VERSION_NUMBER']) {
      expect(classifySocketFailure(code)).toBe('tls');
    }
    for (const code of ['ABORT_ERR', undefined, 42, 'ERR_INVALID_ARG_TYPE']) expect(classifySocketFailure(code)).toBeUndefined();
  });
});
