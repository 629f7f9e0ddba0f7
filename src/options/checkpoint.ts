/** Checkpoints and resuming: `checkpointStore`, `resume` and `resumeInput`. */
import { parseCheckpoint, type Checkpoint, type CheckpointStore } from '../checkpoint.js';
import type { ChecksumOption } from '../checksum.js';
import { describe } from './expect.js';
import type { ResolvedOptions } from './types.js';

export function validateStore(value: unknown): CheckpointStore | undefined {
  if (value === undefined) return undefined;
  const store = value as Partial<CheckpointStore> | null;
  if (typeof store !== 'object' || store === null || [store.load, store.save, store.clear].some((fn) => typeof fn !== 'function')) {
    throw new TypeError(`Expected \`checkpointStore\` to have load, save and clear methods, received ${describe(value)}`);
  }
  return store as CheckpointStore;
}

export function validateResume(resume: unknown, store: CheckpointStore | undefined): Checkpoint | 'from-store' | undefined {
  if (resume === undefined || resume === false) return undefined;
  if (resume === true) {
    if (!store) throw new TypeError('`resume: true` needs a `checkpointStore` to load the checkpoint from');
    return 'from-store';
  }
  try {
    return parseCheckpoint(resume);
  } catch (error) {
    throw new TypeError(`Expected \`resume\` to be true or a checkpoint: ${(error as Error).message}`);
  }
}

/** A checkpoint given as `resume` belongs to one protocol: the stream must speak it. */
export function checkResumeProtocol(resume: ResolvedOptions['resume'], protocol: string): void {
  if (typeof resume === 'object' && resume.protocol !== protocol) {
    throw new TypeError(`Expected \`protocol\` to be '${resume.protocol}', the protocol of the checkpoint given as \`resume\`, received '${protocol}'`);
  }
}

export function validateResumeInput(value: unknown, resume: ResolvedOptions['resume'], checksum: ChecksumOption): ResolvedOptions['resumeInput'] {
  if (value === undefined) return 'from-start';
  if (value !== 'from-start' && value !== 'from-committed') {
    throw new TypeError(`Expected \`resumeInput\` to be 'from-start' or 'from-committed', received ${describe(value)}`);
  }
  if (resume === undefined) throw new TypeError('`resumeInput` only applies with `resume`');
  if (value === 'from-committed' && (checksum === 'md5' || checksum === 'both')) {
    throw new RangeError(`\`checksum: '${checksum}'\` can't resume from an offset (MD5 state can't be saved): use 'crc32c' or \`resumeInput: 'from-start'\``);
  }
  return value;
}
