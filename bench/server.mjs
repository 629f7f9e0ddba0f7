// The loopback server in its own process, so the benchmarked client has the cores it needs.
// Usage: node bench/server.mjs '{"latencyMs":30,"bandwidth":100000000}'  → prints {"url":…}
import { createTestServer } from '../dist/testing/index.js';

const options = JSON.parse(process.argv[2] ?? '{}');
const server = await createTestServer({ storeObjects: false, digests: false, ...options });
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
