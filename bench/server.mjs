// The loopback server in its own process, so the benchmarked client has the cores it needs.
// Usage: node bench/server.mjs '{"latencyMs":30,"bandwidth":100000000}'  → prints {"url":…}
// With {"s3":true}: the loopback S3 server instead (keeps sizes and ETags, not bytes). It verifies and
// echoes the digests a part carries, as S3 does: a server that echoes none makes our client send each
// part again with Content-MD5 (its fallback for servers that ignore CRC32C), which is not what S3 costs.
// With {"host":"10.99.0.2","port":8080}: listens there instead of 127.0.0.1 (the shaped link of
// bench/link.mjs, where the client is in another network namespace); the port applies to both servers.
import net from 'node:net';
import { createS3TestServer, createTestServer } from '../dist/testing/index.js';

const { s3, host, ...options } = JSON.parse(process.argv[2] ?? '{}');
if (host !== undefined) listenOn(host, options.port ?? 0);
const server = s3 ? await createS3TestServer({ storeObjects: false }) : await createTestServer({ storeObjects: false, digests: false, ...options });
// The session URIs the server hands out are built from its url: they must name the host too.
if (host !== undefined && !s3) server.url = server.url.replace('127.0.0.1', host);
const url = s3 ? server.endpoint : server.url;
process.stdout.write(`${JSON.stringify({ url: host === undefined ? url : url.replace('127.0.0.1', host) })}\n`);
const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

/** The test servers listen on 127.0.0.1 only, as tests must; this process is no test. */
function listenOn(address, fixedPort) {
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function (port, bound, ...rest) {
    if (bound !== '127.0.0.1') return listen.call(this, port, bound, ...rest);
    return listen.call(this, port === 0 ? fixedPort : port, address, ...rest);
  };
}
