import { describe, expect, it } from 'vitest';
import { checkAzureChunkSize, placeAzureHeaders, validateAzure } from '../../src/protocols/azure/options.js';

const blob = 'https://acct.blob.core.windows.net/ctr/dir/blob.bin';
const key = Buffer.alloc(64, 7).toString('base64');

describe('azure options', () => {
  it('take the SAS in the URL, a key (account from the URL unless named) or a TokenCredential', () => {
    expect(validateAzure(undefined, `${blob}?sv=2021-06-08&sig=abc`, {}).auth).toEqual({ kind: 'sas' });
    expect(validateAzure({ accountKey: key }, blob, {}).auth).toMatchObject({ kind: 'shared-key', account: 'acct' });
    expect(validateAzure({ accountKey: key, accountName: 'other' }, blob, {}).auth).toMatchObject({ kind: 'shared-key', account: 'other' });
    expect(validateAzure({ credential: { getToken: async () => null } }, blob, {}).auth.kind).toBe('token');
    // Nothing given: DefaultAzureCredential, imported only when the first request needs a token.
    expect(validateAzure(undefined, blob, {}).auth.kind).toBe('token');
  });

  it('refuse two credentials at once, naming them', () => {
    expect(() => validateAzure({ accountKey: key }, `${blob}?sig=abc`, {})).toThrow(/one credential, received a SAS in `url` and `azure.accountKey`/);
    expect(() => validateAzure({ accountKey: key, credential: { getToken: async () => null } }, blob, {})).toThrow(/`azure.accountKey` and `azure.credential`/);
  });

  it('name the wrong field without echoing a secret', () => {
    expect(() => validateAzure({ accountKey: 'not base64!' }, blob, {})).toThrow(TypeError);
    expect(() => validateAzure({ accountKey: 'not base64!' }, blob, {})).toThrow(/`azure.accountKey`/);
    expect(() => validateAzure({ accountKey: 'not base64!' }, blob, {})).not.toThrow(/not base64!/);
    expect(() => validateAzure({ accountKey: 42 }, blob, {})).toThrow(/`azure.accountKey` to be a non-empty string, received number/);
    expect(() => validateAzure({ credential: 'token' }, blob, {})).toThrow(/`azure.credential` to be a TokenCredential/);
    expect(() => validateAzure({ accountName: 'acct' }, blob, {})).toThrow(/`azure.accountName` only applies with `azure.accountKey`/);
    expect(() => validateAzure({ accountkey: key }, blob, {})).toThrow(/Unknown `azure` option `azure.accountkey`/);
    expect(() => validateAzure('acct', blob, {})).toThrow(/Expected `azure` to be an object/);
  });

  it('need a container and a blob name in the URL', () => {
    expect(() => validateAzure({ accountKey: key }, 'https://acct.blob.core.windows.net/ctr', {})).toThrow(/`url` to be a blob URL/);
    expect(validateAzure({ accountKey: key }, 'http://127.0.0.1:10000/devstoreaccount1/ctr/b', {}).target).toMatchObject({ account: 'devstoreaccount1', container: 'ctr', blob: 'b' });
  });
});

describe('azure sizes and resumes', () => {
  it('take queueSize (default 4) and a first block size from 1 byte to 4000 MiB', () => {
    expect(validateAzure({ accountKey: key }, blob, {}).queueSize).toBe(4);
    expect(validateAzure({ accountKey: key }, blob, {}, 8).queueSize).toBe(8);
    expect(checkAzureChunkSize(1)).toBe(1);
    expect(checkAzureChunkSize(4000 * 1024 * 1024)).toBe(4000 * 1024 * 1024);
    expect(() => checkAzureChunkSize(4000 * 1024 * 1024 + 1)).toThrow(/`chunkSize` \(the first Azure block size\)/);
  });

  it("target the blob of a checkpoint's URL without the upload id it carries, the SAS kept as it was", () => {
    const sas = 'sv=2021-06-08&se=2030-01-01T00%3A00%3A00Z&sig=a%2Bb';
    expect(validateAzure(undefined, `${blob}?${sas}&rwsUploadId=0123456789abcdef`, {}).target.url).toBe(`${blob}?${sas}`);
    expect(validateAzure({ accountKey: key }, `${blob}?rwsUploadId=0123456789abcdef`, {}).target.url).toBe(blob);
  });
});

describe('azure headers', () => {
  it('go to the commit (properties, metadata, conditions) or to every request (lease, encryption)', () => {
    const placed = placeAzureHeaders({ 'x-ms-meta-origin': 'a', 'x-ms-access-tier': 'Cool', 'if-none-match': '*', 'x-ms-lease-id': 'L', 'x-ms-encryption-scope': 'S' }, 'text/plain');
    expect(placed).toEqual({
      commit: { 'x-ms-meta-origin': 'a', 'x-ms-access-tier': 'Cool', 'if-none-match': '*', 'x-ms-blob-content-type': 'text/plain' },
      everyRequest: { 'x-ms-lease-id': 'L', 'x-ms-encryption-scope': 'S' },
    });
  });

  it('refuse one no request takes, and the content type given twice', () => {
    expect(() => placeAzureHeaders({ 'x-ms-blob-type': 'PageBlob' }, undefined)).toThrow(/may not set "x-ms-blob-type" with `protocol: 'azure'`/);
    expect(() => placeAzureHeaders({ 'content-type': 'text/plain' }, undefined)).toThrow(/"content-type"/);
    expect(() => placeAzureHeaders({ 'x-ms-meta-': 'x' }, undefined)).toThrow(TypeError);
    expect(() => placeAzureHeaders({ 'x-ms-blob-content-type': 'a' }, 'b')).toThrow(/both set the blob's Content-Type/);
  });
});
