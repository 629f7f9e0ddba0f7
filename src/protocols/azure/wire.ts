/**
 * Azure Block Blobs on the wire, with no I/O: where the blob is (account, container, name), the
 * service's limits, block ids, the XML of Put Block List and Get Block List, and Azure's error
 * answers. The only file that knows the Blob service's XML; azure/adapter.ts drives it.
 *
 * A block blob is written by staging blocks (Put Block, in any order and in parallel) under the
 * blob's name and committing an ordered list of their ids (Put Block List). Staged blocks are
 * invisible until committed; there is no upload object to create or delete, so an upload here is
 * just a prefix that every block id of one stream carries.
 */
import { randomBytes } from 'node:crypto';
import { parseXml } from '../xml.js';
import type { PartLimits } from '../../parts/protocol.js';

/** The REST version every request asks for (x-ms-version): accepted by Azure and by Azurite 3.35. */
export const AZURE_VERSION = '2025-01-05';

const MiB = 1024 * 1024;

/** Azure's largest block blob: 50,000 blocks of 4,000 MiB, about 190.7 TiB. */
export const AZURE_MAX_BLOB_SIZE = 50_000 * 4000 * MiB;

/**
 * The Blob service's limits (version 2019-12-12 and later): 50,000 blocks of at most 4,000 MiB;
 * Azure sets no smallest block. `maxObjectSize` is what the block-size schedule is made to reach,
 * not Azure's largest blob: only 50,000 blocks of 4,000 MiB reach that, which a schedule that
 * starts small can't. 100 TiB makes blocks double every 700 (parts/plan.ts), so 50,000 blocks
 * hold at least 100 TiB from any first block size, and about 169 TiB from 8 MiB.
 */
export const AZURE_LIMITS: PartLimits = {
  minPartSize: 1,
  maxPartSize: 4000 * MiB,
  maxParts: 50_000,
  maxObjectSize: 100 * 1024 * 1024 * MiB,
};

/** Where the blob is, from its URL. */
export interface BlobTarget {
  /** The blob's URL as given (a SAS in its query stays there: it is the credential). */
  readonly url: string;
  readonly account: string;
  readonly container: string;
  readonly blob: string;
  /** Whether the query carries a SAS (`sig`). */
  readonly hasSas: boolean;
}

/**
 * The account comes from the host when it is `ACCOUNT.blob.…` (Azure and its national clouds),
 * otherwise from the first path segment, as emulators address it
 * (`http://127.0.0.1:10000/devstoreaccount1/container/blob`). Undefined when the path has no
 * container and blob name.
 */
export function parseBlobUrl(url: string): BlobTarget | undefined {
  const parsed = new URL(url);
  const labels = parsed.hostname.split('.');
  const segments = parsed.pathname.split('/').slice(1);
  const hostStyle = labels.length > 2 && labels[1] === 'blob';
  const account = hostStyle ? labels[0] : segments.shift();
  const [container, ...name] = segments;
  if (!account || !container || name.length === 0 || name.join('/') === '') return undefined;
  return { url: parsed.href, account: decodeURIComponent(account), container: decodeURIComponent(container), blob: decodeURIComponent(name.join('/')), hasSas: parsed.searchParams.has('sig') };
}

/** The blob's URL with `params` appended to its query: a SAS already there is kept byte for byte. */
export function withQuery(url: string, params: Readonly<Record<string, string>>): string {
  const parsed = new URL(url);
  const added = Object.entries(params).map(([name, value]) => `${name}=${encodeURIComponent(value)}`);
  const query = [parsed.search.slice(1), ...added].filter((part) => part !== '').join('&');
  return `${parsed.origin}${parsed.pathname}?${query}`;
}

/** Where a checkpoint's URL names the upload (never sent to Azure). */
export const UPLOAD_PARAM = 'rwsUploadId';

/** A new upload id: 16 hex characters, the prefix of every block id of one stream. */
export function newUploadId(): string {
  return randomBytes(8).toString('hex');
}

const UPLOAD_ID = /^[0-9a-f]{16}$/;
const BLOCK_NUMBER_DIGITS = 7;
const MD5_BYTES = 16;
const NO_MD5 = Buffer.alloc(MD5_BYTES);

export function isUploadId(value: string): boolean {
  return UPLOAD_ID.test(value);
}

/**
 * Block `partNumber` of upload `uploadId`, holding bytes whose MD5 is `md5` (base64; zeros when
 * none was computed): base64 of the upload id, the zero-padded number and the raw MD5. 39 bytes for
 * every block, 52 characters without padding: Azure requires one id length for all blocks of a
 * blob. The MD5 in the id is what lets a resume keep a block: Get Block List gives no digest.
 */
export function blockId(uploadId: string, partNumber: number, md5?: string): string {
  const digest = md5 === undefined ? NO_MD5 : Buffer.from(md5, 'base64');
  return Buffer.concat([Buffer.from(`${uploadId}${String(partNumber).padStart(BLOCK_NUMBER_DIGITS, '0')}`, 'latin1'), digest]).toString('base64');
}

export interface ParsedBlockId {
  readonly partNumber: number;
  /** Hex MD5 of the block's bytes, when the id carries one. */
  readonly md5Hex: string | undefined;
}

/** The part number (and MD5) a block id of upload `uploadId` names; undefined for another upload's block. */
export function parseBlockId(id: string, uploadId: string): ParsedBlockId | undefined {
  const raw = Buffer.from(id, 'base64');
  const prefix = raw.subarray(0, uploadId.length + BLOCK_NUMBER_DIGITS).toString('latin1');
  if (raw.length !== uploadId.length + BLOCK_NUMBER_DIGITS + MD5_BYTES || !prefix.startsWith(uploadId)) return undefined;
  const digits = prefix.slice(uploadId.length);
  if (!/^\d+$/.test(digits) || Number(digits) < 1) return undefined;
  const digest = raw.subarray(prefix.length);
  return { partNumber: Number(digits), md5Hex: digest.equals(NO_MD5) ? undefined : digest.toString('hex') };
}

/** The body of Put Block List: every block as `<Latest>`, so a retry after a lost answer commits the same blocks again. */
export function blockListBody(ids: readonly string[]): string {
  return `<?xml version="1.0" encoding="utf-8"?><BlockList>${ids.map((id) => `<Latest>${id}</Latest>`).join('')}</BlockList>`;
}

export interface ListedBlock {
  readonly name: string;
  readonly size: number;
}

export interface BlockLists {
  readonly committed: readonly ListedBlock[];
  readonly uncommitted: readonly ListedBlock[];
}

/** Get Block List's answer; undefined when the body is not a `<BlockList>` (or a block lacks its name or size). */
export function parseBlockLists(body: string): BlockLists | undefined {
  const list = parseXml(body)['BlockList'] as { CommittedBlocks?: unknown; UncommittedBlocks?: unknown } | undefined | '';
  if (list === undefined) return undefined;
  const committed = blocksOf(list === '' ? undefined : list.CommittedBlocks);
  const uncommitted = blocksOf(list === '' ? undefined : list.UncommittedBlocks);
  return committed && uncommitted ? { committed, uncommitted } : undefined;
}

function blocksOf(section: unknown): ListedBlock[] | undefined {
  if (section === undefined || section === '') return [];
  const raw = (section as { Block?: unknown }).Block;
  const items = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const blocks: ListedBlock[] = [];
  for (const item of items as Array<{ Name?: unknown; Size?: unknown }>) {
    const size = Number(item.Size);
    if (typeof item.Name !== 'string' || !Number.isSafeInteger(size)) return undefined;
    blocks.push({ name: item.Name, size });
  }
  return blocks;
}

export interface AzureErrorBody {
  readonly code: string;
  readonly message: string;
}

/** Azure's error: the `x-ms-error-code` header (also on HEAD, which has no body), else the body's `<Error><Code>`. */
export function parseAzureError(headers: Readonly<Record<string, string | undefined>>, body: string): AzureErrorBody | undefined {
  const error = parseXml(body)['Error'] as { Code?: unknown; Message?: unknown } | undefined;
  const code = headers['x-ms-error-code'] ?? (typeof error?.Code === 'string' ? error.Code : undefined);
  if (code === undefined) return undefined;
  const message = typeof error?.Message === 'string' ? error.Message.split('\n')[0] ?? '' : '';
  return { code, message };
}
