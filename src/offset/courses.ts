/**
 * The two courses an offset upload can take, chosen once when it knows where the server stands:
 * uploading (a fresh upload, or a resume the server has not finished), or verifying only (the
 * previous process had finalized the upload before it died: what is written again is hashed,
 * dropped at once, and checked against the object at `end()`; nothing is sent).
 */
import type { CommittedLedger } from '../core/ledger.js';
import type { Lifecycle } from '../core/lifecycle.js';
import { ResumeMismatchError, type ErrorContext } from '../errors.js';
import type { TransportAnswer } from '../transport.js';
import type { OffsetConversation } from './conversation.js';
import type { OffsetSession } from './session.js';
import type { UploadState } from './upload-state.js';

export interface CourseHost {
  readonly life: Lifecycle;
  readonly ledger: CommittedLedger;
  readonly session: OffsetSession;
  readonly state: UploadState;
  readonly talk: OffsetConversation;
  /** Whether this is a resume (whose session no factory may replace). */
  readonly resuming: boolean;
  context(): ErrorContext;
  /** Fails the upload: every waiter learns of it. */
  fail(error: Error): void;
}

export interface Course {
  /** Offset up to which held bytes are confirmed: they are hashed and dropped. */
  confirmedHeld(): number;
  /** Whether the writer may hand over more. */
  hasRoom(): boolean;
  /** Whether bytes just written at `start` are to be released at once (they are confirmed already). */
  releasesAtOnce(start: number): boolean;
  /** The writer's end, once the state knows it; throws when the input contradicts the server. */
  onEnd(): void;
  /** The loop, until the upload is complete (or verified). */
  drive(): Promise<void>;
}

export class Uploading implements Course {
  constructor(private readonly host: CourseHost) {}

  confirmedHeld(): number {
    return Math.min(this.host.state.bytesCommitted, this.host.ledger.buffer.bytesAppended);
  }

  hasRoom(): boolean {
    const unreleased = Math.max(0, this.confirmedHeld() - this.host.ledger.buffer.releasedOffset);
    return !this.host.state.isFull(this.host.talk.inFlightEnd, unreleased);
  }

  releasesAtOnce(start: number): boolean {
    // A resumed stream written from byte 0 again: what the server already has is hashed, checked and dropped.
    return start < this.host.state.bytesCommitted;
  }

  onEnd(): void {
    const { state } = this.host;
    if (state.bytesWritten < state.bytesCommitted) {
      throw new ResumeMismatchError(
        `the input ended after ${state.bytesWritten} bytes, but the server already holds ${state.bytesCommitted}; nothing was finalized`,
        this.host.context(),
      );
    }
  }

  async drive(): Promise<void> {
    const { state, session, talk } = this.host;
    while (!state.complete) {
      if (state.nextRequest() === undefined) {
        await this.host.life.waitForEvent();
        continue;
      }
      try {
        if (session.mustQueryFirst) await talk.queryFirst();
        await talk.step();
      } catch (error) {
        // A session factory may replace a gone session while every byte from 0 is still held.
        if (!session.restartAfter(error, this.host.ledger.buffer.releasedOffset === 0, this.host.resuming)) throw error;
        state.restart();
      }
    }
  }
}

export class VerifyingFinished implements Course {
  constructor(
    private readonly host: CourseHost,
    private readonly answer: TransportAnswer,
  ) {}

  confirmedHeld(): number {
    return this.host.ledger.buffer.bytesAppended;
  }

  hasRoom(): boolean {
    return true;
  }

  releasesAtOnce(): boolean {
    return true;
  }

  onEnd(): void {
    this.host.state.onRewriteEnded();
    try {
      this.host.talk.acceptFinal(this.answer);
    } catch (error) {
      // The loop waits for the end and nothing aborts a complete upload: it must learn of this.
      this.host.fail(error as Error);
      throw error;
    }
  }

  async drive(): Promise<void> {
    while (!this.host.state.ended) await this.host.life.waitForEvent();
  }
}
