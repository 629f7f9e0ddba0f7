/**
 * The fault vocabulary of the test server, after storage-testbench's names. A fault is data
 * (a rule), so tests list them in tables:
 *
 * | name                                 | what the server does                                              |
 * |--------------------------------------|-------------------------------------------------------------------|
 * | `return-NNN` (408, 429, 5xx, any)    | reads and discards the body, answers NNN (429: `Retry-After`)     |
 * | `return-NNN-after-NK`                | keeps the object's first N KiB of this request, then answers NNN |
 * | `return-reset-connection`            | destroys the connection before reading the body                   |
 * | `return-reset-connection-after-NK`   | keeps the object's first N KiB, then destroys the connection      |
 * | `persist-only-NK`                    | reads everything, persists only N KiB of this request's new bytes |
 * | `omit-range`                         | answers 308 without a `Range` header (bytes persisted as usual)   |
 * | `stall-for-Ts` / `stall-for-Nms`     | waits before reading the body; a stalled request persists nothing |
 * | `session-gone` / `session-gone-410`  | the session is gone from now on: 404 (or 410) to everything       |
 * | `session-expired`                    | the session expired: 400 to everything from now on                |
 * | `lose-final-answer`                  | finalizes the object, then drops the connection without answering |
 * | `cut-final-answer`                   | finalizes the object, answers 200 with its metadata cut to 20 bytes and no `X-Goog-Hash` |
 * | `corrupt-byte`                       | flips a bit of the first byte this request persists (bad storage) |
 *
 * "after NK" counts object offsets ("keeps the first N KiB"): it fires on the first request
 * whose range goes past N KiB, and persistence rounds down to the server's 256 KiB step.
 */

export type RequestKind = 'upload' | 'query';

export interface FaultRule {
  /** A name from the table above. */
  readonly fault: string;
  /**
   * Which request of `target` kind: its 1-based number in the session, `'first'`, `'final'`
   * (the finalizing one), or `'any'` (the first that qualifies). @default 'any'
   */
  readonly on?: number | 'first' | 'final' | 'any';
  /** Upload requests (with a body, or finalizing) or status queries. @default 'upload' */
  readonly target?: RequestKind;
  /** How many times the fault fires. @default 1 */
  readonly times?: number;
  /** `Retry-After` seconds sent with the status (429 gets 1 when none is given). */
  readonly retryAfter?: number;
}

export type Fault =
  | { readonly kind: 'status'; readonly status: number; readonly afterBytes: number | undefined }
  | { readonly kind: 'reset'; readonly afterBytes: number | undefined }
  | { readonly kind: 'persist-only'; readonly bytes: number }
  | { readonly kind: 'omit-range' }
  | { readonly kind: 'stall'; readonly ms: number }
  | { readonly kind: 'gone'; readonly status: number }
  | { readonly kind: 'lose-final-answer' }
  | { readonly kind: 'cut-final-answer' }
  | { readonly kind: 'corrupt-byte' };

const KIB = 1024;

/** Parses a fault name; throws a TypeError naming the vocabulary when it is unknown. */
export function parseFault(name: string): Fault {
  let match: RegExpExecArray | null;
  if ((match = /^return-(\d{3})(?:-after-(\d+)K)?$/.exec(name))) {
    return { kind: 'status', status: Number(match[1]), afterBytes: match[2] === undefined ? undefined : Number(match[2]) * KIB };
  }
  if ((match = /^return-reset-connection(?:-after-(\d+)K)?$/.exec(name))) {
    return { kind: 'reset', afterBytes: match[1] === undefined ? undefined : Number(match[1]) * KIB };
  }
  if ((match = /^persist-only-(\d+)K$/.exec(name))) return { kind: 'persist-only', bytes: Number(match[1]) * KIB };
  if (name === 'omit-range') return { kind: 'omit-range' };
  if ((match = /^stall-for-(\d+(?:\.\d+)?)(s|ms)$/.exec(name))) {
    return { kind: 'stall', ms: Number(match[1]) * (match[2] === 's' ? 1000 : 1) };
  }
  if ((match = /^session-gone(?:-(404|410))?$/.exec(name))) return { kind: 'gone', status: Number(match[1] ?? 404) };
  if (name === 'session-expired') return { kind: 'gone', status: 400 };
  if (name === 'lose-final-answer') return { kind: 'lose-final-answer' };
  if (name === 'cut-final-answer') return { kind: 'cut-final-answer' };
  if (name === 'corrupt-byte') return { kind: 'corrupt-byte' };
  throw new TypeError(
    `Unknown fault ${JSON.stringify(name)}: expected return-NNN[-after-NK], return-reset-connection[-after-NK], ` +
      'persist-only-NK, omit-range, stall-for-Ts, session-gone[-410], session-expired, lose-final-answer, cut-final-answer or corrupt-byte',
  );
}

export interface RequestFacts {
  readonly kind: RequestKind;
  /** 1-based number of this request among the session's requests of the same kind. */
  readonly number: number;
  readonly finalizing: boolean;
  /** Object offsets [start, end) the request carries (upload requests). */
  readonly start: number;
  readonly end: number;
}

export class ArmedRule {
  readonly parsed: Fault;
  private remaining: number;

  constructor(readonly rule: FaultRule) {
    this.parsed = parseFault(rule.fault);
    this.remaining = rule.times ?? 1;
    if (!(this.remaining >= 1)) throw new RangeError(`Expected fault \`times\` to be ≥ 1, received ${String(rule.times)}`);
  }

  /** Whether the rule fires on this request; firing uses one of its `times`. */
  take(facts: RequestFacts): boolean {
    if (this.remaining <= 0 || !this.matches(facts)) return false;
    this.remaining--;
    return true;
  }

  private matches(facts: RequestFacts): boolean {
    if ((this.rule.target ?? 'upload') !== facts.kind) return false;
    const on = this.rule.on ?? 'any';
    if (on === 'first' && facts.number !== 1) return false;
    if (on === 'final' && !facts.finalizing) return false;
    if (typeof on === 'number' && facts.number !== on) return false;
    const { parsed } = this;
    if ((parsed.kind === 'lose-final-answer' || parsed.kind === 'cut-final-answer') && !facts.finalizing) return false;
    if ((parsed.kind === 'status' || parsed.kind === 'reset') && parsed.afterBytes !== undefined) {
      return facts.kind === 'upload' && facts.start <= parsed.afterBytes && parsed.afterBytes < facts.end;
    }
    return true;
  }
}
