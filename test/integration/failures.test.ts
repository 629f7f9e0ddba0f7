/**
 * How uploads fail: typed errors with codes, never a hang, never a finalized object after an
 * error, and the session URI never printed whole.
 */
import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResumableWriteStream } from '../../src/index.js';
import { createTestServer, type TestServer } from '../../src/testing/index.js';
import { FAST_RETRY, K256, makeData, source, upload } from './helpers.js';
import { createScriptedServer } from './scripted-server.js';

let server: TestServer;
beforeAll(async () => {
  server = await createTestServer();
});
afterAll(() => server.close());

const CHUNK = 2 * K256;
const neverFinalized = (uri: string) => {
  const snapshot = server.session(uri);
  expect(snapshot.finalized).toBe(false);
  expect(snapshot.requests.some((entry) => entry.status === 200 || entry.status === 'lost')).toBe(false);
};
/** 'close', whether or not 'error' came first (events.once would reject on 'error'). */
const closed = (stream: Writable) => new Promise((resolve) => stream.once('close', resolve));

describe('terminal errors', () => {
  it.each([
    ['session-gone', 404],
    ['session-gone-410', 410],
    ['session-expired', 400],
  ])('%s → SessionExpiredError carrying bytesCommitted, no retry', async (fault, status) => {
    const outcome = await upload(server, { size: 3 * CHUNK, chunkSize: CHUNK, faults: [{ fault, on: 2 }] });
    expect(outcome.error).toMatchObject({ code: 'RWS_SESSION_EXPIRED', status, bytesCommitted: CHUNK });
    expect(outcome.retries).toEqual([]);
    neverFinalized(outcome.uri);
  });

  it('a persistent 503 exhausts the retries: RetriesExhaustedError with attempts and range', async () => {
    const outcome = await upload(server, {
      size: CHUNK + 10,
      chunkSize: CHUNK,
      faults: [{ fault: 'return-503', times: Infinity }],
      options: { retry: { retries: 2 } },
    });
    expect(outcome.error).toMatchObject({ code: 'RWS_RETRIES_EXHAUSTED', attempts: 3, bytesCommitted: 0 });
    expect((outcome.error as Error).message).toMatch(/gave up uploading chunk bytes 0-524287\/\* after 3 attempts/);
    expect((outcome.error as Error).cause).toMatchObject({ code: 'RWS_HTTP_STATUS', status: 503 });
    neverFinalized(outcome.uri);
  });

  it('maxRetryTime bounds the time spent without progress', async () => {
    const started = Date.now();
    const outcome = await upload(server, {
      size: 100,
      faults: [{ fault: 'return-503', times: Infinity }],
      options: { retry: { retries: 1000, minTimeout: 20, maxTimeout: 20, maxRetryTime: 300 } },
    });
    expect(outcome.error).toMatchObject({ code: 'RWS_RETRIES_EXHAUSTED' });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it.each([
    ['more than totalSize', 1000, 999, /1000 bytes written, more than the declared totalSize 999/],
    ['fewer than totalSize', 1000, 1001, /ended after 1000 bytes, but totalSize declared 1001/],
  ])('%s → SizeMismatchError, never finalized', async (_name, size, totalSize, message) => {
    const outcome = await upload(server, { size, options: { totalSize } });
    expect(outcome.error).toMatchObject({ code: 'RWS_SIZE_MISMATCH', expected: totalSize });
    expect((outcome.error as Error).message).toMatch(message);
    neverFinalized(outcome.uri);
  });

  it('writes after end are refused', async () => {
    const stream = createResumableWriteStream({ url: server.createSession() });
    stream.end(Buffer.from('x'));
    await once(stream, 'finish');
    const error = await new Promise((resolve) => stream.write(Buffer.from('y'), resolve));
    expect(error).toMatchObject({ code: 'ERR_STREAM_WRITE_AFTER_END' });
  });
});

describe('destroy, signal, cancel, failed pipelines: nothing is finalized, nothing is left running', () => {
  let slow: TestServer;
  beforeAll(async () => {
    slow = await createTestServer({ latencyMs: 150 });
  });
  afterAll(() => slow.close());

  async function startSlowUpload(options: Record<string, unknown> = {}) {
    const uri = slow.createSession();
    const dispatcher = new Agent();
    const stream = createResumableWriteStream({ url: uri, chunkSize: K256, dispatcher, retry: FAST_RETRY, ...options });
    const errors: unknown[] = [];
    stream.on('error', (error) => errors.push(error));
    stream.write(makeData(3 * K256));
    // Wait until the first chunk is in flight (the server answers after 150 ms).
    await new Promise((resolve) => setTimeout(resolve, 50));
    return { uri, dispatcher, stream, errors };
  }

  async function expectClean(uri: string, dispatcher: Agent) {
    const snapshot = slow.session(uri);
    expect(snapshot.finalized).toBe(false);
    expect(snapshot.requests.every((entry) => entry.contentRange?.endsWith('/*') || entry.method === 'DELETE')).toBe(true);
    // close() resolves only once no request is running on the dispatcher.
    await dispatcher.close();
  }

  it('destroy(err) aborts the request in flight and errors with err', async () => {
    const { uri, dispatcher, stream, errors } = await startSlowUpload();
    const cause = new Error('source broke');
    stream.destroy(cause);
    await closed(stream);
    expect(errors).toEqual([cause]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await expectClean(uri, dispatcher);
  });

  it('destroy() right after the first write, before the loop runs again, still closes', async () => {
    const stream = createResumableWriteStream({ url: slow.createSession(), chunkSize: K256 });
    stream.write(Buffer.alloc(16 * 1024));
    stream.destroy();
    await closed(stream);
    expect(stream.destroyed).toBe(true);
  });

  it('destroy during a backoff leaves no timer and no socket behind', async () => {
    const count = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout' || kind === 'TCPSocketWrap').length;
    const faulty = await createTestServer({ faults: [{ fault: 'return-503', times: Infinity }] });
    const before = count();
    const dispatcher = new Agent();
    const stream = createResumableWriteStream({ url: faulty.createSession(), chunkSize: K256, dispatcher, retry: { minTimeout: 60_000, maxTimeout: 60_000 } });
    stream.on('error', () => {});
    const retried = new Promise((resolve) => stream.once('retry', resolve));
    stream.write(Buffer.alloc(K256 + 1));
    await retried;
    stream.destroy();
    await closed(stream);
    await dispatcher.close();
    // The server's side of the connection is its own handle: close it before counting ours.
    await faulty.close();
    // Closing sockets and undici's coarse timer wind down within a tick or two: poll, bounded.
    for (let waited = 0; count() > before && waited < 2000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(count(), JSON.stringify(process.getActiveResourcesInfo())).toBeLessThanOrEqual(before);
  });

  it('an aborted signal → AbortedError with the reason as cause', async () => {
    const controller = new AbortController();
    const { uri, dispatcher, stream, errors } = await startSlowUpload({ signal: controller.signal });
    controller.abort(new Error('shutdown'));
    await closed(stream);
    expect(errors[0]).toMatchObject({ code: 'RWS_ABORTED', cause: { message: 'shutdown' } });
    await expectClean(uri, dispatcher);
  });

  it('an already aborted signal fails the stream at once', async () => {
    const stream = createResumableWriteStream({ url: slow.createSession(), signal: AbortSignal.abort() });
    const [error] = await once(stream, 'error');
    expect(error).toMatchObject({ code: 'RWS_ABORTED' });
  });

  it('the signal also cuts a backoff short', async () => {
    const controller = new AbortController();
    const uri = server.createSession({ faults: [{ fault: 'return-503', times: Infinity }] });
    const stream = createResumableWriteStream({ url: uri, signal: controller.signal, retry: { minTimeout: 60_000, maxTimeout: 60_000 } });
    const started = Date.now();
    stream.once('retry', () => controller.abort());
    const error = await pipeline(Readable.from([Buffer.alloc(10)]), stream).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'RWS_ABORTED' });
    expect(Date.now() - started).toBeLessThan(5000);
    neverFinalized(uri);
  });

  it('cancel() aborts, sends DELETE (499) and the session is gone', async () => {
    const { uri, dispatcher, stream, errors } = await startSlowUpload();
    const result = await stream.cancel();
    expect(result).toEqual({ status: 499 });
    expect(errors[0]).toMatchObject({ code: 'RWS_ABORTED' });
    expect(slow.session(uri).goneStatus).toBe(404);
    await expectClean(uri, dispatcher);
  });

  it('cancel() after the upload completed sends nothing', async () => {
    const uri = server.createSession();
    const stream = createResumableWriteStream({ url: uri });
    await pipeline(Readable.from([Buffer.alloc(10)]), stream);
    expect(await stream.cancel()).toEqual({ status: undefined });
    expect(server.session(uri).requests.map((entry) => entry.method)).toEqual(['PUT']);
  });

  it('a failed pipeline never finalizes', async () => {
    const uri = server.createSession();
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(CHUNK + 100));
        this.destroy(new Error('disk read failed'));
      },
    });
    const error = await pipeline(failing, createResumableWriteStream({ url: uri, chunkSize: CHUNK, retry: FAST_RETRY })).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ message: 'disk read failed' });
    neverFinalized(uri);
  });
});

describe('memory and backpressure', () => {
  it('retains at most 2 × chunkSize + one write, however long the stream', async () => {
    const chunkSize = 1024 * 1024;
    const writeSize = 64 * 1024;
    const outcome = await upload(server, { size: 48 * chunkSize, chunkSize, writeSize, session: {} });
    expect(outcome.error).toBeUndefined();
    expect(outcome.stream.peakBytesRetained).toBeLessThanOrEqual(2 * chunkSize + writeSize);
    expect(outcome.stream.peakBytesRetained).toBeGreaterThan(chunkSize);
  });

  it('write() returns false while a full chunk waits behind the one in flight', async () => {
    const slow = await createTestServer({ latencyMs: 100 });
    const stream = createResumableWriteStream({ url: slow.createSession(), chunkSize: K256, highWaterMark: 64 * 1024 });
    let accepted = 0;
    while (stream.write(Buffer.alloc(16 * 1024)) && accepted < 64 * K256) accepted += 16 * 1024;
    // One chunk in flight, one full chunk waiting, plus what the Writable itself buffers.
    expect(accepted).toBeLessThanOrEqual(2 * K256 + 64 * 1024);
    expect(stream.bytesRetained).toBeLessThanOrEqual(2 * K256 + 16 * 1024);
    stream.destroy();
    await closed(stream);
    await slow.close();
  });
});

describe('hostile servers → typed errors, never a hang', () => {
  const run = async (handler: Parameters<typeof createScriptedServer>[0], size = 2 * K256, options: Record<string, unknown> = {}) => {
    const hostile = await createScriptedServer(handler);
    const messages: string[] = [];
    const stream = createResumableWriteStream({ url: hostile.url, chunkSize: K256, retry: { ...FAST_RETRY, retries: 2 }, ...options });
    stream.on('retry', (event) => messages.push(event.error.message));
    const error = await pipeline(source(makeData(size)), stream).then(() => undefined, (caught: unknown) => caught);
    await hostile.close();
    if (error) messages.push((error as Error).message, String((error as Error).cause));
    for (const message of messages) expect(message).not.toContain('TOPSECRET123');
    return { error, hits: hostile.hits, stream };
  };

  it.each([
    ['garbage Range', 'bytes=lots'],
    ['negative Range', 'bytes=0--5'],
    ['Range beyond what was sent', `bytes=0-${K256 * 4}`],
  ])('%s → RWS_PROTOCOL', async (_name, range) => {
    const { error, hits } = await run((_request, res) => res.writeHead(308, { range }).end());
    expect(error).toMatchObject({ code: 'RWS_PROTOCOL', bytesCommitted: 0 });
    expect(hits).toHaveLength(1);
  });

  it('an offset going backwards after bytes were released → RWS_PROTOCOL, nothing finalized', async () => {
    const { error, hits } = await run((request, res) => {
      res.writeHead(308, { range: request.number === 1 ? `bytes=0-${K256 - 1}` : 'bytes=0-99' }).end();
    }, 3 * K256);
    expect(error).toMatchObject({ code: 'RWS_PROTOCOL', bytesCommitted: K256 });
    expect(hits.every((hit) => hit.contentRange?.endsWith('/*'))).toBe(true);
  });

  it('redirects are never followed', async () => {
    const elsewhere = await createScriptedServer((_request, res) => res.writeHead(200).end());
    const { error } = await run((_request, res) => res.writeHead(302, { location: elsewhere.url }).end());
    expect(error).toMatchObject({ code: 'RWS_HTTP_STATUS', status: 302 });
    expect(elsewhere.hits).toHaveLength(0);
    await elsewhere.close();
  });

  it('401/403 are not retried; the error carries a short body excerpt', async () => {
    const { error, hits } = await run((_request, res) => res.writeHead(403).end('x'.repeat(5 * 1024 * 1024)));
    expect(error).toMatchObject({ code: 'RWS_HTTP_STATUS', status: 403 });
    expect((error as { bodyExcerpt: string }).bodyExcerpt.length).toBeLessThanOrEqual(300);
    expect(hits).toHaveLength(1);
  });

  it('a server that never answers: bounded by headersTimeout and the retry budget', async () => {
    const { error } = await run(() => {}, 10, { timeouts: { headersTimeout: 100 }, retry: { ...FAST_RETRY, retries: 1 } });
    expect(error).toMatchObject({ code: 'RWS_RETRIES_EXHAUSTED', cause: { code: 'RWS_TIMEOUT' } });
  });

  it('a server that trickles its answer body: bounded by bodyTimeout for the whole body', async () => {
    const trickles: NodeJS.Timeout[] = [];
    const started = Date.now();
    const { error } = await run((_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      trickles.push(setInterval(() => res.write('x'), 20));
    }, 10, { timeouts: { bodyTimeout: 300 }, retry: { ...FAST_RETRY, retries: 1 } });
    for (const trickle of trickles) clearInterval(trickle);
    expect(error).toMatchObject({ code: 'RWS_RETRIES_EXHAUSTED', cause: { code: 'RWS_TIMEOUT' } });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('a final answer whose body is not JSON is kept as text', async () => {
    const { error, stream } = await run((_request, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('<html>'), 10);
    expect(error).toBeUndefined();
    expect(stream.result?.body).toBe('<html>');
  });

  it('a connection closed before any answer is retried, then typed', async () => {
    const { error } = await run((_request, _res, req) => req.socket.destroy(), 10);
    expect(error).toMatchObject({ code: 'RWS_RETRIES_EXHAUSTED', attempts: 3, cause: { code: 'RWS_NETWORK' } });
  });
});

describe('the session URI is never printed whole', () => {
  it('errors and events of a faulted run mention only the redacted form', async () => {
    const outcome = await upload(server, {
      size: 3 * CHUNK,
      chunkSize: CHUNK,
      faults: ['return-503-after-256K', 'return-reset-connection', { fault: 'session-gone', on: 4 }],
    });
    const secret = new URL(outcome.uri).searchParams.get('upload_id') as string;
    const printed = [
      ...outcome.retries.map((event) => `${event.error.message} ${String(event.error.stack)}`),
      String((outcome.error as Error).message),
      String((outcome.error as Error).stack),
      JSON.stringify(outcome.error),
      (await import('node:util')).inspect(outcome.error, { depth: 5 }),
      outcome.stream.redactedUrl,
    ].join('\n');
    expect(outcome.error).toMatchObject({ code: 'RWS_SESSION_EXPIRED' });
    expect(printed).toContain('upload_id=…');
    expect(printed).not.toContain(secret);
    expect((outcome.error as { url: string }).url).toBe(outcome.uri);
  });
});

describe('sink sanity', () => {
  it('the stream is a Writable', () => {
    expect(createResumableWriteStream({ url: server.createSession() })).toBeInstanceOf(Writable);
  });
});
