import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CredentialsError } from '../../src/errors.js';
import { authorize, cachedToken, STORAGE_SCOPE, type AzureTokenCredential } from '../../src/protocols/azure/auth.js';
import { sharedKeyAuthorization, stringToSign } from '../../src/protocols/azure/shared-key.js';
import { AZURE_LIMITS, AZURE_MAX_BLOB_SIZE, blockId, blockListBody, newUploadId, parseAzureError, parseBlobUrl, parseBlockId, parseBlockLists, withQuery } from '../../src/protocols/azure/wire.js';

describe('Azure block ids', () => {
  const md5 = createHash('md5').update('block bytes').digest('base64');

  it('have one length for every block up to 50,000, with or without an MD5, without base64 padding', () => {
    const uploadId = newUploadId();
    const lengths = new Set([1, 9, 10, 999, 12_345, 50_000].flatMap((n) => [blockId(uploadId, n).length, blockId(uploadId, n, md5).length]));
    expect([...lengths]).toEqual([52]);
    expect(blockId(uploadId, 50_000, md5)).not.toContain('=');
  });

  it('name their part number and MD5 for their own upload and nothing for another one', () => {
    const uploadId = newUploadId();
    expect(parseBlockId(blockId(uploadId, 42, md5), uploadId)).toEqual({ partNumber: 42, md5Hex: Buffer.from(md5, 'base64').toString('hex') });
    expect(parseBlockId(blockId(uploadId, 42), uploadId)).toEqual({ partNumber: 42, md5Hex: undefined });
    expect(parseBlockId(blockId(newUploadId(), 42, md5), uploadId)).toBeUndefined();
    expect(parseBlockId(Buffer.from('block-000001').toString('base64'), uploadId)).toBeUndefined();
    expect(parseBlockId(blockId(uploadId, 0), uploadId)).toBeUndefined();
  });
});

describe('Azure limits', () => {
  it('are 50,000 blocks of at most 4,000 MiB (a blob of about 190.7 TiB at most)', () => {
    expect(AZURE_LIMITS.maxParts).toBe(50_000);
    expect(AZURE_LIMITS.maxPartSize).toBe(4000 * 1024 * 1024);
    expect(AZURE_MAX_BLOB_SIZE / 1024 ** 4).toBeCloseTo(190.73, 2);
    // The schedule's target is below Azure's largest blob: reaching that needs every block at 4,000 MiB.
    expect(AZURE_LIMITS.maxObjectSize).toBeLessThan(AZURE_MAX_BLOB_SIZE);
  });
});

describe('Azure blob URLs', () => {
  it('take the account from an ACCOUNT.blob host, else from the first path segment (emulators)', () => {
    expect(parseBlobUrl('https://acct.blob.core.windows.net/ctr/dir/a%20b.bin?sv=1&sig=x')).toMatchObject({ account: 'acct', container: 'ctr', blob: 'dir/a b.bin', hasSas: true });
    expect(parseBlobUrl('http://127.0.0.1:10000/devstoreaccount1/ctr/blob')).toMatchObject({ account: 'devstoreaccount1', container: 'ctr', blob: 'blob', hasSas: false });
    expect(parseBlobUrl('https://acct.blob.core.windows.net/ctr')).toBeUndefined();
    expect(parseBlobUrl('https://acct.blob.core.windows.net/ctr/')).toBeUndefined();
  });

  it('get operations appended without touching the SAS', () => {
    const url = 'https://acct.blob.core.windows.net/ctr/b?sv=2021-06-08&se=2030-01-01T00%3A00%3A00Z&sig=a%2Bb%3D';
    expect(withQuery(url, { comp: 'block', blockid: 'ab+/=' })).toBe(`${url}&comp=block&blockid=ab%2B%2F%3D`);
    expect(withQuery('https://acct.blob.core.windows.net/ctr/b', { comp: 'blocklist' })).toBe('https://acct.blob.core.windows.net/ctr/b?comp=blocklist');
  });
});

describe('Azure XML', () => {
  it('commits every block as <Latest>, in order', () => {
    expect(blockListBody(['QQ==', 'Qg=='])).toBe('<?xml version="1.0" encoding="utf-8"?><BlockList><Latest>QQ==</Latest><Latest>Qg==</Latest></BlockList>');
  });

  it('reads Get Block List: empty sections, one block, several', () => {
    expect(parseBlockLists('<BlockList><CommittedBlocks/><UncommittedBlocks/></BlockList>')).toEqual({ committed: [], uncommitted: [] });
    expect(parseBlockLists('<?xml version="1.0"?><BlockList/>')).toEqual({ committed: [], uncommitted: [] });
    const body =
      '<BlockList><CommittedBlocks><Block><Name>QQ==</Name><Size>3</Size></Block></CommittedBlocks>' +
      '<UncommittedBlocks><Block><Name>Qg==</Name><Size>4</Size></Block><Block><Name>Qw==</Name><Size>5</Size></Block></UncommittedBlocks></BlockList>';
    expect(parseBlockLists(body)).toEqual({ committed: [{ name: 'QQ==', size: 3 }], uncommitted: [{ name: 'Qg==', size: 4 }, { name: 'Qw==', size: 5 }] });
    expect(parseBlockLists('<Error><Code>X</Code></Error>')).toBeUndefined();
    expect(parseBlockLists('<BlockList><UncommittedBlocks><Block><Name>Qg==</Name></Block></UncommittedBlocks></BlockList>')).toBeUndefined();
  });

  it('reads the error code from x-ms-error-code, else from the body', () => {
    const body = '<?xml version="1.0"?><Error><Code>BlobNotFound</Code><Message>The specified blob does not exist.\nRequestId:1</Message></Error>';
    expect(parseAzureError({}, body)).toEqual({ code: 'BlobNotFound', message: 'The specified blob does not exist.' });
    expect(parseAzureError({ 'x-ms-error-code': 'ServerBusy' }, '')).toEqual({ code: 'ServerBusy', message: '' });
    expect(parseAzureError({}, 'oops')).toBeUndefined();
  });
});

describe('Azure Shared Key', () => {
  const request = {
    method: 'PUT',
    url: 'http://127.0.0.1:10000/devstoreaccount1/ctr/blob?comp=block&blockid=ab%2Bc',
    headers: { 'x-ms-version': '2025-01-05', 'x-ms-date': 'Tue, 01 Dec 2026 12:00:00 GMT', 'content-md5': 'md5==', 'x-ms-meta-b': ' two   words ', 'x-ms-meta-a': '1' },
    contentLength: 5,
  };

  it('signs the standard headers in order, the x-ms-* headers sorted, the resource with its query decoded and sorted', () => {
    expect(stringToSign('devstoreaccount1', request).split('\n')).toEqual([
      'PUT', '', '', '5', 'md5==', '', '', '', '', '', '', '',
      'x-ms-date:Tue, 01 Dec 2026 12:00:00 GMT', 'x-ms-meta-a:1', 'x-ms-meta-b:two words', 'x-ms-version:2025-01-05',
      '/devstoreaccount1/devstoreaccount1/ctr/blob', 'blockid:ab+c', 'comp:block',
    ]);
  });

  it('leaves Content-Length empty for an empty body', () => {
    expect(stringToSign('acct', { ...request, contentLength: 0 }).split('\n')[3]).toBe('');
  });

  it('is HMAC-SHA256 of that string under the decoded key', () => {
    const key = Buffer.from('secret-key');
    const expected = createHmac('sha256', key).update(stringToSign('acct', request)).digest('base64');
    expect(sharedKeyAuthorization('acct', key, request)).toBe(`SharedKey acct:${expected}`);
  });

  it('is computed per attempt with the date and version of that attempt', async () => {
    const auth = { kind: 'shared-key', account: 'acct', key: Buffer.from('k') } as const;
    const first = await authorize(auth, { ...request, headers: {} }, new Date(0));
    const later = await authorize(auth, { ...request, headers: {} }, new Date(60_000));
    expect(first['x-ms-version']).toBe('2025-01-05');
    expect(first['x-ms-date']).toBe('Thu, 01 Jan 1970 00:00:00 GMT');
    expect(later['authorization']).not.toBe(first['authorization']);
  });
});

describe('Azure Entra tokens', () => {
  const credential = (tokens: Array<string | Error | null>, expiresIn: number, scopes: unknown[] = []): AzureTokenCredential => ({
    async getToken(scope) {
      scopes.push(scope);
      const next = tokens.shift();
      if (next instanceof Error) throw next;
      return next === null || next === undefined ? null : { token: next, expiresOnTimestamp: clock + expiresIn };
    },
  });
  let clock = 0;

  it('go as Bearer, asked for the storage scope, cached until 5 minutes before expiry', async () => {
    clock = 0;
    const scopes: unknown[] = [];
    const token = cachedToken(credential(['one', 'two'], 10 * 60_000, scopes), () => clock);
    expect(await authorize({ kind: 'token', token }, { method: 'GET', url: 'https://a.blob.core.windows.net/c/b', headers: {}, contentLength: 0 })).toMatchObject({ authorization: 'Bearer one' });
    clock = 4 * 60_000;
    expect(await token()).toBe('one');
    clock = 6 * 60_000;
    expect(await token()).toBe('two');
    expect(scopes).toEqual([STORAGE_SCOPE, STORAGE_SCOPE]);
  });

  it('keep a still-valid token when a refresh fails, and fail typed without one', async () => {
    clock = 0;
    const token = cachedToken(credential(['one', new Error('identity endpoint down'), null], 10 * 60_000), () => clock);
    await token();
    clock = 6 * 60_000;
    expect(await token()).toBe('one');
    clock = 11 * 60_000;
    await expect(token()).rejects.toBeInstanceOf(CredentialsError);
  });
});
