/**
 * Checkpoints: what a process needs to resume an upload after it crashed. A checkpoint holds the
 * session URI, so it is a credential: the file store writes it with mode 0600, and inspecting a
 * checkpoint (console.log, util.inspect) shows the URI redacted, while JSON.stringify keeps it
 * whole for storage.
 */
import { statSync } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { CheckpointError, redactUrl, ResumeMismatchError, type ErrorContext } from './errors.js';
import type { ProtocolName } from './protocol.js';
import { isProtocolName, protocolNames } from './protocols/index.js';

export interface Checkpoint {
  readonly version: 1;
  /** The session URI: a credential. */
  readonly url: string;
  /** The protocol the upload speaks (absent in files written before tus: `'gcs'`). */
  readonly protocol: ProtocolName;
  /** Bytes the server had confirmed when the checkpoint was made. */
  readonly bytesCommitted: number;
  /** Raw CRC32C of bytes [0, bytesCommitted), when the stream computes CRC32C. */
  readonly crc32cState?: number;
  /** S3: the first part size the upload's parts were cut with (a resume cuts them the same way). */
  readonly partSize?: number;
  /** ISO 8601 time the checkpoint was made. */
  readonly createdAt: string;
}

/** Where checkpoints live. `save` is called after every acknowledgement, `clear` after success. */
export interface CheckpointStore {
  load(): Promise<Checkpoint | undefined>;
  save(checkpoint: Checkpoint): Promise<void>;
  clear(): Promise<void>;
}

const inspectSymbol = Symbol.for('nodejs.util.inspect.custom');

/** A checkpoint object whose inspection redacts the URI. */
export function makeCheckpoint(fields: Omit<Checkpoint, 'version' | 'createdAt' | 'protocol'> & { createdAt?: string; protocol?: ProtocolName }): Checkpoint {
  const checkpoint: Checkpoint = {
    version: 1,
    url: fields.url,
    protocol: fields.protocol ?? 'gcs',
    bytesCommitted: fields.bytesCommitted,
    ...(fields.crc32cState === undefined ? {} : { crc32cState: fields.crc32cState }),
    ...(fields.partSize === undefined ? {} : { partSize: fields.partSize }),
    createdAt: fields.createdAt ?? new Date().toISOString(),
  };
  Object.defineProperty(checkpoint, inspectSymbol, {
    enumerable: false,
    value: () => ({ ...checkpoint, url: redactUrl(checkpoint.url) }),
  });
  return checkpoint;
}

/** Validates something read back (a file, a message): throws TypeError naming what is wrong. */
export function parseCheckpoint(value: unknown): Checkpoint {
  const raw = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  if (raw.version !== 1) throw new TypeError('Expected a checkpoint with `version: 1`');
  if (typeof raw.url !== 'string') throw new TypeError('Expected a checkpoint with a string `url`');
  if (!Number.isSafeInteger(raw.bytesCommitted) || (raw.bytesCommitted as number) < 0) {
    throw new TypeError('Expected a checkpoint with a non-negative integer `bytesCommitted`');
  }
  if (raw.protocol !== undefined && !isProtocolName(raw.protocol)) {
    throw new TypeError(`Expected a checkpoint \`protocol\` to be ${protocolNames().map((name) => `'${name}'`).join(', ')}, received ${JSON.stringify(raw.protocol)}`);
  }
  const partSize = raw.partSize;
  if (partSize !== undefined && (!Number.isSafeInteger(partSize) || (partSize as number) < 1)) {
    throw new TypeError('Expected a checkpoint `partSize` to be a positive integer');
  }
  const crc = raw.crc32cState;
  if (crc !== undefined && (!Number.isInteger(crc) || (crc as number) < 0 || (crc as number) > 0xffffffff)) {
    throw new TypeError('Expected a checkpoint `crc32cState` to be a uint32');
  }
  return makeCheckpoint({
    url: raw.url,
    protocol: (raw.protocol as ProtocolName | undefined) ?? 'gcs',
    bytesCommitted: raw.bytesCommitted as number,
    ...(crc === undefined ? {} : { crc32cState: crc as number }),
    ...(partSize === undefined ? {} : { partSize: partSize as number }),
    createdAt: typeof raw.createdAt === 'string' ? raw.createdAt : new Date(0).toISOString(),
  });
}

/**
 * The checkpoint a resumed stream starts from: the one given, or the store's (undefined when the
 * store has none). A store that fails is RWS_CHECKPOINT; a checkpoint of another protocol is
 * RWS_RESUME_MISMATCH.
 */
export async function resumeCheckpoint(
  resume: Checkpoint | 'from-store',
  store: CheckpointStore | undefined,
  protocol: ProtocolName,
  context: ErrorContext,
): Promise<Checkpoint | undefined> {
  let checkpoint: Checkpoint | undefined;
  try {
    checkpoint = resume === 'from-store' ? await store?.load() : resume;
  } catch (error) {
    throw new CheckpointError(`could not load the checkpoint: ${(error as Error).message}`, { cause: error });
  }
  if (checkpoint !== undefined && checkpoint.protocol !== protocol) {
    throw new ResumeMismatchError(`the checkpoint is for protocol '${checkpoint.protocol}', but the stream speaks '${protocol}': pass \`protocol: '${checkpoint.protocol}'\``, context);
  }
  return checkpoint;
}

/**
 * A checkpoint file at `path` (a path you choose; nothing is written anywhere else). Its folder
 * must exist: a TypeError at once otherwise, rather than a failure after bytes were sent. Each
 * save writes `PATH.tmp` (created exclusively, mode 0600, flushed to disk) and renames it over the
 * checkpoint, so a crash leaves the previous checkpoint or the new one, never half of one. There is
 * only ever that one temporary file: a save removes what a killed process left, a failed save
 * removes its own, and `clear()` removes both files (the temporary file holds the session URI
 * too). Saves are serialized, and a burst of saves writes only the latest.
 */
export function createFileCheckpointStore(path: string): CheckpointStore {
  if (typeof path !== 'string' || path === '') throw new TypeError('Expected `path` to be a non-empty string');
  requireFolder(path);
  const temporary = `${path}.tmp`;
  let writing: Promise<void> = Promise.resolve();
  let latest: Checkpoint | undefined;
  let scheduled = false;

  const writeLatest = async () => {
    scheduled = false;
    const checkpoint = latest;
    if (!checkpoint) return;
    try {
      await removeIfPresent(temporary);
      // Exclusive creation: a link planted at the temporary path is never followed.
      const file = await open(temporary, 'wx', 0o600);
      try {
        await file.writeFile(`${JSON.stringify(checkpoint)}\n`);
        await file.datasync();
      } finally {
        await file.close();
      }
      await rename(temporary, path);
    } catch (error) {
      await removeIfPresent(temporary).catch(() => {});
      throw error;
    }
  };

  return {
    async load() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
      return parseCheckpoint(JSON.parse(text));
    },
    save(checkpoint) {
      latest = checkpoint;
      if (!scheduled) {
        scheduled = true;
        writing = writing.catch(() => {}).then(writeLatest);
      }
      return writing;
    },
    async clear() {
      latest = undefined;
      await writing.catch(() => {});
      await removeIfPresent(path);
      await removeIfPresent(temporary);
    },
  };
}

function requireFolder(path: string): void {
  const folder = dirname(resolve(path));
  let isFolder = false;
  try {
    isFolder = statSync(folder).isDirectory();
  } catch {
    // Missing or unreadable: the same answer below.
  }
  if (!isFolder) throw new TypeError(`Expected \`path\` to be in an existing folder, but ${folder} is not one (folders are not created)`);
}

async function removeIfPresent(path: string): Promise<void> {
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}
