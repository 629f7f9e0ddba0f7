/**
 * The GCS server's `directory` (disk-store.ts): resumable sessions (`gcs-sessions/`: the record,
 * and the persisted bytes appended as they are persisted), finalized objects (`gcs-objects/`),
 * XML multipart uploads and their parts (`gcs-multipart/`), so a server started again on the
 * same directory and port serves the same session URIs, offsets, parts and objects. Faults armed
 * on a session or upload and the request log are the process's own: a restart drops them.
 */
import { DiskStore, fileId, RecordReader } from '../disk-store.js';
import type { OpenUpload, StoredPart } from '../gcs-multipart-rules.js';
import { UploadSession, type SessionIdentity, type SessionJournal, type SessionStorage, type StoredObject } from '../upload-session.js';
import { crc32cUpdate } from '../../crc32c.js';

const SESSIONS = 'gcs-sessions';
const OBJECTS = 'gcs-objects';
const MULTIPART = 'gcs-multipart';

/** What the multipart routes tell the directory (gcs-multipart-server.ts). */
export interface MultipartJournal {
  saveUpload(upload: OpenUpload): void;
  savePart(upload: OpenUpload, partNumber: number, part: StoredPart): void;
  removeUpload(uploadId: string): void;
}

/** What a server started on a directory finds there. */
export interface GcsHoldings {
  readonly sessions: UploadSession[];
  readonly objects: StoredObject[];
  readonly uploads: OpenUpload[];
  /** The highest generation any object has. */
  readonly generation: number;
}

export class GcsPersistence implements SessionJournal, MultipartJournal {
  constructor(private readonly store: DiskStore) {}

  append(session: UploadSession, bytes: Buffer): void {
    this.store.appendBytes(SESSIONS, session.id, 'data', bytes);
  }

  truncate(session: UploadSession, length: number): void {
    this.store.truncateBytes(SESSIONS, session.id, 'data', length);
  }

  save(session: UploadSession): void {
    const object = session.object && { ...session.object, data: undefined };
    this.store.save(SESSIONS, session.id, { identity: session.identity, persisted: session.persisted, total: session.total, goneStatus: session.goneStatus, object });
  }

  saveObject(object: StoredObject): void {
    const id = fileId(`${object.bucket}/${object.name}`);
    this.store.writeBytes(OBJECTS, id, 'data', object.data ?? Buffer.alloc(0));
    this.store.save(OBJECTS, id, { ...object, data: undefined });
  }

  saveUpload(upload: OpenUpload): void {
    const parts = Object.fromEntries([...upload.parts].map(([number, part]) => [number, { etag: part.etag, crc32c: part.crc32c, md5: part.md5, size: part.data.length }]));
    const { id, bucket, name, contentType, metadata } = upload;
    this.store.save(MULTIPART, id, { id, bucket, name, contentType, metadata, parts });
  }

  savePart(upload: OpenUpload, partNumber: number, part: StoredPart): void {
    this.store.writeBytes(MULTIPART, upload.id, `part-${partNumber}`, part.data);
    this.saveUpload(upload);
  }

  removeUpload(uploadId: string): void {
    this.store.remove(MULTIPART, uploadId);
  }

  /** Everything the directory holds; a damaged file is a DamagedDirectoryError naming it. */
  load(storage: SessionStorage): GcsHoldings {
    const sessions = this.store.records(SESSIONS).map(({ id, record, file }) => this.loadSession(id, new RecordReader(file, record), storage));
    const objects = this.store.records(OBJECTS).map(({ id, record, file }) => {
      const object = readObject(new RecordReader(file, record));
      return { ...object, data: this.store.readBytes(OBJECTS, id, 'data', object.size) };
    });
    const uploads = this.store.records(MULTIPART).map(({ id, record, file }) => this.loadUpload(id, new RecordReader(file, record)));
    const generations = [...objects, ...sessions.flatMap((session) => session.object ?? [])].map((object) => Number(object.generation));
    return { sessions, objects, uploads, generation: Math.max(0, ...generations) };
  }

  private loadSession(id: string, record: RecordReader, storage: SessionStorage): UploadSession {
    const identity = record.child('identity');
    const description = identity.child('description');
    const state: SessionIdentity = {
      id: identity.string('id'),
      uri: identity.string('uri'),
      bucket: identity.string('bucket'),
      name: identity.string('name'),
      dialect: identity.string('dialect') === 'redivis' ? 'redivis' : 'gcs',
      description: { contentType: description.string('contentType'), metadata: description.strings('metadata') },
    };
    const persisted = record.number('persisted');
    const object = record.object('object');
    const restored = { persisted, total: record.optionalNumber('total'), goneStatus: record.optionalNumber('goneStatus'), object: object && readObject(object) };
    return UploadSession.restore(state, storage, restored, this.store.readBytes(SESSIONS, id, 'data', persisted), this);
  }

  private loadUpload(id: string, record: RecordReader): OpenUpload {
    const partsRecord = record.child('parts');
    const parts = new Map<number, StoredPart>();
    for (const key of partsRecord.keys()) {
      const part = partsRecord.child(key);
      const data = this.store.readBytes(MULTIPART, id, `part-${key}`, part.number('size'));
      parts.set(Number(key), { data, etag: part.string('etag'), crc32c: part.string('crc32c'), md5: part.string('md5'), storedCrc32c: crc32cUpdate(data) });
    }
    const common = { id: record.string('id'), bucket: record.string('bucket'), name: record.string('name') };
    return { ...common, contentType: record.string('contentType'), metadata: record.strings('metadata'), parts, rules: [], uploads: 0, queries: 0 };
  }
}

function readObject(record: RecordReader): Omit<StoredObject, 'data'> {
  return {
    bucket: record.string('bucket'),
    name: record.string('name'),
    size: record.number('size'),
    md5Hash: record.optionalString('md5Hash'),
    crc32c: record.optionalString('crc32c'),
    generation: record.string('generation'),
    contentType: record.string('contentType'),
    metadata: record.strings('metadata'),
  };
}
