/** Without the native CRC32C binary the package still imports, uploads and verifies. */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const withoutNative = ['--require', `${fixtures}no-native-crc32c.cjs`];

function run(args: string[]) {
  const child = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 20_000 });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

describe('CRC32C without the native binary', () => {
  it('uploads with the JavaScript CRC32C, verified, warning once per process', () => {
    const { status, stdout, stderr } = run([...withoutNative, `${fixtures}upload-with-crc32c.mjs`]);
    expect(status, stderr).toBe(0);
    const report = JSON.parse(stdout) as { native: boolean; results: Array<{ verified: boolean; exact: boolean }> };
    expect(report.native).toBe(false);
    expect(report.results).toEqual([expect.objectContaining({ verified: true, exact: true }), expect.objectContaining({ verified: true, exact: true })]);
    expect(stderr.match(/RWS_CRC32C_FALLBACK/g)).toHaveLength(1);
  });

  it('the same fixture uses the native one when it is there', () => {
    const { status, stdout, stderr } = run([`${fixtures}upload-with-crc32c.mjs`]);
    expect(status, stderr).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ native: true });
    expect(stderr).not.toMatch(/RWS_CRC32C_FALLBACK/);
  });

  it('the CLI starts without it', () => {
    const { status, stdout, stderr } = run([...withoutNative, cli, '--help']);
    expect(status, stderr).toBe(0);
    expect(stdout).toMatch(/rws/);
  });

  it('JavaScript and native CRC32C agree, continued across odd boundaries', async () => {
    const { crc32cUpdate } = await import('../../src/crc32c.js');
    const require = createRequire(import.meta.url);
    const { buf } = require('crc-32/crc32c') as { buf(data: Uint8Array, seed?: number): number };
    for (const size of [0, 1, 15, 16, 17, 262143, 262144, 262145]) {
      const data = randomBytes(size);
      const cut = Math.floor(size / 3);
      const js = buf(data.subarray(cut), buf(data.subarray(0, cut), 0)) >>> 0;
      expect(js).toBe(crc32cUpdate(data));
      expect(crc32cUpdate(data.subarray(cut), crc32cUpdate(data.subarray(0, cut)))).toBe(crc32cUpdate(data));
    }
    // The CRC32C check value of "123456789".
    expect(crc32cUpdate(Buffer.from('123456789'))).toBe(0xe3069283);
  });
});
