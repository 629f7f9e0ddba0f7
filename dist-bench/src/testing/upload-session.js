/**
 * One resumable upload session of the test server, with GCS's persistence rules and no HTTP:
 * bytes are persisted append-only, overlap with persisted bytes is trimmed, a gap is refused,
 * interrupted requests persist in whole steps (256 KiB), and finalizing computes the object's
 * MD5 and CRC32C (base64, as GCS reports them).
 */
import { createHash } from 'node:crypto';
import { crc32c } from '@node-rs/crc32';
export class UploadSession {
    id;
    uri;
    bucket;
    name;
    contentType;
    rules;
    storeBytes;
    persistStep;
    persisted = 0;
    /** The object size, once a request declared it. */
    total;
    object;
    /** Set when the session is gone: the status every later request gets. */
    goneStatus;
    uploads = 0;
    queries = 0;
    chunks = [];
    md5 = createHash('md5');
    crc = 0;
    constructor(id, uri, bucket, name, contentType, rules, storeBytes, persistStep) {
        this.id = id;
        this.uri = uri;
        this.bucket = bucket;
        this.name = name;
        this.contentType = contentType;
        this.rules = rules;
        this.storeBytes = storeBytes;
        this.persistStep = persistStep;
    }
    get finalized() {
        return this.object !== undefined;
    }
    /**
     * Persists `bytes` received for object offset `start`. `complete` requests persist everything
     * new; interrupted ones (and `limit`ed ones) round down to the persistence step.
     */
    persist(start, bytes, complete, limit = Number.POSITIVE_INFINITY) {
        if (start > this.persisted)
            return { ok: false, reason: `gap: request starts at ${start}, ${this.persisted} bytes persisted` };
        const skip = this.persisted - start;
        if (this.storeBytes && skip > 0) {
            const overlap = bytes.subarray(0, Math.min(skip, bytes.length));
            if (!overlap.equals(this.read(start, start + overlap.length))) {
                return { ok: false, reason: `bytes ${start}-${start + overlap.length - 1} differ from the bytes already persisted` };
            }
        }
        if (skip >= bytes.length)
            return { ok: true };
        let fresh = bytes.subarray(skip, skip + Math.max(0, limit));
        if (!complete || fresh.length < bytes.length - skip) {
            const alignedEnd = Math.floor((this.persisted + fresh.length) / this.persistStep) * this.persistStep;
            fresh = fresh.subarray(0, Math.max(0, alignedEnd - this.persisted));
        }
        this.append(fresh);
        return { ok: true };
    }
    finalize(generation) {
        const digest = Buffer.alloc(4);
        digest.writeUInt32BE(this.crc >>> 0);
        this.object = {
            bucket: this.bucket,
            name: this.name,
            size: this.persisted,
            md5Hash: this.md5.digest('base64'),
            crc32c: digest.toString('base64'),
            data: this.storeBytes ? Buffer.concat(this.chunks) : undefined,
            generation,
            contentType: this.contentType,
        };
        this.chunks.length = 0;
        return this.object;
    }
    append(fresh) {
        if (fresh.length === 0)
            return;
        // Copy: the request's buffer belongs to the socket layer.
        if (this.storeBytes)
            this.chunks.push(Buffer.from(fresh));
        this.md5.update(fresh);
        this.crc = crc32c(fresh, this.crc);
        this.persisted += fresh.length;
    }
    read(start, end) {
        const parts = [];
        let offset = 0;
        for (const chunk of this.chunks) {
            const chunkEnd = offset + chunk.length;
            if (chunkEnd > start && offset < end)
                parts.push(chunk.subarray(Math.max(0, start - offset), Math.min(chunk.length, end - offset)));
            offset = chunkEnd;
        }
        return Buffer.concat(parts);
    }
}
