/**
 * Resuming an offset upload a crashed process started: the checkpoint loaded and checked, the
 * session adopted, the input's start chosen (`resumeInput`), and the server asked where it
 * stands before anything is sent. The server may hold more than the checkpoint says, never less.
 */
import { resumeCheckpoint, type Checkpoint } from '../checkpoint.js';
import type { CommittedLedger } from '../core/ledger.js';
import { ResumeMismatchError, type ErrorContext } from '../errors.js';
import type { ResolvedOptions } from '../options/index.js';
import type { TransportAnswer } from '../transport.js';
import type { OffsetConversation } from './conversation.js';
import type { OffsetSession } from './session.js';
import type { UploadState } from './upload-state.js';

export interface ResumeHost {
  readonly options: ResolvedOptions;
  readonly session: OffsetSession;
  readonly state: UploadState;
  readonly ledger: CommittedLedger;
  readonly talk: OffsetConversation;
  context(): ErrorContext;
}

export interface Prepared {
  /** The offset the `ready` promise reports: where the input starts (from-committed) or what the server holds (from-start). */
  readonly readyAt: number;
  /** The previous process finalized the upload: its answer, which the input written again must match. */
  readonly finished?: TransportAnswer;
  /** From-start: the CRC32C the re-written prefix must reproduce. */
  readonly prefix?: PrefixCheck;
}

/**
 * From-start resume: the input written again must reproduce the checkpoint's CRC32C over the
 * committed prefix, or nothing more is sent.
 */
export class PrefixCheck {
  constructor(
    private readonly offset: number,
    private readonly crc32cState: number,
    private readonly context: () => ErrorContext,
  ) {}

  /** Releases up to the prefix's end once `upTo` reaches it and compares; true once checked. */
  checked(ledger: CommittedLedger, upTo: number): boolean {
    if (ledger.buffer.releasedOffset >= this.offset || this.offset > upTo) return false;
    ledger.release(this.offset);
    if (ledger.digests.crc32cState !== this.crc32cState) {
      throw new ResumeMismatchError(
        `the input written again differs from the bytes uploaded before: CRC32C of its first ${this.offset} bytes ` +
          `does not match the checkpoint; nothing more was sent`,
        this.context(),
      );
    }
    return true;
  }
}

/** A fresh upload starts at 0; a resume loads its checkpoint and asks the server first. */
export async function prepare(host: ResumeHost): Promise<Prepared> {
  const { resume, checkpointStore, protocol } = host.options;
  if (resume === undefined) return { readyAt: 0 };
  const checkpoint = await resumeCheckpoint(resume, checkpointStore, protocol, host.context());
  if (checkpoint === undefined) {
    if (host.session.url === undefined && !host.session.hasFactory) {
      throw new TypeError('`resume: true` found no checkpoint in the store, and no `url` was given for a fresh upload');
    }
    return { readyAt: 0 };
  }
  host.session.adopt(checkpoint.url);
  const prefix = startInput(host, checkpoint);
  const finished = await host.talk.queryOnResume();
  if (!finished && host.state.bytesCommitted < checkpoint.bytesCommitted) {
    throw new ResumeMismatchError(
      `the server holds ${host.state.bytesCommitted} bytes, fewer than the ${checkpoint.bytesCommitted} the checkpoint recorded`,
      host.context(),
    );
  }
  const readyAt = host.options.resumeInput === 'from-committed' ? checkpoint.bytesCommitted : host.state.bytesCommitted;
  return { readyAt, ...(finished ? { finished } : {}), ...(prefix ? { prefix } : {}) };
}

/** Where the input starts: at the checkpoint's offset (its CRC32C continued), or at 0 again (its prefix checked). */
function startInput(host: ResumeHost, checkpoint: Checkpoint): PrefixCheck | undefined {
  const usesCrc32c = host.ledger.digests.usesCrc32c;
  if (host.options.resumeInput === 'from-committed') {
    const inputStart = checkpoint.bytesCommitted;
    if (inputStart > 0 && usesCrc32c && checkpoint.crc32cState === undefined) {
      throw new ResumeMismatchError('the checkpoint has no crc32cState, so the CRC32C cannot continue from its offset', host.context());
    }
    host.ledger.resumeAt(inputStart, inputStart > 0 ? (checkpoint.crc32cState ?? 0) : 0);
    host.state.startInputAt(inputStart);
    return undefined;
  }
  if (checkpoint.bytesCommitted > 0 && checkpoint.crc32cState !== undefined && usesCrc32c) {
    return new PrefixCheck(checkpoint.bytesCommitted, checkpoint.crc32cState, () => host.context());
  }
  return undefined;
}
