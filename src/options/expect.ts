/**
 * The checks every option validator is built from: each throws a TypeError (wrong kind) or a
 * RangeError (right kind, out of range) that names the option, what it expects and what it
 * received — never the whole of a long string, which may be a credential.
 */

/** A value as an error message may show it: strings cut at 40 characters, objects by kind only. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return `${typeof value} ${String(value)}`;
}

export function expectInteger(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`Expected \`${name}\` to be a finite number, received ${describe(value)}`);
  }
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`Expected \`${name}\` to be an integer ≥ ${min}, received ${value}`);
  }
  return value;
}

/** An optional integer: undefined stays undefined. */
export function optionalInteger(name: string, value: unknown, min: number): number | undefined {
  return value === undefined ? undefined : expectInteger(name, value, min);
}

export function expectNumber(name: string, value: unknown, min: number, allowInfinity = false): number {
  if (typeof value !== 'number' || Number.isNaN(value) || (!allowInfinity && !Number.isFinite(value))) {
    throw new TypeError(`Expected \`${name}\` to be a ${allowInfinity ? 'number' : 'finite number'}, received ${describe(value)}`);
  }
  if (value < min) throw new RangeError(`Expected \`${name}\` to be ≥ ${min}, received ${value}`);
  return value;
}

/** A plain object (not an array, not null), or undefined when not given. */
export function expectObject(name: string, value: unknown): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`Expected \`${name}\` to be an object, received ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

/** A non-empty string. */
export function expectString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`Expected \`${name}\` to be a non-empty string, received ${value === '' ? 'an empty string' : describe(value)}`);
  return value;
}

/** A non-empty string that is a secret: a wrong one is described by its kind only, never shown. */
export function expectSecret(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`Expected \`${name}\` to be a non-empty string, received ${typeof value === 'string' ? 'an empty string' : typeof value}`);
  return value;
}

export function optionalString(name: string, value: unknown): string | undefined {
  return value === undefined ? undefined : expectString(name, value);
}

/** A boolean, or undefined when not given. */
export function optionalBoolean(name: string, value: unknown): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') {
    throw new TypeError(`Expected \`${name}\` to be a boolean, received ${describe(value)}`);
  }
  return value;
}
