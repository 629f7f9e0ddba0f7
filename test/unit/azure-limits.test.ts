/** Azure's limits that Azurite does not enforce, pinned on the pure part plan the driver follows. */
import { describe, expect, it } from 'vitest';
import { PartPlan, partSizeFor, reachOf, sizeStepParts } from '../../src/parts/plan.js';
import { AZURE_LIMITS, AZURE_MAX_BLOB_SIZE } from '../../src/protocols/azure/wire.js';

const MiB = 1024 * 1024;
const TiB = 1024 ** 4;

describe('Azure block sizes against the 50,000-block limit', () => {
  it('double every 700 blocks, capped at 4000 MiB', () => {
    const step = sizeStepParts(AZURE_LIMITS);
    expect(step).toBe(700);
    expect(partSizeFor(AZURE_LIMITS, step, 8 * MiB, 700)).toBe(8 * MiB);
    expect(partSizeFor(AZURE_LIMITS, step, 8 * MiB, 701)).toBe(16 * MiB);
    expect(partSizeFor(AZURE_LIMITS, step, 8 * MiB, 50_000)).toBe(4000 * MiB);
  });

  it('so 50,000 blocks hold at least 100 TiB from any first size, about 169 TiB from 8 MiB, never more than Azure allows', () => {
    const step = sizeStepParts(AZURE_LIMITS);
    for (const first of [1, 64 * 1024, MiB, 8 * MiB, 100 * MiB]) expect(reachOf(AZURE_LIMITS, first, step)).toBeGreaterThanOrEqual(100 * TiB);
    expect(reachOf(AZURE_LIMITS, 8 * MiB, step) / TiB).toBeCloseTo(169.4, 0);
    expect(reachOf(AZURE_LIMITS, 4000 * MiB, step)).toBe(AZURE_MAX_BLOB_SIZE);
  });

  it('a 50,001st block is never planned', () => {
    const plan = new PartPlan(AZURE_LIMITS, 1, 4, undefined);
    plan.multipart = true;
    plan.nextPartNumber = plan.oldestOpen = 50_001;
    plan.nextStart = plan.bytesWritten = 10 * TiB;
    plan.onWrite(4000 * MiB);
    expect(plan.next()).toEqual({ kind: 'too-many' });
  });
});
