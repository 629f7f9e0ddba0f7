/**
 * The real tus server from the registry (@tus/server with @tus/file-store), on 127.0.0.1, with
 * the fault proxy in front: the tests upload through the proxy and read what the store kept.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';
import { startFaultProxy, type FaultProxy } from '../../src/testing/index.js';
import { listenOnLoopback } from '../../src/testing/http-harness.js';

export interface TusTestServer {
  /** The creation endpoint, through the fault proxy. */
  readonly endpoint: string;
  /** The creation endpoint, straight to the server (for looking behind the client's back). */
  readonly directEndpoint: string;
  readonly proxy: FaultProxy;
  readonly directory: string;
  /** What the store holds for an upload URL: its bytes and its info (size, offset). */
  stored(uploadUrl: string): Promise<{ data: Buffer; size: number | undefined; offset: number }>;
  close(): Promise<void>;
}

export async function startTusServer(): Promise<TusTestServer> {
  const directory = await mkdtemp(join(tmpdir(), 'rws-tus-'));
  const tus = new Server({ path: '/files', datastore: new FileStore({ directory }) });
  const listener = await listenOnLoopback(createServer((req, res) => void tus.handle(req, res)));
  const origin = `http://127.0.0.1:${listener.port}`;
  const proxy = await startFaultProxy({ target: origin });
  return {
    endpoint: `${proxy.url}/files`,
    directEndpoint: `${origin}/files`,
    proxy,
    directory,
    async stored(uploadUrl) {
      const id = new URL(uploadUrl).pathname.split('/').pop() as string;
      // The store keeps the declared length in the info file; the offset is the file's length.
      const info = JSON.parse(await readFile(join(directory, `${id}.json`), 'utf8')) as { size?: number };
      const data = await readFile(join(directory, id));
      return { data, size: info.size, offset: data.length };
    },
    async close() {
      await proxy.close();
      await listener.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
