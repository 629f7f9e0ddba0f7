/**
 * The one fault table of testing/, after storage-testbench's names. Each fault is one entry of
 * `FAULTS`: how its name parses, which requests it can fire on, what the GCS test server does
 * (`server`) and what the fault proxy does (`proxy`; absent when a proxy can't do it). The
 * servers carry out those actions and know no fault by name, so a new fault is one entry here
 * (plus its README row). Faults are data (rules), so tests list them in tables.
 *
 * "after NK" means the same everywhere: N KiB into the object. The fault fires on the first
 * request whose body carries the object's byte at offset N KiB, and what lies before that offset
 * gets through (the GCS server persists it, rounded down to its 256 KiB step; the proxy forwards
 * it to its target, which keeps what it keeps). A request's first offset is what its headers say
 * (`Content-Range`'s start, tus's `Upload-Offset`); a request that names none (an S3 part, a
 * PutObject) starts at 0, so there the N KiB count into its body.
 */

export type RequestKind = 'upload' | 'query';

export interface FaultRule {
  /** A name from `FAULTS`. */
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

/** How a request ends once a fault stopped it: an answer with this status, or a destroyed connection. */
export type Ending = number | 'reset';

/** What the GCS test server does, in the order its session route goes. */
export interface ServerAction {
  /** The session is gone from now on: this status to this request and every later one. */
  readonly goneStatus?: number;
  /** Waits this long before reading the body; a stalled request the client gave up on persists nothing. */
  readonly stallMs?: number;
  /** Stops reading at this object offset and keeps what came before it (`cutAt` ≥ the request's start). */
  readonly cutAt?: number;
  /** How the request ends: after the cut, or, without `cutAt`, before the body is read. */
  readonly end?: Ending;
  /** Persists at most this many of the request's new bytes, in whole steps. */
  readonly persistOnly?: number;
  /** Flips a bit of the first byte the request persists. */
  readonly corruptByte?: boolean;
  /** Answers 308 without `Range`. */
  readonly omitRange?: boolean;
  /** After finalizing: drop the connection (`'lose'`) or cut the metadata short (`'cut'`). */
  readonly finalAnswer?: 'lose' | 'cut';
}

/** What the fault proxy does with a request to its target. */
export interface ProxyAction {
  /** Waits this long, then forwards. */
  readonly stallMs?: number;
  /** Forwards the body up to this object offset, then cuts the target's side. */
  readonly cutAt?: number;
  /** How the client's request ends: after the cut, or, without `cutAt`, before anything is forwarded. */
  readonly end?: Ending;
  /** Forwards the request, then drops the connection instead of answering. */
  readonly loseAnswer?: boolean;
  /** Forwards the body with its first byte's lowest bit flipped. */
  readonly corruptByte?: boolean;
}

interface FaultEntry<K extends Fault['kind']> {
  /** The names, as the error for an unknown one lists them. */
  readonly names: string;
  parse(name: string): Extract<Fault, { kind: K }> | undefined;
  /** Fires only on a finalizing request. */
  readonly finalOnly?: boolean;
  server(fault: Extract<Fault, { kind: K }>): ServerAction;
  proxy?(fault: Extract<Fault, { kind: K }>): ProxyAction;
}

const KIB = 1024;
const kib = (digits: string | undefined) => (digits === undefined ? undefined : Number(digits) * KIB);
const named = <F>(name: string, fault: F) => (candidate: string) => (candidate === name ? fault : undefined);

/** Every fault. A mapped type: a `Fault` kind without an entry does not compile. */
const FAULTS: { readonly [K in Fault['kind']]: FaultEntry<K> } = {
  // return-NNN (408, 429, 5xx, any): the body read and discarded, NNN answered (429: Retry-After).
  // return-NNN-after-NK: the bytes before N KiB kept, then NNN (and the connection closed).
  status: {
    names: 'return-NNN[-after-NK]',
    parse: (name) => {
      const match = /^return-(\d{3})(?:-after-(\d+)K)?$/.exec(name);
      return match ? { kind: 'status', status: Number(match[1]), afterBytes: kib(match[2]) } : undefined;
    },
    server: (fault) => ({ end: fault.status, ...cutAt(fault.afterBytes) }),
    proxy: (fault) => ({ end: fault.status, ...cutAt(fault.afterBytes) }),
  },
  // return-reset-connection[-after-NK]: the connection destroyed (after the bytes before N KiB).
  reset: {
    names: 'return-reset-connection[-after-NK]',
    parse: (name) => {
      const match = /^return-reset-connection(?:-after-(\d+)K)?$/.exec(name);
      return match ? { kind: 'reset', afterBytes: kib(match[1]) } : undefined;
    },
    server: (fault) => ({ end: 'reset', ...cutAt(fault.afterBytes) }),
    proxy: (fault) => ({ end: 'reset', ...cutAt(fault.afterBytes) }),
  },
  // persist-only-NK: everything read, only N KiB of this request's new bytes persisted.
  'persist-only': {
    names: 'persist-only-NK',
    parse: (name) => {
      const match = /^persist-only-(\d+)K$/.exec(name);
      return match ? { kind: 'persist-only', bytes: Number(match[1]) * KIB } : undefined;
    },
    server: (fault) => ({ persistOnly: fault.bytes }),
  },
  // omit-range: 308 without a Range header (the bytes persisted as usual).
  'omit-range': { names: 'omit-range', parse: named('omit-range', { kind: 'omit-range' }), server: () => ({ omitRange: true }) },
  // stall-for-Ts / stall-for-Nms: a wait before the body is read (server) or forwarded (proxy).
  stall: {
    names: 'stall-for-Ts',
    parse: (name) => {
      const match = /^stall-for-(\d+(?:\.\d+)?)(s|ms)$/.exec(name);
      return match ? { kind: 'stall', ms: Number(match[1]) * (match[2] === 's' ? 1000 : 1) } : undefined;
    },
    server: (fault) => ({ stallMs: fault.ms }),
    proxy: (fault) => ({ stallMs: fault.ms }),
  },
  // session-gone / session-gone-410: 404 (410) to everything from now on; session-expired: 400.
  gone: {
    names: 'session-gone[-410], session-expired',
    parse: (name) => {
      if (name === 'session-expired') return { kind: 'gone', status: 400 };
      const match = /^session-gone(?:-(404|410))?$/.exec(name);
      return match ? { kind: 'gone', status: Number(match[1] ?? 404) } : undefined;
    },
    server: (fault) => ({ goneStatus: fault.status }),
  },
  // lose-final-answer: the object finalized (the request forwarded), then the connection dropped unanswered.
  'lose-final-answer': {
    names: 'lose-final-answer',
    parse: named('lose-final-answer', { kind: 'lose-final-answer' }),
    finalOnly: true,
    server: () => ({ finalAnswer: 'lose' }),
    proxy: () => ({ loseAnswer: true }),
  },
  // cut-final-answer: the object finalized, then 200 with its metadata cut to 20 bytes and no X-Goog-Hash.
  'cut-final-answer': {
    names: 'cut-final-answer',
    parse: named('cut-final-answer', { kind: 'cut-final-answer' }),
    finalOnly: true,
    server: () => ({ finalAnswer: 'cut' }),
  },
  // corrupt-byte: the first byte this request persists (server) or forwards (proxy) has a bit flipped.
  'corrupt-byte': {
    names: 'corrupt-byte',
    parse: named('corrupt-byte', { kind: 'corrupt-byte' }),
    server: () => ({ corruptByte: true }),
    proxy: () => ({ corruptByte: true }),
  },
};

function cutAt(afterBytes: number | undefined): { cutAt?: number } {
  return afterBytes === undefined ? {} : { cutAt: afterBytes };
}

const ENTRIES = Object.values(FAULTS) as ReadonlyArray<FaultEntry<Fault['kind']>>;
const entryOf = <K extends Fault['kind']>(fault: Extract<Fault, { kind: K }>) => FAULTS[fault.kind as K] as unknown as FaultEntry<K>;

/** Parses a fault name; throws a TypeError naming the vocabulary when it is unknown. */
export function parseFault(name: string): Fault {
  for (const entry of ENTRIES) {
    const fault = entry.parse(name);
    if (fault) return fault;
  }
  throw new TypeError(`Unknown fault ${JSON.stringify(name)}: expected ${ENTRIES.map((entry) => entry.names).join(', ')}`);
}

/** What the GCS test server does for this fault. */
export function serverAction(fault: Fault): ServerAction {
  return entryOf(fault).server(fault);
}

/** What the fault proxy does for this fault; throws a TypeError naming what it can do instead. */
export function proxyAction(name: string): ProxyAction {
  const fault = parseFault(name);
  const action = entryOf(fault).proxy?.(fault);
  if (action) return action;
  const possible = ENTRIES.filter((entry) => entry.proxy !== undefined).map((entry) => entry.names);
  throw new TypeError(`The fault proxy can't do ${JSON.stringify(name)}: only ${possible.join(', ')}`);
}

/** Where a request's body lies in the object, [start, end), and whether it finalizes. */
export interface RequestSpan {
  readonly start: number;
  /** Infinity when the request doesn't say how long its body is. */
  readonly end: number;
  /** Undefined when not known (the proxy's case: there `method` and `on` choose the request). */
  readonly finalizing: boolean | undefined;
}

/** The conditions of the table that do not depend on the rule: "after NK" and finalizing-only faults. */
export function faultApplies(fault: Fault, span: RequestSpan): boolean {
  if (entryOf(fault).finalOnly && span.finalizing === false) return false;
  const after = afterBytesOf(fault);
  return after === undefined || (span.start <= after && after < span.end);
}

function afterBytesOf(fault: Fault): number | undefined {
  return fault.kind === 'status' || fault.kind === 'reset' ? fault.afterBytes : undefined;
}

export interface RequestFacts extends RequestSpan {
  readonly finalizing: boolean;
  readonly kind: RequestKind;
  /** 1-based number of this request among the session's requests of the same kind. */
  readonly number: number;
}

/** A `FaultRule` of the GCS test server, armed on a session. */
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
    // A status query carries no bytes, so no offset of the object lies in it.
    if (facts.kind === 'query' && afterBytesOf(this.parsed) !== undefined) return false;
    return faultApplies(this.parsed, facts);
  }
}
