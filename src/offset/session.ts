/**
 * The session an offset upload talks to, as the driver holds it: a URI given, one from a
 * checkpoint, or one a factory creates lazily — asked as soon as the first byte is written, so
 * its round trip overlaps the filling of the first chunk — and created anew, at most
 * `MAX_SESSION_RESTARTS` times, when it is gone while every byte from 0 is still held. Every URI
 * follows the URL policy and is printed only redacted.
 */
import { SessionExpiredError, redactUrl } from '../errors.js';
import type { SessionFactory } from '../options/index.js';
import { validateCredentialUrl } from '../options/url-policy.js';

/** New sessions a session factory may be asked for after the previous one was gone. */
const MAX_SESSION_RESTARTS = 3;

export interface SessionSource {
  readonly url: string | undefined;
  readonly sessionFactory: SessionFactory | undefined;
  readonly allowInsecureHttp: boolean;
  /** The protocol asks where a fresh session stands before its first chunk (tus). */
  readonly queriesBeforeFirstChunk: boolean;
}

export class OffsetSession {
  url: string | undefined;
  /** Whether a crash from now on can be resumed: a checkpoint of this session was saved. */
  recorded = false;
  /** A fresh session on a protocol that asks before its first chunk, not asked yet. */
  mustQueryFirst: boolean;
  /** The factory's pending answer, started at the first write. */
  private creating: Promise<string> | undefined;
  private startedEarly = false;
  private restarts = 0;

  constructor(private readonly source: SessionSource) {
    this.url = source.url;
    this.mustQueryFirst = source.queriesBeforeFirstChunk;
  }

  get redactedUrl(): string {
    return this.url === undefined ? '<session not created yet>' : redactUrl(this.url);
  }

  get hasFactory(): boolean {
    return this.source.sessionFactory !== undefined;
  }

  /** The session named by a checkpoint, which a checkpoint therefore already records. */
  adopt(url: string): void {
    this.url = validateCredentialUrl(url, this.source.allowInsecureHttp, 'resume.url');
    this.recorded = true;
    this.mustQueryFirst = false;
  }

  /**
   * Asks the factory once, at the first write; a failure surfaces where the session is needed,
   * at the first request, whose retries ask again (not every write).
   */
  startEarly(): void {
    if (this.url !== undefined || this.startedEarly || this.source.sessionFactory === undefined) return;
    this.startedEarly = true;
    this.current().catch(() => undefined);
  }

  /** The session URI, created when there is none yet. */
  current(): Promise<string> {
    if (this.url !== undefined) return Promise.resolve(this.url);
    if (this.creating === undefined) {
      const creating = this.create();
      this.creating = creating;
      // Failed: the next request asks again.
      creating.catch(() => {
        if (this.creating === creating) this.creating = undefined;
      });
    }
    return this.creating;
  }

  /** The URI once a session being created as the stream is cancelled exists; undefined when none. */
  async settled(): Promise<string | undefined> {
    if (this.url === undefined && this.creating) await this.creating.catch(() => undefined);
    return this.url;
  }

  /**
   * Whether `error` lets the factory replace a gone session: only while nothing was released
   * (`fromZero`) and never for a resume, whose session is the checkpoint's. Forgets the old one.
   */
  restartAfter(error: unknown, fromZero: boolean, resuming: boolean): boolean {
    const canRestart = error instanceof SessionExpiredError && this.hasFactory && !resuming && fromZero && this.restarts < MAX_SESSION_RESTARTS;
    if (!canRestart) return false;
    this.restarts++;
    this.recorded = false;
    this.mustQueryFirst = this.source.queriesBeforeFirstChunk;
    this.url = undefined;
    this.creating = undefined;
    return true;
  }

  private async create(): Promise<string> {
    const factory = this.source.sessionFactory;
    if (!factory) throw new TypeError('no session URI and no session factory');
    this.url = validateCredentialUrl(await factory(), this.source.allowInsecureHttp);
    return this.url;
  }
}
