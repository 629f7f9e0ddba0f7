import { CHUNK_ALIGNMENT } from './content-range.js';
export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;
const DEFAULT_RETRY = {
    retries: 10,
    minTimeout: 1000,
    maxTimeout: 32_000,
    factor: 2,
    randomize: true,
    maxRetryTime: 600_000,
    requeryDelay: 2000,
};
const DEFAULT_TIMEOUTS = {
    headersTimeout: 60_000,
    bodyTimeout: 60_000,
};
/** Headers the stream owns: setting them would break the protocol. */
const RESERVED_HEADERS = new Set(['content-range', 'content-length', 'transfer-encoding', 'host', 'connection']);
function describe(value) {
    if (typeof value === 'string')
        return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    if (value === null)
        return 'null';
    if (typeof value === 'object')
        return Array.isArray(value) ? 'an array' : 'an object';
    return `${typeof value} ${String(value)}`;
}
function expectInteger(name, value, min) {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new TypeError(`Expected \`${name}\` to be a finite number, received ${describe(value)}`);
    }
    if (!Number.isSafeInteger(value) || value < min) {
        throw new RangeError(`Expected \`${name}\` to be an integer ≥ ${min}, received ${value}`);
    }
    return value;
}
function expectNumber(name, value, min, allowInfinity = false) {
    if (typeof value !== 'number' || Number.isNaN(value) || (!allowInfinity && !Number.isFinite(value))) {
        throw new TypeError(`Expected \`${name}\` to be a ${allowInfinity ? 'number' : 'finite number'}, received ${describe(value)}`);
    }
    if (value < min)
        throw new RangeError(`Expected \`${name}\` to be ≥ ${min}, received ${value}`);
    return value;
}
function expectObject(name, value) {
    if (value === undefined)
        return undefined;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new TypeError(`Expected \`${name}\` to be an object, received ${describe(value)}`);
    }
    return value;
}
function validateUrl(value) {
    if (typeof value !== 'string' && !(value instanceof URL)) {
        throw new TypeError(`Expected \`url\` to be a string or URL, received ${describe(value)}`);
    }
    let parsed;
    try {
        parsed = new URL(String(value));
    }
    catch {
        // Never echo the value: it may be a credential.
        throw new TypeError('Expected `url` to be an absolute http(s) URL, received a string that does not parse as a URL');
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
        throw new TypeError(`Expected \`url\` to be an http(s) URL, received protocol ${JSON.stringify(parsed.protocol)}`);
    }
    return parsed.href;
}
function validateChunkSize(value) {
    if (value === undefined)
        return DEFAULT_CHUNK_SIZE;
    const size = expectInteger('chunkSize', value, 1);
    if (size % CHUNK_ALIGNMENT !== 0) {
        throw new RangeError(`Expected \`chunkSize\` to be a positive multiple of 262144 (256 KiB), received ${size}`);
    }
    return size;
}
function validateHeaders(value) {
    const headers = expectObject('headers', value) ?? {};
    const result = {};
    for (const [name, headerValue] of Object.entries(headers)) {
        if (typeof headerValue !== 'string') {
            throw new TypeError(`Expected \`headers.${name}\` to be a string, received ${describe(headerValue)}`);
        }
        if (RESERVED_HEADERS.has(name.toLowerCase())) {
            throw new TypeError(`\`headers\` may not set ${JSON.stringify(name)}: the stream sets it per request`);
        }
        result[name.toLowerCase()] = headerValue;
    }
    return result;
}
function validateRetry(value) {
    const retry = expectObject('retry', value) ?? {};
    const pick = (key) => (retry[key] === undefined ? DEFAULT_RETRY[key] : retry[key]);
    const randomize = pick('randomize');
    if (typeof randomize !== 'boolean') {
        throw new TypeError(`Expected \`retry.randomize\` to be a boolean, received ${describe(randomize)}`);
    }
    const resolved = {
        retries: expectInteger('retry.retries', pick('retries'), 0),
        minTimeout: expectNumber('retry.minTimeout', pick('minTimeout'), 0),
        maxTimeout: expectNumber('retry.maxTimeout', pick('maxTimeout'), 0),
        factor: expectNumber('retry.factor', pick('factor'), 1),
        randomize,
        maxRetryTime: expectNumber('retry.maxRetryTime', pick('maxRetryTime'), 0, true),
        requeryDelay: expectNumber('retry.requeryDelay', pick('requeryDelay'), 0),
    };
    if (resolved.maxTimeout < resolved.minTimeout) {
        throw new RangeError(`Expected \`retry.maxTimeout\` (${resolved.maxTimeout}) to be ≥ \`retry.minTimeout\` (${resolved.minTimeout})`);
    }
    return resolved;
}
function validateTimeouts(value) {
    const timeouts = expectObject('timeouts', value) ?? {};
    const pick = (key) => (timeouts[key] === undefined ? DEFAULT_TIMEOUTS[key] : timeouts[key]);
    return {
        headersTimeout: expectInteger('timeouts.headersTimeout', pick('headersTimeout'), 1),
        bodyTimeout: expectInteger('timeouts.bodyTimeout', pick('bodyTimeout'), 1),
    };
}
function validateDispatcher(value) {
    if (value === undefined)
        return undefined;
    if (typeof value !== 'object' || value === null || typeof value.dispatch !== 'function') {
        throw new TypeError(`Expected \`dispatcher\` to be an undici Dispatcher, received ${describe(value)}`);
    }
    return value;
}
function validateSignal(value) {
    if (value === undefined)
        return undefined;
    if (!(value instanceof AbortSignal)) {
        throw new TypeError(`Expected \`signal\` to be an AbortSignal, received ${describe(value)}`);
    }
    return value;
}
export function resolveOptions(options) {
    const raw = expectObject('options', options);
    if (raw === undefined)
        throw new TypeError('Expected options to be an object with a `url`, received undefined');
    return {
        url: validateUrl(raw.url),
        chunkSize: validateChunkSize(raw.chunkSize),
        totalSize: raw.totalSize === undefined ? undefined : expectInteger('totalSize', raw.totalSize, 0),
        headers: validateHeaders(raw.headers),
        dispatcher: validateDispatcher(raw.dispatcher),
        retry: validateRetry(raw.retry),
        timeouts: validateTimeouts(raw.timeouts),
        signal: validateSignal(raw.signal),
        highWaterMark: raw.highWaterMark === undefined ? undefined : expectInteger('highWaterMark', raw.highWaterMark, 1),
    };
}
