/**
 * The pure part plan: how a stream of unknown length is cut into parts, which part numbers may
 * be in flight, how far the committed prefix reaches, and whether the stream is one whole PUT.
 * No I/O, no timers: the parts driver (parts/driver.ts) asks it and acts, and the property tests
 * (test/unit/part-plan.test.ts) check it by the thousand.
 *
 * - **Sizes** start at the first part size and double every `stepParts` parts, capped at the
 *   protocol's largest part, so that `maxParts` parts reach its largest object even from its
 *   smallest part: an unknown-length stream never runs out of part numbers first.
 * - **Window**: at most `queueSize` parts held — in flight, or stored above the committed run and
 *   not yet forgotten — so memory stays (queueSize + 1) × the part size. A part stored ahead of an
 *   earlier one is forgotten (its bytes dropped, {@link PartPlan.forgot}) when the digests allow:
 *   then one slow part no longer holds the others back.
 * - **Committed**: the end of the longest run of finished parts from part 1; it never moves back.
 * - **Single PUT**: until a part went out, a stream that may still fit in one part waits; if it
 *   ends that way, it is one PUT of the whole object.
 */
import type { PartLimits } from './protocol.js';

export interface PlannedPart {
  readonly partNumber: number;
  readonly start: number;
  readonly length: number;
}

/** What the driver may do next: send a part, wait for data or room, or fail (part numbers ran out). */
export type NextPart = { readonly kind: 'part'; readonly part: PlannedPart } | { readonly kind: 'wait' } | { readonly kind: 'too-many' };

/** Bytes `maxParts` parts hold when sizes start at `first` and double every `stepParts` parts. */
export function reachOf(limits: PartLimits, first: number, stepParts: number): number {
  let total = 0;
  let size = first;
  for (let from = 0; from < limits.maxParts; from += stepParts) {
    const count = Math.min(stepParts, limits.maxParts - from);
    if (size >= limits.maxPartSize) return total + (limits.maxParts - from) * limits.maxPartSize;
    total += count * size;
    size *= 2;
  }
  return total;
}

/**
 * How many parts share a size: the largest whole hundred (else the largest count) at which
 * `maxParts` parts from the smallest part reach the largest object; 1 when even doubling every
 * part falls short. Whole hundreds keep the schedule easy to state (for limits like S3's: 900, so
 * the sizes stay those its checkpoints were cut with).
 */
export function sizeStepParts(limits: PartLimits): number {
  const first = Math.max(1, limits.minPartSize);
  const reaches = (step: number) => reachOf(limits, first, step) >= limits.maxObjectSize;
  if (reaches(limits.maxParts)) return limits.maxParts;
  for (let step = Math.floor((limits.maxParts - 1) / 100) * 100; step >= 100; step -= 100) if (reaches(step)) return step;
  for (let step = Math.min(99, limits.maxParts - 1); step > 1; step--) if (reaches(step)) return step;
  return 1;
}

/** The size of part `partNumber` (from 1) for a first part of `first` bytes. */
export function partSizeFor(limits: PartLimits, stepParts: number, first: number, partNumber: number): number {
  const step = Math.floor((partNumber - 1) / stepParts);
  return Math.min(first * 2 ** step, limits.maxPartSize);
}

export class PartPlan {
  readonly stepParts: number;
  nextPartNumber = 1;
  nextStart = 0;
  /** The first part not finished: the committed offset is its start. */
  oldestOpen = 1;
  bytesWritten = 0;
  bytesCommitted = 0;
  ended = false;
  /** The object is complete on the server. */
  complete = false;
  /** Whether the stream goes in parts (a part went out, or a resumed upload exists): no whole PUT then. */
  multipart = false;
  inFlight = 0;
  /** Finished parts above the committed run: part number → end offset, and whether its bytes are still held. */
  private readonly finishedEnds = new Map<number, { readonly end: number; held: boolean }>();

  constructor(
    readonly limits: PartLimits,
    readonly firstPartSize: number,
    readonly queueSize: number,
    private readonly totalSize: number | undefined,
  ) {
    this.stepParts = sizeStepParts(limits);
  }

  sizeOf(partNumber = this.nextPartNumber): number {
    return partSizeFor(this.limits, this.stepParts, this.firstPartSize, partNumber);
  }

  /** Bytes the writer may have held before it waits: the window and the part being filled. */
  get retainLimit(): number {
    return (this.queueSize + 1) * this.sizeOf();
  }

  /** Counts a write; the reason when it goes past the declared total. */
  onWrite(length: number): string | undefined {
    this.bytesWritten += length;
    if (this.totalSize !== undefined && this.bytesWritten > this.totalSize) return `${this.bytesWritten} bytes written, more than the declared totalSize ${this.totalSize}`;
    return undefined;
  }

  /** The writer's end; the reason when fewer bytes than declared were written. */
  onEnd(): string | undefined {
    this.ended = true;
    if (this.totalSize !== undefined && this.bytesWritten !== this.totalSize) return `the stream ended after ${this.bytesWritten} bytes, but totalSize declared ${this.totalSize}`;
    return undefined;
  }

  /** The object is complete: every byte written is committed. */
  onComplete(): void {
    this.complete = true;
    this.bytesCommitted = this.bytesWritten;
  }

  /** The next part to send, given the bytes written so far and whether the writer ended. */
  next(): NextPart {
    const { bytesWritten: written, ended } = this;
    if (this.inFlight + this.heldAbove() >= this.queueSize) return { kind: 'wait' };
    const size = this.sizeOf();
    const available = written - this.nextStart;
    const isLast = ended && available <= size;
    const mayBeWhole = !this.multipart && available <= size && (this.totalSize ?? 0) <= size;
    const ready = isLast ? available > 0 && this.multipart : available >= size && !mayBeWhole;
    if (!ready) return { kind: 'wait' };
    if (this.nextPartNumber > this.limits.maxParts) return { kind: 'too-many' };
    return { kind: 'part', part: { partNumber: this.nextPartNumber, start: this.nextStart, length: isLast ? available : size } };
  }

  /** `part` (from {@link next}) went out. */
  sent(part: PlannedPart): void {
    this.multipart = true;
    this.inFlight++;
    this.nextPartNumber = part.partNumber + 1;
    this.nextStart = part.start + part.length;
  }

  /** `part` came back (stored or failed): it no longer counts in flight. */
  returned(): void {
    this.inFlight--;
  }

  /** `part` is stored; whether the committed offset moved. */
  finished(part: PlannedPart): boolean {
    this.finishedEnds.set(part.partNumber, { end: part.start + part.length, held: true });
    const before = this.bytesCommitted;
    for (let run = this.finishedEnds.get(this.oldestOpen); run !== undefined; run = this.finishedEnds.get(this.oldestOpen)) {
      this.finishedEnds.delete(this.oldestOpen);
      this.bytesCommitted = run.end;
      this.oldestOpen++;
    }
    return this.bytesCommitted > before;
  }

  /** The bytes of `part`, stored above the committed run, were dropped: it no longer takes room in the window. */
  forgot(part: PlannedPart): void {
    const finished = this.finishedEnds.get(part.partNumber);
    if (finished) finished.held = false;
  }

  /** Stored parts above the committed run whose bytes are still held. */
  private heldAbove(): number {
    let held = 0;
    for (const { held: isHeld } of this.finishedEnds.values()) if (isHeld) held++;
    return held;
  }

  /** A resumed upload: its parts were cut from `firstPartSize`, and it exists on the server. */
  resumed(): void {
    this.multipart = true;
  }

  /**
   * Resuming from the committed offset `offset`: parts 1… below it are on the server (`stored`
   * says whether one of that size is), so they count as finished. The first part missing, or
   * 'not-boundary' when `offset` falls inside a part; undefined when all is well.
   */
  adoptBelow(offset: number, stored: (part: PlannedPart) => boolean): PlannedPart | 'not-boundary' | undefined {
    while (this.nextStart < offset) {
      const part = { partNumber: this.nextPartNumber, start: this.nextStart, length: this.sizeOf() };
      if (!stored(part)) return part;
      this.nextPartNumber++;
      this.nextStart += part.length;
    }
    if (this.nextStart !== offset) return 'not-boundary';
    this.oldestOpen = this.nextPartNumber;
    this.bytesCommitted = offset;
    this.bytesWritten = offset;
    return undefined;
  }

  /** Ended, and every byte written went out in a part and came back (or none will: the whole PUT). */
  get allBack(): boolean {
    return this.ended && this.inFlight === 0 && (this.nextStart >= this.bytesWritten || !this.multipart);
  }
}
