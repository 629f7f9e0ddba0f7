/** `memoryBudget`: a budget shared by streams, which must hold at least one chunk of this one. */
import { MemoryBudget } from '../memory-budget.js';
import { isOffsetProtocolName } from '../protocols/index.js';
import type { ProtocolName } from '../protocol.js';
import { describe } from './expect.js';

export function validateMemoryBudget(value: unknown, protocol: ProtocolName, chunkSize: number): MemoryBudget | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof MemoryBudget)) {
    throw new TypeError(`Expected \`memoryBudget\` to come from createMemoryBudget(), received ${describe(value)}`);
  }
  // The parts driver does not reserve from a budget yet.
  if (!isOffsetProtocolName(protocol)) {
    throw new TypeError(`\`memoryBudget\` is not supported with \`protocol: '${protocol}'\` yet: bound memory with \`queueSize\` and \`chunkSize\``);
  }
  if (value.limit < chunkSize) {
    throw new RangeError(`Expected \`memoryBudget\` (${value.limit} bytes) to hold at least one chunk (chunkSize ${chunkSize})`);
  }
  return value;
}
