/**
 * One resumable upload session of the test server, with GCS's persistence rules and no HTTP:
 * bytes are persisted append-only, overlap with persisted bytes is trimmed, a gap is refused,
 * interrupted requests persist in whole steps (256 KiB), a data request's range must agree with
 * its length and the declared total, a final `X-Goog-Hash` must match, and finalizing computes
 * the object's MD5 and CRC32C (base64, as GCS reports them).
 */
import { createHash, type Hash } from 'node:crypto';
import { CHUNK_ALIGNMENT, type ParsedContentRange } from '../content-range.js';
import { crc32cUpdate as crc32c } from '../crc32c.js';
import type { ArmedRule } from './faults.js';

export interface StoredObject {
  readonly bucket: string;
  readonly name: string;
  readonly size: number;
  /** Base64 MD5, as in GCS object metadata (undefined with `digests: false`). */
  readonly md5Hash: string | undefined;
  /** Base64 big-endian CRC32C, as in GCS object metadata (undefined with `digests: false`). */
  readonly crc32c: string | undefined;
  /** The bytes, unless the server was started with `storeObjects: false`. */
  readonly data: Buffer | undefined;
  readonly generation: string;
  readonly contentType: string;
  /** Custom metadata given when the session started (JSON `metadata`, XML `x-goog-meta-*`). */
  readonly metadata: Readonly<Record<string, string>>;
}

/** What the request that started a session said about the object. */
export interface ObjectDescription {
  readonly contentType: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** Which session this is, from the request (or call) that started it. */
export interface SessionIdentity {
  readonly id: string;
  readonly uri: string;
  readonly bucket: string;
  readonly name: string;
  readonly dialect: 'gcs' | 'redivis';
  readonly description: ObjectDescription;
}

/** How the server keeps what it is sent (the test server's `storeObjects`, `persistStep`, `digests`). */
export interface SessionStorage {
  readonly storeBytes: boolean;
  readonly persistStep: number;
  readonly digests: boolean | 'crc32c';
}

/**
 * Where a session's state goes besides memory (the server's `directory`, gcs-server/persistence.ts):
 * told of every change, before the server answers.
 */
export interface SessionJournal {
  /** Fresh persisted bytes, in order. */
  append(session: UploadSession, bytes: Buffer): void;
  /** The counters, the total, gone or finalized changed. */
  save(session: UploadSession): void;
  /** A refused final request rolled the bytes back to `length`. */
  truncate(session: UploadSession, length: number): void;
}

/** What a journal kept of a session, to start it again (`UploadSession.restore`). */
export interface RestoredState {
  readonly persisted: number;
  readonly total: number | undefined;
  readonly goneStatus: number | undefined;
  /** The finalized object, its bytes being the session's. */
  readonly object: Omit<StoredObject, 'data'> | undefined;
}

export type PersistOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export class UploadSession {
  persisted = 0;
  object: StoredObject | undefined;
  uploads = 0;
  queries = 0;
  /** Set by the `corrupt-byte` fault: the next persisted byte is flipped (a server-side corruption). */
  corruptNext = false;
  private readonly chunks: Buffer[] = [];
  private md5: Hash = createHash('md5');
  private crc = 0;
  private declaredTotal: number | undefined;
  private gone: number | undefined;

  constructor(
    readonly identity: SessionIdentity,
    readonly rules: ArmedRule[],
    private readonly storage: SessionStorage,
    private journal?: SessionJournal,
  ) {}

  /** A session a journal kept, with the bytes it persisted (no faults armed: a restart drops them). */
  static restore(identity: SessionIdentity, storage: SessionStorage, state: RestoredState, bytes: Buffer, journal: SessionJournal): UploadSession {
    const session = new UploadSession(identity, [], storage);
    session.append(bytes);
    session.declaredTotal = state.total;
    session.gone = state.goneStatus;
    if (state.object) {
      session.object = { ...state.object, data: storage.storeBytes ? bytes : undefined };
      session.chunks.length = 0;
    }
    session.journal = journal;
    return session;
  }

  /** The object size, once a request declared it. */
  get total(): number | undefined {
    return this.declaredTotal;
  }

  /** Set when the session is gone: the status every later request gets. */
  get goneStatus(): number | undefined {
    return this.gone;
  }

  declareTotal(total: number): void {
    if (total === this.declaredTotal) return;
    this.declaredTotal = total;
    this.journal?.save(this);
  }

  markGone(status: number): void {
    this.gone = status;
    this.journal?.save(this);
  }

  get id(): string {
    return this.identity.id;
  }

  get uri(): string {
    return this.identity.uri;
  }

  get dialect(): 'gcs' | 'redivis' {
    return this.identity.dialect;
  }

  get finalized(): boolean {
    return this.object !== undefined;
  }

  /** Whether persisting needs the bytes themselves (to store, hash or compare), or only their count. */
  get needsBytes(): boolean {
    return this.storage.storeBytes || this.storage.digests !== false || this.corruptNext;
  }

  /**
   * Persists a body received for object offset `start` (its bytes, or only its length when the
   * session needs no bytes). `complete` requests persist everything new; interrupted ones (and
   * `limit`ed ones) round down to the persistence step.
   */
  persist(start: number, body: { length: number; bytes?: Buffer | undefined }, complete: boolean, limit = Number.POSITIVE_INFINITY): PersistOutcome {
    if (start > this.persisted) return { ok: false, reason: `gap: request starts at ${start}, ${this.persisted} bytes persisted` };
    const skip = this.persisted - start;
    if (this.storage.storeBytes && skip > 0 && body.bytes) {
      const overlap = body.bytes.subarray(0, Math.min(skip, body.length));
      if (!overlap.equals(this.read(start, start + overlap.length))) {
        return { ok: false, reason: `bytes ${start}-${start + overlap.length - 1} differ from the bytes already persisted` };
      }
    }
    if (skip >= body.length) return { ok: true };
    let freshLength = Math.min(body.length - skip, Math.max(0, limit));
    if (!complete || freshLength < body.length - skip) {
      const alignedEnd = Math.floor((this.persisted + freshLength) / this.storage.persistStep) * this.storage.persistStep;
      freshLength = Math.max(0, alignedEnd - this.persisted);
    }
    if (freshLength === 0) return { ok: true };
    if (!this.needsBytes) {
      this.persisted += freshLength;
      this.journal?.save(this);
      return { ok: true };
    }
    this.append((body.bytes as Buffer).subarray(skip, skip + freshLength));
    return { ok: true };
  }

  /**
   * GCS's rules for a request's range (`declaredLength`: its Content-Length, `received`: what
   * arrived); a string says why it is refused with 400.
   */
  refusal(range: ParsedContentRange, declaredLength: number, received: number): string | undefined {
    if (range.total !== undefined && this.total !== undefined && range.total !== this.total) {
      return `total ${range.total} differs from the total ${this.total} declared before`;
    }
    const total = range.total ?? this.total;
    if (range.start === undefined) {
      return total !== undefined && this.persisted > total ? `${this.persisted} bytes persisted, more than total ${total}` : undefined;
    }
    const length = (range.end as number) - range.start + 1;
    if (declaredLength !== length || received !== length) {
      return `Content-Range covers ${length} bytes but Content-Length is ${declaredLength} and ${received} arrived`;
    }
    if (total !== undefined && (range.end as number) + 1 > total) return `range ends past total ${total}`;
    const isFinal = total !== undefined && (range.end as number) + 1 === total;
    if (!isFinal && length % CHUNK_ALIGNMENT !== 0) return `non-final chunk of ${length} bytes: must be a multiple of 262144`;
    return undefined;
  }

  /**
   * GCS refuses to finalize when `X-Goog-Hash` disagrees with the bytes it holds: the JSON error
   * body, in GCS's words (400) or storage-testbench's (412), or undefined when it agrees.
   */
  hashRefusal(googHash: string, status: 400 | 412): string | undefined {
    const actual = this.digests();
    for (const part of googHash.split(',')) {
      const [name, value] = [part.slice(0, part.indexOf('=')).trim(), part.slice(part.indexOf('=') + 1).trim()];
      const calculated = name === 'crc32c' ? actual.crc32c : name === 'md5' ? actual.md5Hash : undefined;
      if (calculated === undefined || calculated === value) continue;
      if (status === 412) return JSON.stringify({ error: { code: 412, message: `${name} validation failed. Expected ${calculated}, got ${value}` } });
      const label = name === 'crc32c' ? 'CRC32C' : 'MD5';
      return JSON.stringify({ error: { code: 400, message: `Provided ${label} "${value}" doesn't match calculated ${label} "${calculated}".` } });
    }
    return undefined;
  }

  /** A restore point, to refuse a final request without keeping any of it (see rollback). */
  savepoint(): () => void {
    const saved = { persisted: this.persisted, total: this.total, chunks: this.chunks.length, crc: this.crc, md5: this.md5.copy() };
    return () => {
      this.persisted = saved.persisted;
      this.declaredTotal = saved.total;
      this.chunks.length = saved.chunks;
      this.crc = saved.crc;
      this.md5 = saved.md5;
      this.journal?.truncate(this, saved.persisted);
      this.journal?.save(this);
    };
  }

  /** Base64 digests of the persisted bytes so far (none when the server computes none). */
  digests(): { crc32c: string | undefined; md5Hash: string | undefined } {
    if (!this.storage.digests) return { crc32c: undefined, md5Hash: undefined };
    const digest = Buffer.alloc(4);
    digest.writeUInt32BE(this.crc >>> 0);
    return { crc32c: digest.toString('base64'), md5Hash: this.storage.digests === 'crc32c' ? undefined : this.md5.copy().digest('base64') };
  }

  finalize(generation: string): StoredObject {
    const { crc32c, md5Hash } = this.digests();
    this.object = {
      bucket: this.identity.bucket,
      name: this.identity.name,
      size: this.persisted,
      md5Hash,
      crc32c,
      data: this.storage.storeBytes ? Buffer.concat(this.chunks) : undefined,
      generation,
      ...this.identity.description,
    };
    this.chunks.length = 0;
    this.journal?.save(this);
    return this.object;
  }

  private append(received: Buffer): void {
    let fresh = received;
    if (this.corruptNext) {
      this.corruptNext = false;
      fresh = Buffer.from(received);
      fresh[0] = (fresh[0] as number) ^ 0x01;
    }
    // Copy: the request's buffer belongs to the socket layer.
    if (this.storage.storeBytes) this.chunks.push(fresh === received ? Buffer.from(fresh) : fresh);
    if (this.storage.digests) {
      if (this.storage.digests !== 'crc32c') this.md5.update(fresh);
      this.crc = crc32c(fresh, this.crc);
    }
    this.persisted += fresh.length;
    this.journal?.append(this, fresh);
    this.journal?.save(this);
  }

  private read(start: number, end: number): Buffer {
    const parts: Buffer[] = [];
    let offset = 0;
    for (const chunk of this.chunks) {
      const chunkEnd = offset + chunk.length;
      if (chunkEnd > start && offset < end) parts.push(chunk.subarray(Math.max(0, start - offset), Math.min(chunk.length, end - offset)));
      offset = chunkEnd;
    }
    return Buffer.concat(parts);
  }
}
