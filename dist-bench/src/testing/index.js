export { createTestServer } from './test-server.js';
export { parseFault } from './faults.js';
