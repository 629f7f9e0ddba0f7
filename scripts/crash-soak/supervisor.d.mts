// Types of supervisor.mjs, for test/integration/crash-soak.test.ts.
export type Moment = 'before-first-byte' | 'mid-chunk' | 'after-checkpoint' | 'checkpoint-write' | 'final-request' | 'random-delay' | 'none';
export type ObjectKind = 'crash' | 'corrupt-checkpoint' | 'full-filesystem';
export type ProtocolName = 'gcs' | 'tus' | 's3' | 'gcs-multipart' | 'azure';

export interface MomentCounts {
  attempts: number;
  kills: number;
  inWindow: number;
  outran: number;
  serverActed: number;
}

export interface ObjectRecord {
  protocol: ProtocolName;
  index: number;
  seed: number;
  kind: ObjectKind;
  size: number;
  attempts: number;
  kills: number;
  killsInWindow: number;
  moments: Partial<Record<Moment, MomentCounts>>;
  exitCodes: Record<string, number>;
  completed: boolean;
  storedExactly: boolean;
  freshRestarts: number;
  typedFailures: Array<{ code: string; message: string }>;
  expectedFailures: Array<{ code: string; message: string }>;
  untypedCrashes: number;
  hangs: number;
  leftoverTemporaryFiles: number;
  checkpointLeft: boolean;
  /** S3: `key`; gcs-multipart: `name`; Azure: the uploads whose blocks are staged, not committed. */
  orphanUploads: Array<{ uploadId: string; key?: string; name?: string; parts: number }>;
  /** Uploads with parts seen after a kill that left no checkpoint. */
  stagedWithoutCheckpoint: number;
  corrupted: number;
  wronglyFinalized: number;
  skipped: string | undefined;
  damage?: string;
  finalizedBeforeRefusal?: boolean;
  noCheckpointNeeded?: boolean;
  killedAfterFinish?: boolean;
  variant?: string;
  problems: string[];
}

export interface RunOptions {
  seed: number;
  kills?: number;
  minutes?: number;
  maxObjects?: number;
  workers?: number;
  objects?: number[];
  maxKills?: number;
  rotate?: boolean;
  onRecord?: (record: ObjectRecord) => void;
}

export interface Summary {
  protocol: string;
  objects: number;
  skipped: number;
  attempts: number;
  kills: number;
  killsInWindow: number;
  storedExactly: number;
  typedFailures: number;
  expectedTypedFailures: number;
  refusalsAfterFinal: number;
  noCheckpointNeeded: number;
  killedAfterFinish: number;
  untypedCrashes: number;
  hangs: number;
  leftoverTemporaryFiles: number;
  checkpointsLeft: number;
  orphanUploads: number;
  orphanUploadsWithParts: number;
  stagedWithoutCheckpoint: number;
  freshRestarts: number;
  corrupted: number;
  wronglyFinalized: number;
  exitCodes: Record<string, number>;
  moments: Record<Moment, MomentCounts & { objects: number; storedExactly: number }>;
  byKind: Partial<Record<ObjectKind, { objects: number; skipped: number; storedExactly: number; kills: number; expectedFailures: Record<string, number> }>>;
  problems: Array<{ index: number; kind: ObjectKind; seed: number; problems: string[] }>;
}

export function kindOf(index: number): ObjectKind;
export function runProtocol(name: ProtocolName, options: RunOptions): Promise<ObjectRecord[]>;
export function summarize(name: string, records: ObjectRecord[]): Summary;
