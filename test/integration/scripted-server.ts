import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ScriptedRequest {
  readonly method: string;
  readonly contentRange: string | undefined;
  readonly body: Buffer;
  readonly number: number;
}

/** A real HTTP server on 127.0.0.1 whose every answer a test writes by hand (hostile servers). */
export async function createScriptedServer(
  handler: (request: ScriptedRequest, res: ServerResponse, req: IncomingMessage) => void,
): Promise<{ url: string; hits: ScriptedRequest[]; close(): Promise<void> }> {
  const hits: ScriptedRequest[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => {
      const request = {
        method: req.method ?? '',
        contentRange: req.headers['content-range'],
        body: Buffer.concat(parts),
        number: hits.length + 1,
      };
      hits.push(request);
      handler(request, res, req);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/upload?upload_id=TOPSECRET123`,
    hits,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
