export { createTestServer } from './test-server.js';
export type { RequestLogEntry, SessionOptions, SessionSnapshot, TestServer, TestServerOptions } from './test-server.js';
export { parseFault } from './faults.js';
export type { Fault, FaultRule, RequestKind } from './faults.js';
export type { StoredObject } from './upload-session.js';
export { startFaultProxy } from './fault-proxy.js';
export type { FaultProxy, ProxyFaultRule, ProxyLogEntry } from './fault-proxy.js';
export { createS3TestServer } from './s3-server.js';
export type { S3LogEntry, S3TestServer, S3TestServerOptions } from './s3-server.js';
