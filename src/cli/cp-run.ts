/**
 * Running `rws cp`: the source through an optional gzip into the stream, the reporter, and
 * signals. SIGINT/SIGTERM abort by default (nothing finalized; with --checkpoint the same command
 * resumes). With --finalize-on-signal the first one ends the input instead, so a live source
 * (`journalctl -f`) becomes a complete object of what was read; a second one aborts.
 */
import { existsSync, createReadStream } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { createResumableWriteStream, ResumableUploadError, type ResumableWriteStream, type ResumableWriteStreamOptions } from '../index.js';
import { CP_FLAGS, err, inFlags } from './output.js';
import { createReporter, type FailureSummary, type ReporterMode } from './reporters.js';
import type { TrackedStore } from './tracked-store.js';
import { UsageError } from './units.js';

export interface CopyPlan {
  readonly options: ResumableWriteStreamOptions;
  /** A file path, or '-' for stdin. */
  readonly input: string;
  readonly gzip: boolean;
  readonly finalizeOnSignal: boolean;
  readonly checkpointFile: string | undefined;
  /** Whether the checkpoint file held this destination's checkpoint. */
  readonly resumed: boolean;
  readonly mode: ReporterMode;
}

const EXIT_ON_SIGNAL = { SIGINT: 130, SIGTERM: 143 } as const;
type StopSignal = keyof typeof EXIT_ON_SIGNAL;

export async function runCopy(plan: CopyPlan): Promise<number> {
  const controller = new AbortController();
  let stream: ResumableWriteStream;
  try {
    stream = createResumableWriteStream({ ...plan.options, signal: controller.signal });
  } catch (error) {
    throw new UsageError(inFlags((error as Error).message, CP_FLAGS));
  }
  const source: Readable = plan.input === '-' ? process.stdin : createReadStream(plan.input);
  // The source is piped into a gate, not into the pipeline: ending the gate ends the input
  // cleanly (gzip writes its trailer) while the source itself is left behind.
  const gate = new PassThrough();
  source.on('error', (error) => gate.destroy(error));
  source.pipe(gate);
  const signals = watchSignals(plan, controller, () => {
    source.unpipe(gate);
    source.destroy();
    gate.end();
  });
  const reporter = report(plan, stream);
  const started = performance.now();
  try {
    await (plan.gzip ? pipeline(gate, createGzip(), stream) : pipeline(gate, stream));
    reporter.done(stream.result, { bytesWritten: stream.bytesWritten, seconds: (performance.now() - started) / 1000, resumedAt: reporter.resumedAt() });
    return 0;
  } catch (error) {
    source.destroy();
    await (plan.options.checkpointStore as TrackedStore | undefined)?.settled();
    const interrupted = signals.abortedBy();
    reporter.failed(describeFailure(plan, error as Error, stream.bytesCommitted, interrupted));
    return interrupted === undefined ? 1 : EXIT_ON_SIGNAL[interrupted];
  } finally {
    signals.stop();
  }
}

/** The first signal finalizes (with --finalize-on-signal) or aborts; a second one always aborts. */
function watchSignals(plan: CopyPlan, controller: AbortController, endInput: () => void) {
  let finishing = false;
  let abortedBy: StopSignal | undefined;
  const on = (signal: StopSignal) => () => {
    if (plan.finalizeOnSignal && !finishing) {
      finishing = true;
      err(`rws: ${signal}: ending the input here and finalizing the object (${signal} again aborts instead)\n`);
      endInput();
      return;
    }
    abortedBy ??= signal;
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  const handlers = { SIGINT: on('SIGINT'), SIGTERM: on('SIGTERM') };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, handlers[signal]);
  return {
    abortedBy: () => abortedBy,
    stop() {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.off(signal, handlers[signal]);
    },
  };
}

function report(plan: CopyPlan, stream: ResumableWriteStream) {
  const reporter = createReporter(plan.mode, plan.options.totalSize);
  // Bytes the server held before this process moved any are not in its rate.
  const floor = typeof plan.options.resume === 'object' ? plan.options.resume.bytesCommitted : 0;
  let startedAt = 0;
  stream.committedOffset().then(
    (offset) => {
      startedAt = Math.max(offset, floor);
      reporter.start(startedAt);
    },
    () => {},
  );
  stream.on('progress', (progress) => reporter.progress(progress));
  stream.on('retry', (event) => reporter.retry(event));
  stream.on('checkpoint', (checkpoint) => reporter.checkpoint(checkpoint.bytesCommitted));
  return { ...reporter, resumedAt: () => startedAt };
}

/** Codes after which running the same command again cannot work. */
const NOT_RESUMABLE = new Set(['RWS_SESSION_EXPIRED', 'RWS_RESUME_MISMATCH', 'RWS_CHECKSUM_MISMATCH', 'RWS_PROTOCOL', 'RWS_SIZE_MISMATCH']);

/** What to tell the user; never the session URL, nor the command line (it may hold --token). */
function describeFailure(plan: CopyPlan, failure: Error, bytesCommitted: number, interrupted: StopSignal | undefined): FailureSummary {
  const code = failure instanceof ResumableUploadError ? failure.code : String((failure as { code?: unknown }).code ?? failure.name);
  const file = plan.checkpointFile;
  const saved = file !== undefined && existsSync(file);
  const resumable = interrupted !== undefined || !NOT_RESUMABLE.has(code);
  const resume = resumable && saved ? `the same rws cp command (${file} holds the checkpoint)` : undefined;
  const note =
    !resumable ? undefined
    : file === undefined ? 'without --checkpoint FILE this upload cannot be resumed: the next run starts over.'
    : saved ? undefined
    : `no checkpoint was saved at ${file}.`;
  const state = failure instanceof ResumableUploadError && failure.storedSize !== undefined
    ? `the server holds a finalized object of ${failure.storedSize} bytes that is not this input.`
    : `${bytesCommitted} bytes were committed and nothing was finalized.`;
  return { code, message: inFlags(failure.message, CP_FLAGS), bytesCommitted, interrupted: interrupted !== undefined, state, note, resume };
}
