import { describe, expect, it } from 'vitest';
import { identifierWords, isProtocolHome, leakTerms, measureSource, percentile, summarize } from '../../scripts/code-metrics.mjs';

const SOURCE = `// A tus comment and an x-amz-date comment.
import { thing } from './protocols/tus.js';

export class Holder {
  private a = 1;
  readonly b: string;
  static c = 0;

  constructor(private readonly d: number, public e: string, plain: boolean) {
    this.b = String(plain);
  }

  get value(): number {
    return this.a;
  }

  run(): void {
    const inner = () => {
      return 1;
    };
    const short = () => 2;
    inner();
  }
}

export function createTusUpload(): string {
  const status = 'status is not a protocol';
  return 'x-goog-hash' + status + thing;
}

const expression = function named() {
  return { UploadId: 'ETag', listParts: 'etag' };
};

interface Shape {
  method(): void;
}
`;

describe('code metrics', () => {
  const m = measureSource('sample.ts', SOURCE);

  it('counts the lines of a file, with or without a final newline', () => {
    expect(m.lines).toBe(37);
    expect(measureSource('a.ts', 'a;\nb;').lines).toBe(2);
    expect(measureSource('a.ts', '').lines).toBe(0);
  });

  it('measures a class: its lines, its property declarations and constructor parameter properties', () => {
    expect(m.classes).toEqual([{ file: 'sample.ts', name: 'Holder', line: 4, lines: 21, fields: 5 }]);
  });

  it('measures functions with a body: declarations, methods, accessors, constructors, block-bodied arrows and function expressions', () => {
    const lengths = Object.fromEntries(m.functions.map((f) => [f.name, f.lines]));
    expect(lengths).toEqual({ 'Holder.constructor': 3, 'Holder.value': 3, 'Holder.run': 7, inner: 3, createTusUpload: 4, named: 3 });
  });

  it('finds protocol names in identifiers, strings and module specifiers, and lists comments apart', () => {
    const found = m.leaks.map((l) => `${l.line} ${l.kind} ${l.term}`);
    expect(found).toEqual([
      '1 comment x-amz-',
      '1 comment tus',
      '2 import tus',
      '26 code tus',
      '28 string x-goog-',
      '32 code UploadId',
      '32 string ETag',
    ]);
  });

  it('reads tus as a word and S3 names as S3 spells them', () => {
    expect(identifierWords('TUS_RETRY')).toEqual(['TUS', 'RETRY']);
    expect(identifierWords('createTusUpload')).toEqual(['create', 'Tus', 'Upload']);
    expect(leakTerms('status', 'code')).toEqual([]);
    expect(leakTerms('isTus', 'code').map((f) => f.term)).toEqual(['tus']);
    expect(leakTerms('Tus-Resumable', 'string').map((f) => f.term)).toEqual(['Tus-Resumable']);
    expect(leakTerms('UploadPartial listParts etag', 'string')).toEqual([]);
    expect(leakTerms('parseETags', 'code').map((f) => f.term)).toEqual(['ETag']);
  });

  it('skips leak checks when asked, and knows where protocol names belong', () => {
    expect(measureSource('p.ts', SOURCE, { checkLeaks: false }).leaks).toEqual([]);
    expect(isProtocolHome('protocols/s3/wire.ts')).toBe(true);
    expect(isProtocolHome('cli/upload.ts')).toBe(true);
    expect(isProtocolHome('parts/driver.ts')).toBe(false);
  });

  it('summarizes: nearest-rank percentiles and the thresholds exceeded', () => {
    expect(percentile([5, 1, 4, 2, 3, 6, 7, 8, 9, 10], 90)).toBe(9);
    expect(percentile([], 50)).toBe(0);
    const report = summarize([m]);
    expect(report.functions).toMatchObject({ count: 6, p50: 3, p90: 7, max: 7 });
    expect(report.exceeded.leaks).toHaveLength(5);
    expect(report.failed).toBe(true);
    expect(summarize([measureSource('ok.ts', 'export const a = 1;\n')]).failed).toBe(false);
  });
});
