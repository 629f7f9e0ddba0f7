/** `protocol: 'azure'` through resolveOptions: its options hook (AZURE_OPTIONS). */
import { describe, expect, it } from 'vitest';
import { createMemoryBudget } from '../../src/index.js';
import { resolveOptions } from '../../src/options/index.js';

const url = 'https://acct.blob.core.windows.net/ctr/blob.bin?sv=2021-06-08&sig=abc';
const key = Buffer.alloc(64, 7).toString('base64');

describe("resolveOptions with protocol 'azure'", () => {
  it("is chosen by the `azure` option, or named with a SAS URL alone", () => {
    expect(resolveOptions({ url: url.split('?')[0], azure: { accountKey: key } }).protocol).toBe('azure');
    const resolved = resolveOptions({ protocol: 'azure', url, queueSize: 6, chunkSize: 1 });
    expect(resolved.azure).toMatchObject({ queueSize: 6, auth: { kind: 'sas' } });
    expect(resolved.chunkSize).toBe(1);
  });

  it('refuses what does not apply, naming it', () => {
    expect(() => resolveOptions({ protocol: 'gcs', url, azure: {} })).toThrow(/`azure` only applies with `protocol: 'azure'`/);
    expect(() => resolveOptions({ protocol: 'azure', url: async () => url })).toThrow(/the object's URL/);
    expect(() => resolveOptions({ protocol: 'azure' })).toThrow(/`url`/);
    expect(() => resolveOptions({ url, queueSize: 2 })).toThrow(/`queueSize` only applies to a parts protocol/);
    expect(() => resolveOptions({ protocol: 'azure', url, queueSize: 0 })).toThrow(RangeError);
    expect(() => resolveOptions({ protocol: 'azure', url, queueSize: '4' })).toThrow(/`queueSize`/);
    expect(() => resolveOptions({ protocol: 'azure', url, chunkSize: 4001 * 1024 * 1024 })).toThrow(RangeError);
    expect(() => resolveOptions({ protocol: 'azure', url, memoryBudget: createMemoryBudget(64 * 1024 * 1024) })).toThrow(/`memoryBudget` is not supported with `protocol: 'azure'`/);
    expect(() => resolveOptions({ protocol: 'azure', url: 'http://acct.blob.core.windows.net/ctr/b?sig=x' })).toThrow(/https/);
  });
});
