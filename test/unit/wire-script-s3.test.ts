/**
 * S3 multipart on a scripted wire: the exact request sequence of `createResumableWriteStream`
 * (method, path and query, Content-Length), listed as Go's resumable tests do; leftovers and
 * extras fail the test. Only the public API is used, so the scripts hold whatever drives the
 * parts. One part in flight (`queueSize: 1`) makes the order exact. (Against the strict
 * loopback S3 server and s3rver with faults: test/integration/s3*.test.ts.)
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createResumableWriteStream, type Checkpoint, type ResumableWriteStreamOptions } from '../../src/index.js';
import { createWireScript, type WireReply, type WireRequest, type WireScript, type WireStep } from '../integration/scripted-server.js';

const PART = 5 * 1024 * 1024;
const OBJECT = '/bkt/logs/app.log';
const UPLOAD = 'U-1';
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };
/** A body's length is part of the script where it is data; Complete's XML may be laid out either way. */
const KEY_HEADERS = (method: string) => (method === 'PUT' ? ['content-length'] : []);
let script: WireScript | undefined;
afterEach(() => script?.close());

const md5 = (data: Buffer) => createHash('md5').update(data).digest();
const unquote = (etag: string) => etag.replace(/&quot;|"/g, '');
const xml = (body: string): WireReply => ({ status: 200, headers: { 'content-type': 'application/xml' }, body: `<?xml version="1.0" encoding="UTF-8"?>\n${body}` });

/** The answers of an S3 that keeps what it is sent: ETags are the parts' MD5s, Complete's the multipart one. */
function s3Like() {
  const parts = new Map<number, Buffer>();
  const etagOf = (data: Buffer) => `"${md5(data).toString('hex')}"`;
  const multipartEtag = () => {
    const sorted = [...parts.entries()].sort(([a], [b]) => a - b).map(([, data]) => md5(data));
    return `"${createHash('md5').update(Buffer.concat(sorted)).digest('hex')}-${sorted.length}"`;
  };
  const completed = () => xml(`<CompleteMultipartUploadResult><Bucket>bkt</Bucket><Key>logs/app.log</Key><ETag>${multipartEtag()}</ETag></CompleteMultipartUploadResult>`);
  const object = () => Buffer.concat([...parts.entries()].sort(([a], [b]) => a - b).map(([, data]) => data));
  return {
    create: xml(`<InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>logs/app.log</Key><UploadId>${UPLOAD}</UploadId></InitiateMultipartUploadResult>`),
    part: (request: WireRequest): WireReply => {
      parts.set(Number(new URL(request.path, 'http://s3').searchParams.get('partNumber')), request.body);
      return { status: 200, headers: { etag: etagOf(request.body) } };
    },
    complete: (request: WireRequest): WireReply => {
      const listed = [...request.body.toString('utf8').matchAll(/<PartNumber>(\d+)<\/PartNumber>\s*<ETag>([^<]+)<\/ETag>/g)].map(([, n, etag]) => `${n} ${unquote(etag as string)}`);
      const expected = [...parts.keys()].sort((a, b) => a - b).map((n) => `${n} ${unquote(etagOf(parts.get(n) as Buffer))}`);
      if (listed.join() !== expected.join()) return { status: 400, body: `<Error><Code>InvalidPart</Code><Message>${listed.join()}</Message></Error>` };
      return completed();
    },
    head: (): WireReply => ({ status: 200, headers: { etag: multipartEtag(), 'content-length': String(object().length) } }),
    /** ListParts of the parts received so far. */
    list: (): WireReply =>
      xml(
        `<ListPartsResult><Bucket>bkt</Bucket><Key>logs/app.log</Key><UploadId>${UPLOAD}</UploadId><IsTruncated>false</IsTruncated>` +
          [...parts.entries()].map(([n, data]) => `<Part><PartNumber>${n}</PartNumber><ETag>${etagOf(data)}</ETag><Size>${data.length}</Size></Part>`).join('') +
          '</ListPartsResult>',
      ),
    object,
  };
}

const noSuchUpload: WireReply = { status: 404, headers: { 'content-type': 'application/xml' }, body: '<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>' };
const CREATE = `POST ${OBJECT}?uploads`;
const part = (n: number, length: number) => `PUT ${OBJECT}?partNumber=${n}&uploadId=${UPLOAD} content-length: ${length}`;
const COMPLETE = `POST ${OBJECT}?uploadId=${UPLOAD}`;
const ABORT = `DELETE ${OBJECT}?uploadId=${UPLOAD}`;
const LIST = `GET ${OBJECT}?uploadId=${UPLOAD}`;
const HEAD = `HEAD ${OBJECT}`;

type Extra = Partial<Omit<ResumableWriteStreamOptions, 's3'>> & { s3?: Record<string, unknown> };

function options(extra: Extra = {}): ResumableWriteStreamOptions {
  const { s3, ...rest } = extra;
  return {
    s3: { bucket: 'bkt', key: 'logs/app.log', endpoint: (script as WireScript).origin, credentials, region: 'us-east-1', queueSize: 1, ...s3 },
    chunkSize: PART,
    checksum: false,
    retry: { minTimeout: 0, maxTimeout: 0, requeryDelay: 0 },
    ...rest,
  } as ResumableWriteStreamOptions;
}

function data(size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  for (let index = 0; index < size; index++) bytes[index] = index % 251;
  return bytes;
}

async function upload(input: Buffer, steps: WireStep[], extra: Extra = {}) {
  script = await createWireScript(steps, KEY_HEADERS);
  const stream = createResumableWriteStream(options(extra));
  const checkpoints: Checkpoint[] = [];
  stream.on('checkpoint', (checkpoint) => checkpoints.push(checkpoint));
  const error = await pipeline(Readable.from([input]), stream).then(() => undefined, (caught: unknown) => caught);
  const seen = [...script.seen];
  expect(seen).toEqual(steps.map(([line]) => line));
  expect(script.leftovers()).toEqual([]);
  return { error, stream, checkpoints };
}

describe('S3 wire scripts', () => {
  it('a stream within one part: a single PutObject, no multipart upload', async () => {
    const input = data(10);
    const outcome = await upload(input, [[`PUT ${OBJECT} content-length: 10`, { status: 200, headers: { etag: `"${md5(input).toString('hex')}"` } }]]);
    expect(outcome.error).toBeUndefined();
  });

  it('multi-part: Create, the parts in order, then Complete with every part', async () => {
    const server = s3Like();
    const input = data(2 * PART + 10);
    const outcome = await upload(input, [
      [CREATE, server.create],
      [part(1, PART), server.part],
      [part(2, PART), server.part],
      [part(3, 10), server.part],
      [COMPLETE, server.complete],
    ]);
    expect(outcome.error).toBeUndefined();
    expect(server.object().equals(input)).toBe(true);
  });

  it('a 503 to a part and to Complete: each is sent again, alone', async () => {
    const server = s3Like();
    const outcome = await upload(data(PART + 1), [
      [CREATE, server.create],
      [part(1, PART), { status: 503 }],
      [part(1, PART), server.part],
      [part(2, 1), server.part],
      [COMPLETE, { status: 503 }],
      [COMPLETE, server.complete],
    ]);
    expect(outcome.error).toBeUndefined();
  });

  it('a lost answer to a part: that part again; a lost answer to Complete: Complete again, NoSuchUpload, and a HEAD proves the object', async () => {
    const server = s3Like();
    const input = data(PART + 1);
    const outcome = await upload(input, [
      [CREATE, server.create],
      [part(1, PART), (request) => (server.part(request), 'reset')],
      [part(1, PART), server.part],
      [part(2, 1), server.part],
      [COMPLETE, (request) => (server.complete(request), 'reset')],
      [COMPLETE, noSuchUpload],
      [HEAD, server.head],
    ]);
    expect(outcome.error).toBeUndefined();
    expect(server.object().equals(input)).toBe(true);
  });

  it('resume from a checkpoint: ListParts, the parts already there kept, the rest sent, Complete', async () => {
    const server = s3Like();
    const input = data(2 * PART + 10);
    // The checkpoint names this server: both runs are one script.
    const steps: WireStep[] = [
      // A first run whose third part never gets through: the parts stay for a resume.
      [CREATE, server.create],
      [part(1, PART), server.part],
      [part(2, PART), server.part],
      [part(3, 10), { status: 500 }],
      [part(3, 10), { status: 500 }],
      // The resumed run.
      [LIST, server.list],
      [part(3, 10), server.part],
      [COMPLETE, server.complete],
    ];
    script = await createWireScript(steps, KEY_HEADERS);
    const checkpoints: Checkpoint[] = [];
    const first = createResumableWriteStream(options({ retry: { retries: 1, minTimeout: 0, maxTimeout: 0 }, s3: { leavePartsOnError: true } }));
    first.on('checkpoint', (checkpoint) => checkpoints.push(checkpoint));
    const failure = await pipeline(Readable.from([input]), first).then(() => undefined, (caught: unknown) => caught);
    expect(failure).toMatchObject({ code: 'RWS_RETRIES_EXHAUSTED' });
    const resumed = createResumableWriteStream(options({ resume: checkpoints.at(-1) as Checkpoint, resumeInput: 'from-start' }));
    await pipeline(Readable.from([input]), resumed);
    expect(script.seen).toEqual(steps.map(([line]) => line));
    expect(script.leftovers()).toEqual([]);
    expect(server.object().equals(input)).toBe(true);
  });

  it('cancel: AbortMultipartUpload, and no Complete', async () => {
    const server = s3Like();
    const steps: WireStep[] = [[CREATE, server.create], [part(1, PART), server.part], [ABORT, { status: 204 }]];
    script = await createWireScript(steps, KEY_HEADERS);
    const stream = createResumableWriteStream(options());
    stream.on('error', () => undefined);
    stream.write(data(PART + 5));
    while (stream.bytesCommitted < PART) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await stream.cancel()).toMatchObject({ status: 204 });
    expect(script.seen).toEqual(steps.map(([line]) => line));
    expect(script.leftovers()).toEqual([]);
  });
});
