/**
 * Flag values for the command line: human sizes and durations, counts, checksums and headers. IEC suffixes are powers of 1024 (KiB, MiB,
 * GiB, and bare K, M, G as dd reads them); SI suffixes are powers of 1000 (KB, MB, GB).
 */
import type { ChecksumOption } from '../index.js';

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tib: 1024 ** 4,
  kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12,
};

export class UsageError extends Error {
  override name = 'UsageError';
}

/** "16MiB" → 16777216; throws UsageError naming the option. */
export function parseSize(option: string, text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = SIZE_UNITS[(match?.[2] ?? '').toLowerCase()];
  if (!match || unit === undefined) throw new UsageError(`${option} expects a size like 16MiB, 8M or 1000000, not ${JSON.stringify(text)}`);
  const value = Math.round(Number(match[1]) * unit);
  if (!Number.isSafeInteger(value)) throw new UsageError(`${option} is too large: ${text}`);
  return value;
}

/** "100MB/s" → 100000000 bytes per second. */
export function parseRate(option: string, text: string): number {
  return parseSize(option, text.replace(/\/s$/i, ''));
}

/** "30ms", "2s", "1.5s", "250" (ms) → milliseconds. */
export function parseDuration(option: string, text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|)\s*$/i.exec(text);
  if (!match) throw new UsageError(`${option} expects a duration like 30ms or 2s, not ${JSON.stringify(text)}`);
  return Math.round(Number(match[1]) * (match[2]?.toLowerCase() === 's' ? 1000 : 1));
}

/** A whole number ≥ 0. */
export function parseCount(option: string, text: string): number {
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`${option} expects a whole number, not ${JSON.stringify(text)}`);
  return Number(text);
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let index = 0;
  while (value >= 1024 && index < units.length - 1) {
    value /= 1024;
    index++;
  }
  return `${value.toFixed(1)} ${units[index]}`;
}

/** `--checksum crc32c|md5|both|none`. */
export function parseChecksum(value: string | undefined): ChecksumOption {
  if (value === undefined) return 'crc32c';
  if (value === 'none') return false;
  if (value === 'crc32c' || value === 'md5' || value === 'both') return value;
  throw new UsageError(`--checksum expects crc32c, md5, both or none, not ${JSON.stringify(value)}`);
}

/** `--header 'Name: value'`, repeatable; names as given (errors quote them so). */
export function parseHeaders(lines: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new UsageError(`--header expects 'Name: value', not ${JSON.stringify(line)}`);
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}
