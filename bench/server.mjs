// The loopback server in its own process, so the benchmarked client has the cores it needs.
// Usage: node bench/server.mjs '{"latencyMs":30,"bandwidth":100000000}'  → prints {"url":…}
// With {"s3":true}: the loopback S3 server instead (keeps sizes and ETags, not bytes; checks no digest).
import { createS3TestServer, createTestServer } from '../dist/testing/index.js';

const { s3, ...options } = JSON.parse(process.argv[2] ?? '{}');
const server = s3 ? await createS3TestServer({ storeObjects: false, verifyDigests: false }) : await createTestServer({ storeObjects: false, digests: false, ...options });
process.stdout.write(`${JSON.stringify({ url: s3 ? server.endpoint : server.url })}\n`);
const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
