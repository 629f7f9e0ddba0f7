/**
 * The crash soak's fixed, seeded short run (the long one is `npm run soak:crash`, see
 * RELIABILITY.md): per protocol, uploads through child processes SIGKILLed at each of the
 * moments (before the first byte, mid-chunk, right after a checkpoint, while the checkpoint file
 * is written, between the final request and its answer, at a random delay) and resumed from
 * their checkpoint file until done; one resume from a damaged checkpoint file and one with the
 * checkpoint store on a full tmpfs. Every object must be stored exactly, nothing left behind.
 */
import { describe, expect, it } from 'vitest';
import { runProtocol, summarize } from '../../scripts/crash-soak/supervisor.mjs';

const SEED = 20261130;
// Objects 0 and 1 crash (three kills each, rotating through the six moments), 3 resumes from a
// damaged checkpoint, 7 saves to a full filesystem.
const OBJECTS = [0, 1, 3, 7];

describe.each(['gcs', 'tus', 's3', 'gcs-multipart', 'azure'] as const)('crash soak, %s', (protocol) => {
  it(`seed ${SEED}: every object stored exactly after SIGKILLs at every moment; no temporary file, open upload, hang or untyped exit`, async () => {
    const records = await runProtocol(protocol, { seed: SEED, objects: OBJECTS, maxKills: 3, rotate: true, workers: 2 });
    const summary = summarize(protocol, records);
    const reproduce = `npm run soak:crash -- --seed ${SEED} --protocols ${protocol} --objects ${OBJECTS.join(',')}`;
    expect(summary.problems, reproduce).toEqual([]);
    const ran = records.filter((record) => record.skipped === undefined);
    expect(summary.storedExactly, reproduce).toBe(ran.length);
    expect(summary, reproduce).toMatchObject({
      typedFailures: 0,
      untypedCrashes: 0,
      hangs: 0,
      leftoverTemporaryFiles: 0,
      checkpointsLeft: 0,
      orphanUploadsWithParts: 0,
      stagedWithoutCheckpoint: 0,
      corrupted: 0,
      wronglyFinalized: 0,
    });
    expect(Object.keys(summary.exitCodes).every((exit) => ['0', '1', 'SIGKILL'].includes(exit)), JSON.stringify(summary.exitCodes)).toBe(true);
    expect(summary.kills).toBeGreaterThan(0);
    // The damaged checkpoint and the full disk end in RWS_CHECKPOINT, unless the first process
    // outran its kill (nothing to damage), the killed process had finished, or one PutObject
    // needed no checkpoint.
    const refusing = ran.filter(
      (each) =>
        each.kind !== 'crash' &&
        (each.kills > 0 || each.variant === 'full from the start') &&
        each.damage !== 'none (no file yet)' &&
        !each.finalizedBeforeRefusal &&
        !each.noCheckpointNeeded,
    );
    for (const record of refusing) {
      expect(record.expectedFailures.map((failure) => failure.code), `${record.kind} #${record.index}`).toEqual(['RWS_CHECKPOINT']);
    }
  }, 120_000);
});
