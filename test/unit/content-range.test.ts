import { describe, expect, it } from 'vitest';
import { formatContentRange, parseContentRange, parseRangeHeader } from '../../src/content-range.js';

describe('formatContentRange', () => {
  it.each([
    [0, 262144, undefined, 'bytes 0-262143/*'],
    [262144, 262144, 1000000, 'bytes 262144-524287/1000000'],
    [524288, 475713, 1000001, 'bytes 524288-1000000/1000001'],
    [0, 1, 1, 'bytes 0-0/1'],
    [0, 0, 0, 'bytes */0'],
    [786432, 0, 786432, 'bytes */786432'],
    [0, 0, undefined, 'bytes */*'],
  ])('start %i length %i total %s → %s', (start, length, total, expected) => {
    expect(formatContentRange(start, length, total)).toBe(expected);
  });
});

describe('parseRangeHeader', () => {
  it('absent header is undefined (nothing persisted: the caller decides)', () => {
    expect(parseRangeHeader(undefined)).toBeUndefined();
  });
  it.each([
    ['bytes=0-0', 1],
    ['bytes=0-42', 43],
    ['bytes=0-262143', 262144],
    [' bytes=0-9007199254740990 ', 9007199254740991],
  ])('%s → %i bytes persisted', (header, persisted) => {
    expect(parseRangeHeader(header)).toEqual({ ok: true, persisted });
  });
  it.each(['bytes=5-10', 'bytes=0--1', 'bytes=-1-5', 'bytes=0-abc', 'garbage', '', 'bytes=0-99999999999999999', 'bytes 0-10', 'bytes=0-'])(
    'refuses %j',
    (header) => {
      expect(parseRangeHeader(header)).toMatchObject({ ok: false });
    },
  );
});

describe('parseContentRange', () => {
  it.each([
    ['bytes 0-99/*', { start: 0, end: 99, total: undefined }],
    ['bytes 0-99/100', { start: 0, end: 99, total: 100 }],
    ['bytes */100', { start: undefined, end: undefined, total: 100 }],
    ['bytes */*', { start: undefined, end: undefined, total: undefined }],
  ])('%s', (header, expected) => {
    expect(parseContentRange(header)).toEqual(expected);
  });
  it.each(['bytes 9-1/*', 'bytes 0-1', 'byte 0-1/*', 'bytes -1/*'])('refuses %j', (header) => {
    expect(parseContentRange(header)).toBeUndefined();
  });
});
