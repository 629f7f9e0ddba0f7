/** The Azure adapter's pure half: digests per block, checkpoint URLs, and what Azure's error answers mean. */
import { describe, expect, it } from 'vitest';
import { ChecksumMismatchError, HttpStatusError, SessionExpiredError, redactUrl } from '../../src/errors.js';
import type { PartsCall } from '../../src/parts/protocol.js';
import { createAzureProtocol } from '../../src/protocols/azure/adapter.js';
import { validateAzure } from '../../src/protocols/azure/options.js';
import type { TransportAnswer } from '../../src/transport.js';

const sas = 'sv=2021-06-08&sp=rw&sig=SECRETSIGNATURE';
const blob = `https://acct.blob.core.windows.net/ctr/dir/blob.bin?${sas}`;
const protocol = createAzureProtocol(validateAzure(undefined, blob, {}));
const call: PartsCall = {
  send: () => Promise.reject(new Error('no network in unit tests')),
  sendOnce: () => Promise.reject(new Error('no network in unit tests')),
  redactedUrl: redactUrl(blob),
  context: () => ({ bytesCommitted: 0 }),
};

const answer = (status: number, code: string | undefined, body = ''): TransportAnswer => ({
  status,
  headers: code === undefined ? {} : { 'x-ms-error-code': code },
  body,
  bodyTruncated: false,
});

describe('the Azure adapter, without a server', () => {
  it("digests every block's MD5 whatever the checksum, except with none, and its CRC32C when the stream keeps one", () => {
    expect(['crc32c', 'md5', 'both', false].map((option) => protocol.partChecksum(option as 'crc32c'))).toEqual(['both', 'md5', 'both', false]);
  });

  it('names its upload in the checkpoint URL and finds it again with a fresh SAS, never for another blob', () => {
    const url = protocol.sessionUrl('0123456789abcdef');
    expect(url.startsWith(blob)).toBe(true);
    expect(protocol.parseSessionUrl(url)).toBe('0123456789abcdef');
    expect(protocol.parseSessionUrl(url.replace('SECRETSIGNATURE', 'RENEWED'))).toBe('0123456789abcdef');
    expect(protocol.parseSessionUrl(url.replace('blob.bin', 'other.bin'))).toBeUndefined();
    expect(protocol.parseSessionUrl(blob)).toBeUndefined();
    expect(protocol.parseSessionUrl(`${blob}&rwsUploadId=not-an-id`)).toBeUndefined();
  });

  it.each([
    [400, 'Md5Mismatch', ChecksumMismatchError],
    [400, 'Crc64Mismatch', ChecksumMismatchError],
    [400, 'InvalidBlockList', SessionExpiredError],
    [404, 'BlobNotFound', SessionExpiredError],
    [404, 'ContainerNotFound', HttpStatusError],
    [403, 'AuthenticationFailed', HttpStatusError],
    [400, 'InvalidBlobOrBlock', HttpStatusError],
  ] as const)('%i %s is a %s', (status, code, kind) => {
    const error = protocol.answerError('Put Block 1', answer(status, code), call);
    expect(error).toBeInstanceOf(kind);
    expect(error.message).toContain(code);
    expect(error.message).not.toContain('SECRETSIGNATURE');
  });

  it('retries what Azure asks to retry (503 ServerBusy, 500 OperationTimedOut), not a refusal', () => {
    expect(protocol.answerError('Put Block 1', answer(503, 'ServerBusy'), call)).toMatchObject({ retryable: true });
    expect(protocol.answerError('Put Block 1', answer(500, 'OperationTimedOut'), call)).toMatchObject({ retryable: true });
    expect(protocol.answerError('Put Block 1', answer(403, 'AuthorizationPermissionMismatch'), call)).toMatchObject({ retryable: false });
  });

  it("reads the code from the body when the header is missing, and Azurite's word for a wrong MD5", () => {
    const body = (code: string, message: string) => `<?xml version="1.0"?><Error><Code>${code}</Code><Message>${message}\nRequestId:1</Message></Error>`;
    expect(protocol.answerError('Put Block List', answer(400, undefined, body('InvalidBlockList', 'The specified block list is invalid.')), call)).toBeInstanceOf(SessionExpiredError);
    expect(protocol.answerError('Put Block 2', answer(400, undefined, body('InvalidOperation', "Provided contentMD5 doesn't match.")), call)).toBeInstanceOf(ChecksumMismatchError);
    expect(protocol.answerError('Put Block 2', answer(400, undefined, body('InvalidOperation', 'Something else.')), call)).toBeInstanceOf(HttpStatusError);
  });

  it('cancels without a request: nothing in Azure drops staged blocks alone', async () => {
    await expect(protocol.abort(call, '0123456789abcdef')).resolves.toBe(204);
  });
});
