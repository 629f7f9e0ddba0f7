/**
 * Pure formatting and parsing of the two headers the resumable protocol speaks.
 * `Content-Range` (request) uses inclusive byte positions: `bytes 0-524287/*`.
 * `Range` (answer to a 308) is `bytes=0-K`: bytes 0..K are persisted.
 */
/** The protocol's alignment: every non-final chunk is a multiple of 256 KiB. */
export const CHUNK_ALIGNMENT = 256 * 1024;
/**
 * `bytes a-b/T`, `bytes a-b/*`, or, for an empty body, `bytes *\/T` (finalize or status query)
 * and `bytes *\/*` (status query with the total unknown).
 */
export function formatContentRange(start, length, total) {
    const totalPart = total === undefined ? '*' : String(total);
    if (length === 0)
        return `bytes */${totalPart}`;
    return `bytes ${start}-${start + length - 1}/${totalPart}`;
}
const RANGE_PATTERN = /^\s*bytes=(\d{1,16})-(\d{1,16})\s*$/;
/**
 * Parses the `Range` answer header into the number of persisted bytes (K + 1).
 * An absent header means nothing is persisted: `{ ok: true, persisted: 0 }` is *not* returned for
 * it; callers see `undefined` and decide (see upload-state). Anything but `bytes=0-K` with
 * 0 ≤ K < 2^53 is a protocol violation.
 */
export function parseRangeHeader(value) {
    if (value === undefined)
        return undefined;
    const match = RANGE_PATTERN.exec(value);
    if (!match)
        return { ok: false, reason: `unparseable Range header ${JSON.stringify(value.slice(0, 64))}` };
    const first = Number(match[1]);
    const last = Number(match[2]);
    if (first !== 0)
        return { ok: false, reason: `Range ${JSON.stringify(value)} does not start at byte 0` };
    if (!Number.isSafeInteger(last) || last < first) {
        return { ok: false, reason: `Range ${JSON.stringify(value.slice(0, 64))} is out of bounds` };
    }
    return { ok: true, persisted: last + 1 };
}
const CONTENT_RANGE_PATTERN = /^bytes (?:(\d{1,16})-(\d{1,16})|\*)\/(\d{1,16}|\*)$/;
/** Parses a request's `Content-Range` (used by the test server). Undefined when malformed. */
export function parseContentRange(value) {
    if (value === undefined)
        return undefined;
    const match = CONTENT_RANGE_PATTERN.exec(value.trim());
    if (!match)
        return undefined;
    const [, first, last, total] = match;
    const parsed = {
        start: first === undefined ? undefined : Number(first),
        end: last === undefined ? undefined : Number(last),
        total: total === '*' || total === undefined ? undefined : Number(total),
    };
    if (parsed.start !== undefined && parsed.end !== undefined && parsed.end < parsed.start)
        return undefined;
    return parsed;
}
