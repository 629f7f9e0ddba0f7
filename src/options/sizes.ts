/** Sizes and digests: `chunkSize`, `totalSize`, `highWaterMark` and `checksum`. */
import type { ChecksumOption } from '../checksum.js';
import { isOffsetProtocolName, PROTOCOLS } from '../protocols/index.js';
import type { ProtocolName } from '../protocol.js';
import { DEFAULT_CHUNK_SIZE } from './defaults.js';
import { describe, expectInteger, optionalInteger } from './expect.js';
import type { ProtocolOptionsHook } from './protocol-hook.js';

/**
 * With an offset protocol every non-final chunk is a multiple of the protocol's alignment; a
 * parts protocol says which part sizes it takes (its hook).
 */
export function validateChunkSize(value: unknown, protocol: ProtocolName, hook: ProtocolOptionsHook<unknown> | undefined): number {
  if (value === undefined) return DEFAULT_CHUNK_SIZE;
  const size = expectInteger('chunkSize', value, 1);
  if (hook) {
    hook.checkChunkSize(size);
    return size;
  }
  const alignment = isOffsetProtocolName(protocol) ? PROTOCOLS[protocol]().chunkAlignment : 1;
  if (size % alignment !== 0) {
    const kib = alignment % 1024 === 0 ? ` (${alignment / 1024} KiB)` : '';
    throw new RangeError(`Expected \`chunkSize\` to be a positive multiple of ${alignment}${kib}, received ${size}`);
  }
  return size;
}

export function validateTotalSize(value: unknown): number | undefined {
  return optionalInteger('totalSize', value, 0);
}

export function validateHighWaterMark(value: unknown): number | undefined {
  return optionalInteger('highWaterMark', value, 1);
}

const CHECKSUMS: readonly unknown[] = ['crc32c', 'md5', 'both', false];

export function validateChecksum(value: unknown): ChecksumOption {
  if (value === undefined) return 'crc32c';
  if (!CHECKSUMS.includes(value)) {
    throw new TypeError(`Expected \`checksum\` to be 'crc32c', 'md5', 'both' or false, received ${describe(value)}`);
  }
  return value as ChecksumOption;
}
