import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { NetworkError, SessionExpiredError, redactUrl } from '../../src/errors.js';

describe('redactUrl', () => {
  it.each([
    ['https://storage.googleapis.com/upload/storage/v1/b/bkt/o?uploadType=resumable&name=a&upload_id=SECRET',
      'https://storage.googleapis.com/upload/storage/v1/b/bkt/o?uploadType=…&name=…&upload_id=…'],
    ['https://user:pass@host.example/path', 'https://…@host.example/path'],
    ['http://127.0.0.1:9000/bkt/obj', 'http://127.0.0.1:9000/bkt/obj'],
    ['https://tus.example/files/59a53b0c166fd2643e9ef2fb103d945a', 'https://tus.example/files/59a5…'],
    ['https://tus.example/files/2024/report-logs-archive', 'https://tus.example/files/2024/report-logs-archive'],
    ['nonsense', '<invalid url>'],
  ])('%s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });
});

describe('typed errors', () => {
  it('carry code, bytesCommitted and cause; keep the url off inspect() and JSON', () => {
    const cause = new Error('socket hang up');
    const error = new SessionExpiredError(404, 'gone', { bytesCommitted: 42, url: 'https://h/x?upload_id=SECRET', cause });
    expect(error).toMatchObject({ code: 'RWS_SESSION_EXPIRED', status: 404, bytesCommitted: 42, name: 'SessionExpiredError' });
    expect(error.cause).toBe(cause);
    expect(error.url).toBe('https://h/x?upload_id=SECRET');
    expect(inspect(error)).not.toContain('SECRET');
    expect(JSON.stringify(error)).not.toContain('SECRET');
    expect(new NetworkError('x').code).toBe('RWS_NETWORK');
  });
});
