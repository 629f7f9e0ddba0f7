/**
 * Resuming a parts upload from a checkpoint: the checkpoint names the upload (its URL) and the
 * first part size its parts were cut with; listing tells which parts the crashed process stored.
 * From the committed offset, the parts below it must all be there (their bytes won't come again);
 * from the start, each listed part is kept only when the bytes written again match it.
 */
import { resumeCheckpoint, type Checkpoint } from '../checkpoint.js';
import { ResumeMismatchError, SessionExpiredError } from '../errors.js';
import type { ResolvedOptions } from '../options/index.js';
import type { Digests } from '../checksum.js';
import { md5Hex } from './part-md5s.js';
import type { PartPlan, PlannedPart } from './plan.js';
import type { ListedPart, PartsCall, PartsProtocol, StoredPart } from './protocol.js';

/** The checkpoint to resume and the upload it names; undefined for a fresh upload. */
export async function loadResumed(options: ResolvedOptions, protocol: PartsProtocol, call: PartsCall): Promise<{ checkpoint: Checkpoint; uploadId: string } | undefined> {
  if (options.resume === undefined) return undefined;
  const checkpoint = await resumeCheckpoint(options.resume, options.checkpointStore, options.protocol, call.context());
  if (checkpoint === undefined) return undefined;
  const uploadId = protocol.parseSessionUrl(checkpoint.url);
  if (uploadId === undefined) throw new ResumeMismatchError(`the checkpoint is for another object than ${call.redactedUrl}`, call.context());
  return { checkpoint, uploadId };
}

/**
 * The parts stored for `uploadId`; when the upload is gone and the input comes again from the
 * start, the error instead (the crashed process may have completed it: the verify-only strategy).
 */
export async function listStored(protocol: PartsProtocol, call: PartsCall, uploadId: string, resumeInput: ResolvedOptions['resumeInput']): Promise<ReadonlyMap<number, ListedPart> | SessionExpiredError> {
  try {
    return await protocol.listParts(call, uploadId);
  } catch (error) {
    if (!(error instanceof SessionExpiredError) || resumeInput !== 'from-start') throw error;
    return error;
  }
}

/** From the committed offset: the listed parts below it become stored parts of the plan, or the resume is refused. */
export function adoptCommitted(plan: PartPlan, listed: ReadonlyMap<number, ListedPart>, stored: Map<number, StoredPart>, call: PartsCall, offset: number): void {
  const adopt = (part: PlannedPart) => {
    const found = listed.get(part.partNumber);
    if (!found || found.size !== part.length) return false;
    stored.set(part.partNumber, { ...part, tag: found.tag, verified: false });
    return true;
  };
  const missing = plan.adoptBelow(offset, adopt);
  if (missing === 'not-boundary') throw new ResumeMismatchError(`the checkpoint's offset ${offset} is not a part boundary`, call.context());
  if (missing !== undefined) {
    throw new ResumeMismatchError(`part ${missing.partNumber} below the checkpoint's offset ${offset} is not on the server; resume with resumeInput 'from-start'`, call.context());
  }
}

/** A part a crashed process stored is kept when the bytes written again have its MD5; otherwise it is sent again. */
export function keptListed(listed: ListedPart | undefined, part: PlannedPart, body: readonly Uint8Array[], digests: Digests): StoredPart | undefined {
  if (!listed || listed.size !== part.length || listed.md5Hex === undefined) return undefined;
  const ours = digests.md5 === undefined ? md5Hex(body) : Buffer.from(digests.md5, 'base64').toString('hex');
  if (listed.md5Hex !== ours) return undefined;
  return { ...part, tag: listed.tag, md5Hex: ours, verified: true };
}
