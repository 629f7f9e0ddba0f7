/** The pure part plan (parts/plan.ts), by properties: sizes, window, committed run, single PUT. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PartPlan, partSizeFor, reachOf, sizeStepParts, type PlannedPart } from '../../src/parts/plan.js';
import type { PartLimits } from '../../src/parts/protocol.js';
import { MAX_PART_SIZE, PARTS_PER_SIZE_STEP, S3_LIMITS, partSizeOf } from '../../src/protocols/s3/wire.js';

const MiB = 1024 * 1024;

/** Limits where maxParts parts of the largest part reach the largest object (every protocol's own). */
const limitsArb: fc.Arbitrary<PartLimits> = fc
  .record({ minPartSize: fc.integer({ min: 1, max: 64 * MiB }), growth: fc.integer({ min: 1, max: 4096 }), maxParts: fc.integer({ min: 1, max: 50_000 }), fill: fc.double({ min: 0.01, max: 1, noNaN: true }) })
  .map(({ minPartSize, growth, maxParts, fill }) => {
    const maxPartSize = minPartSize * growth;
    return { minPartSize, maxPartSize, maxParts, maxObjectSize: Math.max(minPartSize, Math.floor(maxParts * maxPartSize * fill)) };
  });

/**
 * Drives a plan over a stream of `total` bytes written in `writes`, finishing parts in the order
 * `pick` picks; `forgets` says whether a part stored ahead of the committed run is forgotten.
 */
function drive(plan: PartPlan, total: number, writes: number[], pick: (inFlight: number) => number, forgets: () => boolean = () => false): PlannedPart[] {
  const sent: PlannedPart[] = [];
  const open: PlannedPart[] = [];
  /** Stored ahead of the committed run and not forgotten: their bytes are held. */
  const heldAhead = new Map<number, PlannedPart>();
  let written = 0;
  let forgotAny = false;
  const launch = () => {
    for (let next = plan.next(); next.kind === 'part'; next = plan.next()) {
      // Nothing forgotten: every part within queueSize part numbers of the oldest unfinished one.
      if (!forgotAny) expect(next.part.partNumber).toBeLessThan(plan.oldestOpen + plan.queueSize);
      plan.sent(next.part);
      expect(plan.inFlight).toBeLessThanOrEqual(plan.queueSize);
      // The memory bound: parts held (in flight, or stored ahead and not forgotten) ≤ queueSize.
      expect(open.length + 1 + heldAhead.size).toBeLessThanOrEqual(plan.queueSize);
      sent.push(next.part);
      open.push(next.part);
    }
  };
  const finishOne = () => {
    const [part] = open.splice(pick(open.length) % open.length, 1) as [PlannedPart];
    const before = plan.bytesCommitted;
    plan.returned();
    plan.finished(part);
    expect(plan.bytesCommitted).toBeGreaterThanOrEqual(before);
    for (const [partNumber] of heldAhead) if (partNumber < plan.oldestOpen) heldAhead.delete(partNumber);
    if (part.partNumber < plan.oldestOpen) return;
    if (forgets()) {
      plan.forgot(part);
      forgotAny = true;
    } else heldAhead.set(part.partNumber, part);
  };
  for (const size of writes) {
    const length = Math.min(size, total - written);
    if (length <= 0) break;
    plan.onWrite(length);
    written += length;
    launch();
    // The writer waits while the window is full: parts come back.
    while (open.length > 0 && plan.next().kind === 'wait' && plan.inFlight >= plan.queueSize) finishOne();
  }
  if (written < total) {
    plan.onWrite(total - written);
    launch();
  }
  plan.onEnd();
  for (launch(); open.length > 0; launch()) finishOne();
  return sent;
}

describe('part sizes', () => {
  it('S3: byte-identical to the schedule existing checkpoints were cut with (doubling every 900 parts, capped at 5 GiB)', () => {
    expect(sizeStepParts(S3_LIMITS)).toBe(PARTS_PER_SIZE_STEP);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 5 * MiB, max: 5 * 1024 * MiB }), (partNumber, initial) => {
        const legacy = Math.min(initial * 2 ** Math.floor((partNumber - 1) / 900), MAX_PART_SIZE);
        expect(partSizeOf(partNumber, initial)).toBe(legacy);
        expect(new PartPlan(S3_LIMITS, initial, 4, undefined).sizeOf(partNumber)).toBe(legacy);
      }),
    );
  });

  it('maxParts parts reach maxObjectSize from the smallest part; sizes never shrink and stay within the limits', () => {
    fc.assert(
      fc.property(limitsArb, fc.integer({ min: 1, max: 64 }), (limits, factor) => {
        // Limits no schedule can meet (doubling every part still falls short) are no protocol's.
        fc.pre(reachOf(limits, limits.minPartSize, 1) >= limits.maxObjectSize);
        const step = sizeStepParts(limits);
        expect(step).toBeGreaterThanOrEqual(1);
        expect(step).toBeLessThanOrEqual(limits.maxParts);
        expect(reachOf(limits, limits.minPartSize, step)).toBeGreaterThanOrEqual(limits.maxObjectSize);
        const first = Math.min(limits.minPartSize * factor, limits.maxPartSize);
        let previous = 0;
        for (const partNumber of [1, 2, step, step + 1, 2 * step + 1, limits.maxParts].sort((a, b) => a - b)) {
          const size = partSizeFor(limits, step, first, partNumber);
          expect(size).toBeGreaterThanOrEqual(Math.max(previous, limits.minPartSize));
          expect(size).toBeLessThanOrEqual(limits.maxPartSize);
          previous = size;
        }
      }),
    );
  });
});

describe('window, committed run, single PUT', () => {
  const small: PartLimits = { minPartSize: 4, maxPartSize: 64, maxParts: 1000, maxObjectSize: 20_000 };
  const streamArb = fc.record({
    first: fc.integer({ min: 4, max: 16 }),
    queueSize: fc.integer({ min: 1, max: 5 }),
    total: fc.integer({ min: 0, max: 400 }),
    writes: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 60 }),
    picks: fc.array(fc.nat(), { minLength: 1, maxLength: 50 }),
    declared: fc.boolean(),
  });

  it('parts cover the stream exactly, in order, within the window; committed is the end of the finished run from part 1', () => {
    fc.assert(
      fc.property(streamArb, ({ first, queueSize, total, writes, picks, declared }) => {
        const plan = new PartPlan(small, first, queueSize, declared ? total : undefined);
        let turn = 0;
        const sent = drive(plan, total, writes, () => picks[turn++ % picks.length] as number);
        let offset = 0;
        sent.forEach((part, index) => {
          expect(part.partNumber).toBe(index + 1);
          expect(part.start).toBe(offset);
          if (index < sent.length - 1) expect(part.length).toBe(plan.sizeOf(part.partNumber));
          else expect(part.length).toBeGreaterThan(0);
          offset += part.length;
        });
        expect(plan.allBack).toBe(true);
        if (plan.multipart) {
          expect(offset).toBe(total);
          expect(plan.bytesCommitted).toBe(total);
        } else {
          // The single-PUT choice: the whole stream fits in one part.
          expect(sent).toHaveLength(0);
          expect(total).toBeLessThanOrEqual(first);
        }
      }),
    );
  });

  it('with parts stored ahead forgotten (or not, at random): the same exact cover, and never more than queueSize parts held', () => {
    fc.assert(
      fc.property(streamArb, fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }), ({ first, queueSize, total, writes, picks, declared }, forgetting) => {
        const plan = new PartPlan(small, first, queueSize, declared ? total : undefined);
        let turn = 0;
        let asked = 0;
        const sent = drive(plan, total, writes, () => picks[turn++ % picks.length] as number, () => forgetting[asked++ % forgetting.length] as boolean);
        expect(sent.reduce((sum, part) => sum + part.length, 0)).toBe(plan.multipart ? total : 0);
        expect(plan.allBack).toBe(true);
        if (plan.multipart) expect(plan.bytesCommitted).toBe(total);
      }),
    );
  });

  it('a slow first part no longer holds the others back once the parts stored after it are forgotten', () => {
    const plan = new PartPlan(small, 4, 2, undefined);
    plan.onWrite(4 * 10);
    const launch = () => {
      const next = plan.next();
      if (next.kind !== 'part') return undefined;
      plan.sent(next.part);
      return next.part;
    };
    const slow = launch() as PlannedPart;
    let sent = launch() as PlannedPart;
    for (let round = 0; round < 5; round++) {
      expect(launch()).toBeUndefined();
      plan.returned();
      expect(plan.finished(sent)).toBe(false);
      // Held, it keeps its room in the window; forgotten, the next part may go.
      expect(plan.next().kind).toBe('wait');
      plan.forgot(sent);
      sent = launch() as PlannedPart;
      expect(sent.partNumber).toBe(round + 3);
    }
    plan.returned();
    plan.finished(sent);
    plan.returned();
    expect(plan.finished(slow)).toBe(true);
    expect(plan.bytesCommitted).toBe(4 * 7);
  });

  it('a stream that may still fit one part waits; one that outgrows it (or declares more) goes in parts', () => {
    fc.assert(
      fc.property(fc.integer({ min: 4, max: 64 }), fc.integer({ min: 0, max: 200 }), fc.boolean(), (first, total, declared) => {
        const plan = new PartPlan(small, first, 4, declared ? total : undefined);
        plan.onWrite(Math.min(total, first));
        const fits = total <= first;
        expect(plan.next().kind).toBe(!fits && declared && total > first ? 'part' : 'wait');
      }),
    );
  });

  it('committed offset: the end of the longest run of finished parts from part 1, whatever the order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }).chain((count) => fc.tuple(fc.constant(count), fc.shuffledSubarray([...Array(count).keys()], { minLength: count }))), ([count, order]) => {
        const plan = new PartPlan(small, 4, count, undefined);
        plan.onWrite(count * 4 + 1);
        const parts: PlannedPart[] = [];
        for (let next = plan.next(); next.kind === 'part'; next = plan.next()) {
          plan.sent(next.part);
          parts.push(next.part);
        }
        const done = new Set<number>();
        for (const index of order) {
          plan.finished(parts[index] as PlannedPart);
          done.add(index + 1);
          let run = 0;
          while (done.has(run + 1)) run++;
          expect(plan.bytesCommitted).toBe(run * 4);
          expect(plan.oldestOpen).toBe(run + 1);
        }
      }),
    );
  });

  it('part numbers run out: too-many, never a part beyond maxParts', () => {
    const plan = new PartPlan({ minPartSize: 1, maxPartSize: 1, maxParts: 3, maxObjectSize: 3 }, 1, 10, undefined);
    plan.onWrite(5);
    const kinds: string[] = [];
    for (let next = plan.next(); ; next = plan.next()) {
      kinds.push(next.kind);
      if (next.kind !== 'part') break;
      plan.sent(next.part);
    }
    expect(kinds).toEqual(['part', 'part', 'part', 'too-many']);
  });

  it('resuming from the committed offset adopts the stored parts below it, or names the first missing one', () => {
    const plan = new PartPlan(small, 8, 4, undefined);
    expect(plan.adoptBelow(16, () => true)).toBeUndefined();
    expect([plan.bytesCommitted, plan.bytesWritten, plan.oldestOpen, plan.nextPartNumber]).toEqual([16, 16, 3, 3]);
    expect(new PartPlan(small, 8, 4, undefined).adoptBelow(12, () => true)).toBe('not-boundary');
    expect(new PartPlan(small, 8, 4, undefined).adoptBelow(24, (part) => part.partNumber !== 2)).toMatchObject({ partNumber: 2, start: 8 });
  });
});
