/** The S3 test server's error type, its XML answers, and the shapes of what it stores. */
import type { ServerResponse } from 'node:http';

/** An S3 error answer: status, `<Code>` and `<Message>`. */
export class S3Failure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function sendXml(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
}

export const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export interface StoredPart {
  readonly data: Buffer;
  readonly size: number;
  readonly etag: string;
  readonly crc32c: string;
}

export interface OpenUpload {
  readonly objectKey: string;
  readonly checksumAlgorithm: string | undefined;
  readonly parts: Map<number, StoredPart>;
  /** The object headers given at CreateMultipartUpload, the object's once completed. */
  readonly headers: Record<string, string>;
}

export interface StoredObject {
  readonly data: Buffer;
  readonly etag: string;
  readonly headers: Record<string, string>;
}
