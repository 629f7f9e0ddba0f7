// The scenario sets bench/link.mjs runs over the shaped link, one per `--suite`:
// - `sequential` (issue: one warm connection): ours over GCS resumable against raw sequential PUTs.
// - `parts` (issue: parallel parts): what a sequential protocol can't fill, and the parts protocols
//   (gcs-multipart, s3, azure) at several queue sizes against 4 raw PUTs in flight and the peers.
// Each suite names the servers it needs in the server namespace, its reference scenario (every
// ratio is to it), its target rows, and the RESULTS.md markers its section goes between.
const MiB = 1024 * 1024;

// Two sources: fresh 64 KiB buffers (as fs and zlib streams hand them over; what a client keeps of
// them costs it garbage collection) and views of one pool (the data ready, nothing allocated: the
// source the ceiling uses, so what remains is the client's own cost).
const fresh = {};
const views = { copy: false };

export function sequentialSuite({ old, peer }) {
  const scenarios = [
    { name: 'raw 16 MiB PUTs one after another, one connection (the sequential ceiling), source of views', key: 'ceiling', spec: { kind: 'rawChunks', chunkSize: 16 * MiB, ...views } },
    { name: 'raw 16 MiB PUTs one after another, one connection, fresh buffers', key: 'rawFresh', spec: { kind: 'rawChunks', chunkSize: 16 * MiB, ...fresh } },
    ...[16, 64].flatMap((chunk) => [
      ...(old ? [{ name: `ours before, ${chunk} MiB, fresh buffers`, key: `old${chunk}`, spec: { kind: 'stream', chunkSize: chunk * MiB, dist: old, ...fresh } }] : []),
      { name: `ours, ${chunk} MiB, fresh buffers`, key: `new${chunk}`, spec: { kind: 'stream', chunkSize: chunk * MiB, ...fresh } },
      ...(old ? [{ name: `ours before, ${chunk} MiB, source of views`, key: `old${chunk}v`, spec: { kind: 'stream', chunkSize: chunk * MiB, dist: old, ...views } }] : []),
      { name: `ours, ${chunk} MiB, source of views`, key: `new${chunk}v`, spec: { kind: 'stream', chunkSize: chunk * MiB, ...views } },
    ]),
    ...(peer ? [{ name: '@google-cloud/storage 16 MiB (validation: false), fresh buffers', key: 'gcs16', spec: { kind: 'gcs', chunkSize: 16 * MiB, validation: false, ...fresh } }] : []),
  ];
  return {
    marker: 'link.mjs',
    servers: ['gcs'],
    scenarios,
    reference: 'ceiling',
    referenceName: 'ceiling',
    /** The targets: ours ≥ 0.98× the sequential ceiling at 16 and 64 MiB, and ≥ the peer. */
    targetRows(label, mibpsOf) {
      const ceiling = mibpsOf('ceiling');
      const rows = [];
      for (const chunk of [16, 64]) {
        for (const [source, suffix] of [['fresh buffers', ''], ['source of views', 'v']]) {
          const ratio = mibpsOf(`new${chunk}${suffix}`) / ceiling;
          rows.push([`${label}: ours ${chunk} MiB (${source}) ≥ 0.98× the ceiling`, `${ratio.toFixed(3)}×`, ratio >= 0.98]);
        }
      }
      if (peer) {
        const ratio = mibpsOf('new16') / mibpsOf('gcs16');
        rows.push([`${label}: ours 16 MiB ≥ @google-cloud/storage 16 MiB (both fresh buffers)`, `${ratio.toFixed(3)}×`, ratio >= 1]);
      }
      return rows;
    },
    description: `Server (the loopback GCS server, \`storeObjects: false, digests: false\`) and client in two network namespaces joined by a veth pair, shaped by tc tbf and a userspace delay line (real kernel TCP); congestion control set in both, with \`tcp_slow_start_after_idle=1\`. Every scenario runs once per round, in turn; each run is a fresh client process that warms up on 16 MiB first. *The sequential ceiling*: raw 16 MiB PUTs one after another on one keep-alive connection, from a source of views (nothing allocated). *Fresh buffers*: the source yields new 64 KiB buffers, as fs and zlib streams do; *source of views*: views of one pool. *connections opened*: TCP connections the client process opened, its warm-up (and its session creation) included; the raw PUTs go through one undici \`Client\`. *Ours before*: an older build, given with \`--old\`.`,
  };
}

/** Parts protocols with 16 MiB parts at each queue size, plus the references and the peers. */
export function partsSuite({ peer, queues, azure, old }) {
  const part = 16 * MiB;
  // `old`: an older build beside ours, at queueSize 4 only (what changed, side by side).
  const parallel = (protocol, label, extra = {}) => [
    ...(old ? [{ name: `ours before, ${label}, 16 MiB parts, queueSize 4`, key: `old-${protocol}4`, spec: { kind: 'parts', protocol, chunkSize: part, queueSize: 4, dist: old, ...extra } }] : []),
    ...queues.map((queueSize) => ({ name: `ours, ${label}, 16 MiB parts, queueSize ${queueSize}`, key: `${protocol}${queueSize}`, spec: { kind: 'parts', protocol, chunkSize: part, queueSize, ...extra } })),
  ];
  const scenarios = [
    { name: 'one raw PUT of every byte, one connection (the single-connection limit)', key: 'raw', spec: { kind: 'raw' } },
    { name: 'raw 16 MiB PUTs one after another, one connection (the sequential ceiling)', key: 'ceiling', spec: { kind: 'rawChunks', chunkSize: part } },
    { name: '4 raw 16 MiB PUTs in flight on 4 connections (what parallel parts can reach)', key: 'raw4', spec: { kind: 'rawParallel', chunkSize: part, parallel: 4 } },
    { name: '4 raw 16 MiB UploadParts in flight against the S3 server, its create and complete included (what parts reach on that server)', key: 's3raw4', spec: { kind: 's3RawParts', on: 's3', chunkSize: part, parallel: 4 } },
    { name: '4 raw 16 MiB parts in flight against the GCS XML multipart server, its initiation and completion included', key: 'gcsRaw4', spec: { kind: 'gcsRawParts', chunkSize: part, parallel: 4 } },
    ...(azure ? [{ name: '4 raw 16 MiB Put Blocks in flight against Azurite, the Put Block List included (what blocks reach on that server)', key: 'azureRaw4', spec: { kind: 'azureRawBlocks', on: 'azure', chunkSize: part, parallel: 4 } }] : []),
    ...[16, 32, 64].map((chunk) => ({ name: `ours, GCS resumable, ${chunk} MiB chunks`, key: `resumable${chunk}`, spec: { kind: 'stream', chunkSize: chunk * MiB } })),
    ...parallel('gcs-multipart', 'gcs-multipart'),
    ...parallel('s3', 's3', { on: 's3' }),
    ...(azure ? parallel('azure', 'azure', { on: 'azure' }) : []),
    ...(peer
      ? [
          { name: '@google-cloud/storage 7, resumable, 16 MiB chunks (validation: false)', key: 'gcsPeer', spec: { kind: 'gcs', chunkSize: part, validation: false } },
          ...queues.map((queueSize) => ({ name: `@aws-sdk/lib-storage, 16 MiB parts, queueSize ${queueSize}`, key: `lib${queueSize}`, spec: { kind: 'libStorage', on: 's3', chunkSize: part, queueSize } })),
        ]
      : []),
  ];
  return {
    marker: 'link-parts',
    servers: ['gcs', 's3', ...(azure ? ['azure'] : [])],
    scenarios,
    reference: 'raw4',
    referenceName: '4 raw PUTs',
    /** The targets: parallel parts at 16 MiB ≥ 0.95× 4 raw PUTs in flight, ≥ 1.1× lib-storage (same part size and queue). */
    targetRows(label, mibpsOf) {
      const reach = mibpsOf('raw4');
      const rows = [];
      for (const protocol of ['gcs-multipart', 's3', ...(azure ? ['azure'] : [])]) {
        if (!queues.includes(4)) break;
        const ratio = mibpsOf(`${protocol}4`) / reach;
        rows.push([`${label}: ${protocol}, queueSize 4 ≥ 0.95× 4 raw PUTs in flight`, `${ratio.toFixed(3)}×`, ratio >= 0.95]);
      }
      if (queues.includes(4)) {
        const ratio = mibpsOf('s34') / mibpsOf('s3raw4');
        rows.push([`${label}: s3, queueSize 4 ÷ 4 raw UploadParts against the same S3 server (no target: where the gap is)`, `${ratio.toFixed(3)}×`, ratio >= 0.95]);
      }
      if (queues.includes(4)) {
        const ratio = mibpsOf('gcs-multipart4') / mibpsOf('gcsRaw4');
        rows.push([`${label}: gcs-multipart, queueSize 4 ÷ 4 raw parts against the same GCS XML server (no target: where the gap is)`, `${ratio.toFixed(3)}×`, ratio >= 0.95]);
      }
      if (azure && queues.includes(4)) {
        const ratio = mibpsOf('azure4') / mibpsOf('azureRaw4');
        rows.push([`${label}: azure, queueSize 4 ÷ 4 raw Put Blocks against the same Azurite (no target: where the gap is)`, `${ratio.toFixed(3)}×`, ratio >= 0.95]);
      }
      if (peer) {
        for (const queueSize of queues) {
          const ratio = mibpsOf(`s3${queueSize}`) / mibpsOf(`lib${queueSize}`);
          rows.push([`${label}: s3, queueSize ${queueSize} ≥ 1.1× lib-storage with the same part size and queue`, `${ratio.toFixed(3)}×`, ratio >= 1.1]);
        }
      }
      return rows;
    },
    description: `Servers in one network namespace — the loopback GCS server (resumable and XML multipart, \`storeObjects: false, digests: false\`), the loopback S3 server (\`storeObjects: false\`: it verifies and echoes each part's CRC32C and hashes its MD5 for the ETag, as S3 does)${azure ? ', Azurite (in memory)' : ''} — and the client in another, joined by one veth pair whose rate (tc tbf) and delay (a userspace delay line) every connection shares: real kernel TCP, no per-request cap. Every scenario runs once per round, in turn, each a fresh client process that warms up on 16 MiB first; the source yields fresh 64 KiB buffers. *4 raw PUTs in flight*: 16 MiB PUTs, each a whole object, 4 at a time on 4 undici \`Client\`s (sessions created before the clock starts). *4 raw UploadParts*: the same against the S3 server — CreateMultipartUpload, 16 MiB UploadParts carrying their CRC32C (computed before the clock) 4 at a time on 4 \`Client\`s from a source of views, Complete — every request inside the clock: what parts can reach on that server, whose own CPU (MD5 and CRC32C of every part) shares the machine's two cores. *4 raw Put Blocks*: the same against Azurite, each block with its Content-MD5 (computed before the clock), then Put Block List. *CPU*: the client process's user + system CPU seconds per GiB sent (\`process.cpuUsage\`), the warm-up excluded.`,
  };
}
