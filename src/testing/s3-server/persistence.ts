/**
 * The S3 server's `directory` (disk-store.ts): multipart uploads and their parts (`s3-uploads/`)
 * and objects (`s3-objects/`), so a server started again on the same directory and port lists
 * the same parts, completes the same uploads and serves the same objects. The request log and
 * `completeErrorOnce` are the process's own.
 */
import { DiskStore, fileId, RecordReader } from '../disk-store.js';
import type { OpenUpload, StoredObject, StoredPart } from './wire.js';

const UPLOADS = 's3-uploads';
const OBJECTS = 's3-objects';

/** What the operations tell the directory (operations.ts). */
export interface S3Journal {
  saveUpload(uploadId: string, upload: OpenUpload): void;
  savePart(uploadId: string, upload: OpenUpload, partNumber: number, part: StoredPart): void;
  removeUpload(uploadId: string): void;
  saveObject(objectKey: string, object: StoredObject): void;
}

export class S3Persistence implements S3Journal {
  constructor(private readonly store: DiskStore) {}

  saveUpload(uploadId: string, upload: OpenUpload): void {
    const parts = Object.fromEntries([...upload.parts].map(([number, part]) => [number, { size: part.size, etag: part.etag, crc32c: part.crc32c }]));
    this.store.save(UPLOADS, uploadId, { objectKey: upload.objectKey, checksumAlgorithm: upload.checksumAlgorithm, headers: upload.headers, parts });
  }

  savePart(uploadId: string, upload: OpenUpload, partNumber: number, part: StoredPart): void {
    this.store.writeBytes(UPLOADS, uploadId, `part-${partNumber}`, part.data);
    this.saveUpload(uploadId, upload);
  }

  removeUpload(uploadId: string): void {
    this.store.remove(UPLOADS, uploadId);
  }

  saveObject(objectKey: string, object: StoredObject): void {
    const id = fileId(objectKey);
    this.store.writeBytes(OBJECTS, id, 'data', object.data);
    this.store.save(OBJECTS, id, { objectKey, size: object.data.length, etag: object.etag, headers: object.headers });
  }

  /** The uploads and objects the directory holds; a damaged file is a DamagedDirectoryError naming it. */
  load(): { uploads: Map<string, OpenUpload>; objects: Map<string, StoredObject> } {
    const uploads = new Map(this.store.records(UPLOADS).map(({ id, record, file }) => [id, this.loadUpload(id, new RecordReader(file, record))]));
    const objects = new Map(
      this.store.records(OBJECTS).map(({ id, record, file }) => {
        const reader = new RecordReader(file, record);
        const object = { data: this.store.readBytes(OBJECTS, id, 'data', reader.number('size')), etag: reader.string('etag'), headers: reader.strings('headers') };
        return [reader.string('objectKey'), object];
      }),
    );
    return { uploads, objects };
  }

  private loadUpload(id: string, record: RecordReader): OpenUpload {
    const partsRecord = record.child('parts');
    const parts = new Map<number, StoredPart>();
    for (const key of partsRecord.keys()) {
      const part = partsRecord.child(key);
      const size = part.number('size');
      parts.set(Number(key), { data: this.store.readBytes(UPLOADS, id, `part-${key}`, size), size, etag: part.string('etag'), crc32c: part.string('crc32c') });
    }
    return { objectKey: record.string('objectKey'), checksumAlgorithm: record.optionalString('checksumAlgorithm'), parts, headers: record.strings('headers') };
  }
}
