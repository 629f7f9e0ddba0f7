/**
 * The test servers' `directory` option: what a server holds (sessions, uploads, parts, objects),
 * kept as records (JSON) and byte files under one folder, so a server started again on it finds
 * what the last one held, as a real service's storage outlives its processes.
 *
 * Every write is synchronous and done before the server answers: what a client was told is
 * persisted is on disk even if the process is killed right after. A record is replaced
 * atomically (written beside, then renamed). Bytes are appended first and the record written
 * after, so a record's length is the truth: bytes past it (a process killed between the two
 * writes) are cut when read back; fewer than it, or a record that does not parse, is a
 * `DamagedDirectoryError` naming the file.
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { expectString } from '../options/expect.js';

/**
 * A test server's directory holds something it can't read back: the file (`file`, its path in the
 * folder) and why. A file is named by the id of what it holds, and a session's id is its
 * credential, so the message shows only the id's first characters.
 */
export class DamagedDirectoryError extends Error {
  override readonly name = 'DamagedDirectoryError';

  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`test server directory: ${file.replace(/[A-Za-z0-9_-]{13,}(?=\.[a-z]+$)/, (id) => `${id.slice(0, 6)}…`)}: ${reason}`);
  }
}

/** Ids become file names: only these characters (keys of objects are hashed first, `fileId`). */
const SAFE_ID = /^[A-Za-z0-9_-]+$/;

/** A file name for any key (an object's bucket and name). */
export const fileId = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 40);

export class DiskStore {
  private constructor(readonly directory: string) {}

  /** Validates the option (`name` is how the error names it) and creates the folder if needed. */
  static open(name: string, directory: unknown): DiskStore {
    const path = expectString(name, directory);
    mkdirSync(path, { recursive: true });
    return new DiskStore(path);
  }

  save(kind: string, id: string, record: object): void {
    const file = this.path(kind, `${id}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify(record));
    renameSync(`${file}.tmp`, file);
  }

  appendBytes(kind: string, id: string, suffix: string, bytes: Uint8Array): void {
    appendFileSync(this.path(kind, `${id}.${suffix}`), bytes);
  }

  writeBytes(kind: string, id: string, suffix: string, bytes: Uint8Array): void {
    const file = this.path(kind, `${id}.${suffix}`);
    writeFileSync(`${file}.tmp`, bytes);
    renameSync(`${file}.tmp`, file);
  }

  truncateBytes(kind: string, id: string, suffix: string, length: number): void {
    const file = this.path(kind, `${id}.${suffix}`);
    if (existsSync(file)) truncateSync(file, length);
  }

  /** A record and every byte file of it. */
  remove(kind: string, id: string): void {
    for (const name of readdirSync(this.folder(kind))) {
      if (name.startsWith(`${id}.`)) rmSync(join(this.folder(kind), name), { force: true });
    }
  }

  /** The first `length` bytes of a byte file (an absent file holds none). */
  readBytes(kind: string, id: string, suffix: string, length: number): Buffer {
    const file = this.path(kind, `${id}.${suffix}`);
    const size = existsSync(file) ? statSync(file).size : 0;
    if (size < length) throw new DamagedDirectoryError(join(kind, `${id}.${suffix}`), `${size} bytes, its record says ${length}`);
    if (length === 0) return Buffer.alloc(0);
    return readFileSync(file).subarray(0, length);
  }

  /** Every record of a kind, parsed; a file that is not a JSON object is a DamagedDirectoryError. */
  records(kind: string): Array<{ id: string; record: Record<string, unknown>; file: string }> {
    return readdirSync(this.folder(kind))
      .filter((name) => name.endsWith('.json'))
      .map((name) => {
        const file = join(kind, name);
        let record: unknown;
        try {
          record = JSON.parse(readFileSync(join(this.directory, file), 'utf8'));
        } catch (error) {
          throw new DamagedDirectoryError(file, `not valid JSON (${(error as Error).message})`);
        }
        if (typeof record !== 'object' || record === null || Array.isArray(record)) throw new DamagedDirectoryError(file, 'not a JSON object');
        return { id: name.slice(0, -'.json'.length), record: record as Record<string, unknown>, file };
      });
  }

  private folder(kind: string): string {
    const folder = join(this.directory, kind);
    mkdirSync(folder, { recursive: true });
    return folder;
  }

  private path(kind: string, name: string): string {
    if (!SAFE_ID.test(name.slice(0, name.indexOf('.')))) throw new Error(`test server directory: ${JSON.stringify(name)} is not a safe file name`);
    return join(this.folder(kind), name);
  }
}

/** Reads a record's fields, each checked: a missing or mistyped one is a DamagedDirectoryError. */
export class RecordReader {
  constructor(
    private readonly file: string,
    private readonly record: Record<string, unknown>,
  ) {}

  keys(): string[] {
    return Object.keys(this.record);
  }

  string(field: string): string {
    return this.check(field, 'a string', (value) => typeof value === 'string') as string;
  }

  number(field: string): number {
    return this.check(field, 'a non-negative integer', (value) => Number.isSafeInteger(value) && (value as number) >= 0) as number;
  }

  optionalNumber(field: string): number | undefined {
    return this.record[field] === undefined ? undefined : this.number(field);
  }

  optionalString(field: string): string | undefined {
    return this.record[field] === undefined ? undefined : this.string(field);
  }

  strings(field: string): Record<string, string> {
    return this.check(field, 'an object of strings', (value) => typeof value === 'object' && value !== null && Object.values(value).every((item) => typeof item === 'string')) as Record<string, string>;
  }

  object(field: string): RecordReader | undefined {
    return this.record[field] === undefined ? undefined : this.child(field);
  }

  child(field: string): RecordReader {
    const value = this.check(field, 'an object', (item) => typeof item === 'object' && item !== null && !Array.isArray(item));
    return new RecordReader(`${this.file} (${field})`, value as Record<string, unknown>);
  }

  private check(field: string, expected: string, ok: (value: unknown) => boolean): unknown {
    const value = this.record[field];
    if (!ok(value)) throw new DamagedDirectoryError(this.file, `field ${JSON.stringify(field)} should be ${expected}`);
    return value;
  }
}
