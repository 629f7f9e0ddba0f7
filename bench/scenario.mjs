// One benchmark run in a fresh process: throughput and peak memory growth of the client.
// Usage: node --expose-gc bench/scenario.mjs '<json spec>'  → prints one JSON line.
import { randomBytes } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { Agent, Client, request } from 'undici';

const spec = JSON.parse(process.argv[2]);
// `dist`: another build of the library (bench/link.mjs compares an older one side by side).
const dist = new URL(`${spec.dist ?? '../dist'}/`, import.meta.url);
const { createMemoryBudget, createResumableWriteStream, createTusUpload, initiateSession } = await import(new URL('index.js', dist).href);
const { ReplayBuffer } = await import(new URL('replay-buffer.js', dist).href);
// Every TCP connection the process opens (undici's and node:http's alike), warm-up included.
let connectionsOpened = 0;
diagnosticsChannel.subscribe('net.client.socket', () => connectionsOpened++);
// `trace: true`: when each request of the timed run went out and was answered (ms from the clock's start).
const trace = [];
let traceFrom;
/** A request as the trace names it: method, path, part number — never the query (upload ids, signatures). */
function traceName(req) {
  const part = /[?&]partNumber=(\d+)/.exec(req.path)?.[1];
  return `${req.method} ${req.path.split('?')[0]}${part ? ` part ${part}` : ''}`;
}
if (spec.trace) {
  const seen = new Map();
  diagnosticsChannel.subscribe('undici:request:create', ({ request: req }) => traceFrom !== undefined && seen.set(req, { what: traceName(req), sent: Math.round(performance.now() - traceFrom) }));
  diagnosticsChannel.subscribe('undici:request:headers', ({ request: req }) => {
    const entry = seen.get(req);
    if (entry) trace.push({ ...entry, answered: Math.round(performance.now() - traceFrom) });
  });
}
const S3_CREDENTIALS = { accessKeyId: 'test-key', secretAccessKey: 'test-secret' };
const MiB = 1024 * 1024;
const WRITE = spec.writeSize ?? 64 * 1024;

/** A 16 MiB pool of random bytes (or log-like text for gzip) served in `WRITE`-sized views. */
function makePool(compressible) {
  if (!compressible) return randomBytes(16 * MiB);
  const lines = [];
  let size = 0;
  while (size < 16 * MiB) {
    const line = `2026-11-22T02:39:00Z INFO id=${randomBytes(6).toString('hex')} status=200 path=/api/v1/items/${size % 997}\n`;
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, 16 * MiB);
}
const pool = makePool(spec.gzip);

/** Fresh buffers, as fs and zlib streams yield them: retaining them really costs memory. */
function* pieces(total) {
  for (let offset = 0; offset < total; offset += WRITE) {
    const at = offset % pool.length;
    const view = pool.subarray(at, Math.min(at + WRITE, pool.length, at + total - offset));
    yield spec.copy === false ? view : Buffer.from(view);
  }
}
const source = (total) => Readable.from(pieces(total), { objectMode: false, highWaterMark: 1 });

// The shaped link's server is plain http on another host (bench/link.mjs); nothing secret crosses it.
const insecure = { allowInsecureHttp: true };
const newSession = (name, dispatcher) => initiateSession({ url: `${spec.server}/upload/storage/v1/b/bench/o?uploadType=resumable&name=${name}`, ...insecure, ...(dispatcher ? { dispatcher } : {}) });

async function wireBytes(url) {
  const id = new URL(url).searchParams.get('upload_id');
  const answer = await request(`${spec.server}/__testing/requests?upload_id=${id}`);
  const entries = await answer.body.json();
  return entries.reduce((sum, entry) => sum + entry.received, 0);
}

/**
 * The source's pieces gathered into chunkSize requests, each sent (`send(start, pieces, length,
 * final)`) once the previous one is answered: a sequential protocol's ceiling. The next chunk's
 * pieces are made between requests, not while one is in flight — meaningful with a source of
 * views (`copy: false`), whose pieces cost nothing to make. The last request is `final`.
 */
async function inChunksOneAfterAnother(send) {
  let start = 0;
  let pending = [];
  let pendingBytes = 0;
  const flush = async (final) => {
    await send(start, pending, pendingBytes, final);
    start += pendingBytes;
    pending = [];
    pendingBytes = 0;
  };
  for (const piece of pieces(spec.size)) {
    pending.push(piece);
    pendingBytes += piece.byteLength;
    if (pendingBytes >= spec.chunkSize && start + pendingBytes < spec.size) await flush(false);
  }
  await flush(true);
}

let oneConnection;

/** Where a parts protocol uploads in this run: its protocol options (credentials are the test servers'). */
function partsTarget(protocol) {
  const name = `${protocol}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  if (protocol === 's3') return { s3: { bucket: 'bench', key: name, endpoint: spec.servers.s3, credentials: S3_CREDENTIALS } };
  if (protocol === 'gcs-multipart') return { protocol, gcs: { bucket: 'bench', name, apiEndpoint: spec.servers.gcs, token: 'bench-token' } };
  if (protocol === 'azure') return { protocol, url: `${spec.servers.azure}/devstoreaccount1/bench/${name}`, azure: AZURITE_ACCOUNT };
  throw new Error(`no parts target for ${protocol}`);
}
/** Azurite's well-known development account. */
const AZURITE_ACCOUNT = { accountName: 'devstoreaccount1', accountKey: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==' };

/**
 * The raw references of the parts suite, timed by themselves: each part's `digest` is computed
 * before the clock (by length: the pool repeats every 16 MiB), then inside it `begin` (the
 * upload's creation: its id), every part `spec.parallel` at a time on as many connections, from
 * views (nothing allocated), and `end` with the parts in order — what remains is the wire and the server.
 */
async function timedParts(origin, digest, { begin = async () => undefined, part, end = async () => undefined }) {
  const count = Math.ceil(spec.size / spec.chunkSize);
  const lengthOf = (index) => Math.min(spec.chunkSize, spec.size - index * spec.chunkSize);
  const digests = new Map();
  for (let index = 0; index < count; index++) if (!digests.has(lengthOf(index))) digests.set(lengthOf(index), digest([...pieces(lengthOf(index))]));
  const clients = Array.from({ length: spec.parallel }, () => new Client(origin, { keepAliveTimeout: 10_000 }));
  const started = performance.now();
  const id = await begin(clients[0]);
  const parts = [];
  let next = 0;
  await Promise.all(clients.map(async (client) => {
    for (let index = next++; index < count; index = next++) {
      const length = lengthOf(index);
      const partNumber = index + 1;
      const tag = await part(client, { id, partNumber, length, digest: digests.get(length), body: [...pieces(length)] });
      parts[index] = { partNumber, tag, digest: digests.get(length) };
    }
  }));
  await end(clients[0], id, parts);
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(clients.map((client) => client.close()));
  return { objectBytes: spec.size, seconds };
}

/** A base64 CRC32C of a list of pieces (the digest our parts carry by default). */
async function crc32cDigest() {
  const { crc32cOf, crcToBase64 } = await import(new URL('checksum.js', dist).href);
  return (body) => crcToBase64(crc32cOf(body));
}

/** The answer's text and headers; an Error naming the status unless it is `status`. */
async function answered(answer, status) {
  const text = await answer.body.text();
  if (answer.statusCode !== status) throw new Error(`answered ${answer.statusCode}, not ${status}: ${text.slice(0, 200)}`);
  return { text, headers: answer.headers };
}

const uploadIdIn = (xml) => /<UploadId>([^<]+)<\/UploadId>/.exec(xml)[1];

const runs = {
  async raw() {
    const url = await newSession('raw');
    const answer = await request(url, {
      method: 'PUT',
      headers: { 'content-length': String(spec.size), 'content-range': `bytes 0-${spec.size - 1}/${spec.size}` },
      // `readable`: the same Readable source every Writable is fed from (stream machinery included).
      body: spec.readable ? source(spec.size) : pieces(spec.size),
    });
    await answer.body.dump();
    if (answer.statusCode !== 200) throw new Error(`raw PUT answered ${answer.statusCode}`);
    return { objectBytes: spec.size };
  },
  async rawChunks() {
    // The sequential protocol's ceiling: the same bytes as chunkSize PUTs one after another,
    // straight through undici — no stream, no checksum, nothing retained — each sent once the
    // previous one is answered, as GCS requires (a chunk starts at the persisted offset).
    oneConnection ??= new Client(new URL(spec.server).origin, { keepAliveTimeout: 10_000 });
    const url = await newSession('raw-chunks', oneConnection);
    await inChunksOneAfterAnother(async (start, body, length, final) => {
      const range = length === 0 ? `bytes */${spec.size}` : `bytes ${start}-${start + length - 1}/${final ? spec.size : '*'}`;
      const answer = await request(url, { method: 'PUT', headers: { 'content-length': String(length), 'content-range': range }, body, dispatcher: oneConnection });
      await answer.body.dump();
      if (answer.statusCode !== (final ? 200 : 308)) throw new Error(`chunk PUT answered ${answer.statusCode}`);
    });
    return { objectBytes: spec.size };
  },
  async stream() {
    const url = await newSession('stream');
    const stream = createResumableWriteStream({ url, chunkSize: spec.chunkSize, checksum: spec.checksum ?? 'crc32c', retry: { minTimeout: 50 }, ...insecure, ...(spec.highWaterMark ? { highWaterMark: spec.highWaterMark } : {}) });
    await (spec.gzip ? pipeline(source(spec.size), createGzip({ level: 1 }), stream) : pipeline(source(spec.size), stream));
    const result = { objectBytes: stream.bytesCommitted, peakRetained: stream.peakBytesRetained };
    if (spec.faults) result.wireBytes = await wireBytes(url);
    return result;
  },
  async tusRawChunks() {
    // tus's sequential ceiling: chunkSize PATCHes one after another on one keep-alive connection,
    // each sent once the previous one is answered (a PATCH must start at the upload's offset),
    // straight through undici: no stream, no checksum, nothing retained. Upload of deferred length, as ours.
    oneConnection ??= new Client(new URL(spec.server).origin, { keepAliveTimeout: 10_000 });
    const url = await createTusUpload({ endpoint: spec.server, ...insecure, dispatcher: oneConnection });
    await inChunksOneAfterAnother(async (offset, body, length, final) => {
      const headers = { 'tus-resumable': '1.0.0', 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream', 'content-length': String(length), ...(final ? { 'upload-length': String(spec.size) } : {}) };
      const answer = await request(url, { method: 'PATCH', headers, body, dispatcher: oneConnection });
      await answer.body.dump();
      if (answer.statusCode !== 204) throw new Error(`chunk PATCH answered ${answer.statusCode}`);
    });
    return { objectBytes: spec.size };
  },
  async tusRaw() {
    // The tus limit: one PATCH of every byte to an upload of known length, straight through undici.
    const url = await createTusUpload({ endpoint: spec.server, uploadLength: spec.size, ...insecure });
    const headers = { 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream', 'content-length': String(spec.size) };
    const answer = await request(url, { method: 'PATCH', headers, body: pieces(spec.size) });
    await answer.body.dump();
    if (answer.statusCode !== 204) throw new Error(`raw PATCH answered ${answer.statusCode}`);
    return { objectBytes: spec.size };
  },
  async tus() {
    const url = await createTusUpload({ endpoint: spec.server, ...insecure });
    const stream = createResumableWriteStream({ protocol: 'tus', url, chunkSize: spec.chunkSize, checksum: spec.checksum ?? 'crc32c', retry: { minTimeout: 50 }, ...insecure });
    await pipeline(source(spec.size), stream);
    return { objectBytes: stream.bytesCommitted, peakRetained: stream.peakBytesRetained };
  },
  async gcs() {
    const { Storage } = await import('@google-cloud/storage');
    const storage = new Storage({ apiEndpoint: spec.server, projectId: 'bench' });
    const file = storage.bucket('bench').file(`gcs-${process.pid}`);
    // As the issue asks: createWriteStream({ resumable: true, chunkSize }), whose default validation
    // is a CRC32C of the whole stream — against a server that reports one (`digests: 'crc32c'`).
    // Against a server that reports no digests, validation must be off (`validation: false`).
    const sink = file.createWriteStream({ resumable: true, chunkSize: spec.chunkSize, ...(spec.validation === false ? { validation: false } : {}) });
    await (spec.gzip ? pipeline(source(spec.size), createGzip({ level: 1 }), sink) : pipeline(source(spec.size), sink));
    return { objectBytes: spec.size };
  },
  async many() {
    const dispatcher = new Agent({ connections: spec.concurrency });
    const memoryBudget = spec.budget ? createMemoryBudget(spec.budget) : undefined;
    await Promise.all(Array.from({ length: spec.concurrency }, async (_, index) => {
      const url = await newSession(`many-${index}`);
      const checksum = spec.checksum ?? 'crc32c';
      await pipeline(source(spec.size), createResumableWriteStream({ url, chunkSize: spec.chunkSize, checksum, dispatcher, ...insecure, ...(memoryBudget ? { memoryBudget } : {}) }));
    }));
    await dispatcher.close();
    return { objectBytes: spec.size * spec.concurrency, ...(memoryBudget ? { peakRetained: memoryBudget.peakBytesReserved } : {}) };
  },
  async rawParallel() {
    // What parallel parts can reach: `parallel` raw PUTs of chunkSize in flight on as many
    // connections, each PUT a whole object of its own session — the sessions made before the clock.
    const count = Math.ceil(spec.size / spec.chunkSize);
    const sessions = await Promise.all(Array.from({ length: count }, (_, index) => newSession(`raw-parallel-${index}`)));
    return timedParts(new URL(spec.server).origin, () => undefined, {
      async part(client, { partNumber, length, body }) {
        const answer = await request(sessions[partNumber - 1], { method: 'PUT', headers: { 'content-length': String(length), 'content-range': `bytes 0-${length - 1}/${length}` }, body, dispatcher: client });
        await answer.body.dump();
        if (answer.statusCode !== 200) throw new Error(`raw PUT answered ${answer.statusCode}`);
      },
    });
  },
  async parts() {
    const stream = createResumableWriteStream({ ...partsTarget(spec.protocol), queueSize: spec.queueSize, chunkSize: spec.chunkSize, checksum: spec.checksum ?? 'crc32c', ...insecure });
    await pipeline(source(spec.size), stream);
    return { objectBytes: stream.bytesCommitted, peakRetained: stream.peakBytesRetained };
  },
  async s3raw() {
    // The limit: one PutObject of every byte, signed like ours, straight through undici.
    const { resolveTarget, signRequest } = await import(new URL('protocols/s3/wire.js', dist).href);
    const target = resolveTarget({ bucket: 'bench', key: `raw-${process.pid}`, region: 'us-east-1', endpoint: spec.server });
    const signed = signRequest(target, S3_CREDENTIALS, 'PUT', target.objectPath);
    const answer = await request(signed.url, { method: 'PUT', headers: { ...signed.headers, 'content-length': String(spec.size) }, body: pieces(spec.size) });
    await answer.body.dump();
    if (answer.statusCode !== 200) throw new Error(`raw PutObject answered ${answer.statusCode}`);
    return { objectBytes: spec.size };
  },
  async s3RawParts() {
    // What parallel parts can reach against this very S3 server: CreateMultipartUpload, UploadParts
    // carrying the CRC32C the server verifies (as ours), Complete — every request inside the clock.
    const { resolveTarget, signRequest } = await import(new URL('protocols/s3/wire.js', dist).href);
    const target = resolveTarget({ bucket: 'bench', key: `raw-parts-${process.pid}-${Math.random().toString(36).slice(2, 8)}`, region: 'us-east-1', endpoint: spec.server });
    const send = async (client, method, pathAndQuery, headers, body) => {
      const signed = signRequest(target, S3_CREDENTIALS, method, pathAndQuery, headers);
      // Content-Length is signed, and dropped from the signed headers for undici to set: an iterable body needs it given.
      const length = headers['content-length'] === undefined ? {} : { 'content-length': headers['content-length'] };
      return answered(await request(signed.url, { method, headers: { ...signed.headers, ...length }, body, dispatcher: client }), 200);
    };
    return timedParts(target.origin, await crc32cDigest(), {
      begin: async (client) => uploadIdIn((await send(client, 'POST', `${target.objectPath}?uploads`, { 'x-amz-checksum-algorithm': 'CRC32C' })).text),
      part: async (client, { id, partNumber, length, digest, body }) =>
        (await send(client, 'PUT', `${target.objectPath}?partNumber=${partNumber}&uploadId=${encodeURIComponent(id)}`, { 'content-length': String(length), 'x-amz-checksum-crc32c': digest }, body)).headers.etag,
      async end(client, id, parts) {
        const list = parts.map(({ partNumber, tag, digest }) => `<Part><PartNumber>${partNumber}</PartNumber><ETag>${tag}</ETag><ChecksumCRC32C>${digest}</ChecksumCRC32C></Part>`).join('');
        await send(client, 'POST', `${target.objectPath}?uploadId=${encodeURIComponent(id)}`, {}, `<CompleteMultipartUpload>${list}</CompleteMultipartUpload>`);
      },
    });
  },
  async gcsRawParts() {
    // The same against the GCS test server's XML multipart routes, `x-goog-hash` on each part and a
    // bearer token on each request, as ours.
    const object = `${spec.servers.gcs}/bench/raw-parts-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const send = async (client, method, url, headers, body) =>
      answered(await request(url, { method, headers: { authorization: 'Bearer bench-token', ...headers }, body, dispatcher: client }), 200);
    return timedParts(new URL(object).origin, await crc32cDigest(), {
      begin: async (client) => uploadIdIn((await send(client, 'POST', `${object}?uploads`, {})).text),
      part: async (client, { id, partNumber, length, digest, body }) =>
        (await send(client, 'PUT', `${object}?partNumber=${partNumber}&uploadId=${encodeURIComponent(id)}`, { 'content-length': String(length), 'x-goog-hash': `crc32c=${digest}` }, body)).headers.etag,
      async end(client, id, parts) {
        const list = parts.map(({ partNumber, tag }) => `<Part><PartNumber>${partNumber}</PartNumber><ETag>${tag}</ETag></Part>`).join('');
        await send(client, 'POST', `${object}?uploadId=${encodeURIComponent(id)}`, { 'content-type': 'application/xml' }, `<CompleteMultipartUpload>${list}</CompleteMultipartUpload>`);
      },
    });
  },
  async azureRawBlocks() {
    // The same against Azurite: Put Blocks with the Content-MD5 Azure checks (as ours sends), then
    // Put Block List.
    const { authorize } = await import(new URL('protocols/azure/auth.js', dist).href);
    const { createHash } = await import('node:crypto');
    const auth = { kind: 'shared-key', account: AZURITE_ACCOUNT.accountName, key: Buffer.from(AZURITE_ACCOUNT.accountKey, 'base64') };
    const blob = `${spec.servers.azure}/${AZURITE_ACCOUNT.accountName}/bench/raw-blocks-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const blockId = (partNumber) => Buffer.from(`block-${String(partNumber).padStart(6, '0')}`).toString('base64');
    const send = async (client, url, headers, body, length) => {
      const signed = await authorize(auth, { method: 'PUT', url, headers, contentLength: length });
      return answered(await request(url, { method: 'PUT', headers: { ...signed, 'content-length': String(length) }, body, dispatcher: client }), 201);
    };
    const md5 = (body) => body.reduce((hash, piece) => hash.update(piece), createHash('md5')).digest('base64');
    return timedParts(new URL(blob).origin, md5, {
      part: (client, { partNumber, length, digest, body }) => send(client, `${blob}?comp=block&blockid=${encodeURIComponent(blockId(partNumber))}`, { 'content-md5': digest }, body, length),
      async end(client, _id, parts) {
        const list = `<?xml version="1.0" encoding="utf-8"?><BlockList>${parts.map(({ partNumber }) => `<Latest>${blockId(partNumber)}</Latest>`).join('')}</BlockList>`;
        await send(client, `${blob}?comp=blocklist`, { 'content-type': 'application/xml' }, list, Buffer.byteLength(list));
      },
    });
  },
  async s3() {
    const stream = createResumableWriteStream({
      s3: { bucket: 'bench', key: `ours-${process.pid}`, endpoint: spec.server, credentials: S3_CREDENTIALS, queueSize: spec.queueSize },
      chunkSize: spec.chunkSize,
      checksum: spec.checksum ?? 'crc32c',
    });
    await pipeline(source(spec.size), stream);
    return { objectBytes: stream.bytesCommitted, peakRetained: stream.peakBytesRetained };
  },
  async libStorage() {
    const { S3Client } = await import('@aws-sdk/client-s3');
    const { Upload } = await import('@aws-sdk/lib-storage');
    // WHEN_REQUIRED: the SDK's default trailing checksums use aws-chunked bodies, which the
    // loopback server does not parse; the SDK then signs each part's SHA-256 instead (plain http).
    const client = new S3Client({ endpoint: spec.server, region: 'us-east-1', credentials: S3_CREDENTIALS, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
    const upload = new Upload({ client, params: { Bucket: 'bench', Key: `lib-storage-${process.pid}`, Body: source(spec.size) }, queueSize: spec.queueSize, partSize: spec.chunkSize });
    await upload.done();
    client.destroy();
    return { objectBytes: spec.size };
  },
  async chunker() {
    // Chunk assembly only, no network: stream-chunker's Buffer.concat per write against our
    // ReplayBuffer (kept by reference, each chunk viewed once, then released).
    let sink;
    if (spec.assembler === 'stream-chunker') {
      const { default: StreamChunker } = await import('stream-chunker');
      sink = [StreamChunker(spec.chunkSize, { flush: true }), new Writable({ write(_chunk, _encoding, callback) { callback(); } })];
    } else {
      const buffer = new ReplayBuffer();
      let start = 0;
      sink = [new Writable({
        write(chunk, _encoding, callback) {
          buffer.append(chunk);
          if (buffer.bytesAppended - start >= spec.chunkSize) {
            Buffer.concat(buffer.view(start, spec.chunkSize)); // the one copy a socket write might make
            start += spec.chunkSize;
            buffer.release(start);
          }
          callback();
        },
      })];
    }
    await pipeline(source(spec.size), ...sink);
    return { objectBytes: spec.size };
  },
};

// The memory baseline comes first, so what the warm-up leaves behind (the library's modules, its
// buffers, its connection) counts as growth; the warm-up (JIT, connection) keeps start-up out of
// the timing.
globalThis.gc?.();
const baseline = process.memoryUsage();
const measured = spec.size;
spec.size = Math.min(spec.size, (spec.warmupMib ?? 16) * MiB);
await runs[spec.kind]();
spec.size = measured;
let peakRss = baseline.rss;
let peakArrayBuffers = baseline.arrayBuffers;
// Memory is sampled every 100 ms: process.memoryUsage() showed up in CPU profiles of these runs
// at ~0.4 ms a call (cheap alone, 18 µs, but not with a busy heap), and at every 10 ms it charged
// each run by its wall time, a slower run more (every CPU figure in bench/RESULTS.md before
// 2026-12-01 includes that). At 100 ms it is noise; peaks shorter than that may be missed.
const sampler = setInterval(() => {
  const usage = process.memoryUsage();
  peakRss = Math.max(peakRss, usage.rss);
  peakArrayBuffers = Math.max(peakArrayBuffers, usage.arrayBuffers);
}, 100);
const cpuBefore = process.cpuUsage();
const started = performance.now();
traceFrom = started;
const result = await runs[spec.kind]();
const cpu = process.cpuUsage(cpuBefore);
// A run that prepares before its clock starts (rawParallel) times itself.
const seconds = result.seconds ?? (performance.now() - started) / 1000;
clearInterval(sampler);
const usage = process.memoryUsage();
peakRss = Math.max(peakRss, usage.rss);
peakArrayBuffers = Math.max(peakArrayBuffers, usage.arrayBuffers);
process.stdout.write(`${JSON.stringify({
  ...result,
  seconds,
  mibps: (spec.gzip ? spec.size : result.objectBytes) / MiB / seconds,
  cpuSecondsPerGiB: (cpu.user + cpu.system) / 1e6 / (spec.size / (1024 * MiB)),
  rssGrowth: peakRss - baseline.rss,
  arrayBuffersGrowth: peakArrayBuffers - baseline.arrayBuffers,
  connectionsOpened,
  ...(spec.trace ? { trace } : {}),
  // The client's own CPU (user + system) over the timed run, in ms.
  cpuMs: (cpu.user + cpu.system) / 1000,
  cpuUserMs: cpu.user / 1000,
})}\n`);
process.exit(0);
