/**
 * What the CLI shows while uploading: on a terminal a live bar (cli-progress) on stderr; otherwise
 * a line per checkpoint on stderr; with --json one JSON object per event on stdout. None of them
 * prints the session URL (everything goes through output.ts).
 */
import cliProgress from 'cli-progress';
import type { RetryEvent, UploadProgress, UploadResult } from '../index.js';
import { err, out } from './output.js';
import { formatBytes } from './units.js';

export interface FailureSummary {
  readonly code: string;
  readonly message: string;
  readonly bytesCommitted: number;
  /** What the server holds, in a sentence. */
  readonly state: string;
  readonly note: string | undefined;
  /** A command that would resume, or undefined when none would. */
  readonly resume: string | undefined;
  readonly interrupted: boolean;
}

export interface DoneStats {
  readonly bytesWritten: number;
  readonly seconds: number;
  /** Bytes the server held before this process started (a resumed upload): not moved by it. */
  readonly resumedAt: number;
}

export interface Reporter {
  /** The upload knows where it starts (a resumed one after asking the server). */
  start(offset: number): void;
  progress(progress: UploadProgress): void;
  retry(event: RetryEvent): void;
  checkpoint(bytesCommitted: number): void;
  done(result: UploadResult | undefined, stats: DoneStats): void;
  failed(summary: FailureSummary): void;
}

export type ReporterMode = 'tty' | 'lines' | 'json';

const codeOf = (error: Error) => (error as { code?: unknown }).code ?? error.name;
const rate = (bytes: number, seconds: number) => `${formatBytes(seconds > 0 ? Math.max(0, bytes) / seconds : 0)}/s`;

/** Seconds since creation, and the bytes this process moved: what the server confirmed past where it started. */
class Clock {
  private readonly started = performance.now();
  startedAt = 0;
  seconds(): number {
    return (performance.now() - this.started) / 1000;
  }
  rate(bytesCommitted: number): string {
    return rate(bytesCommitted - this.startedAt, this.seconds());
  }
}

export function createReporter(mode: ReporterMode, totalSize: number | undefined): Reporter {
  const clock = new Clock();
  if (mode === 'json') return jsonReporter(clock);
  if (mode === 'lines') return lineReporter(clock);
  return barReporter(totalSize, clock);
}

function jsonReporter(clock: Clock): Reporter {
  const emit = (event: Record<string, unknown>) => out(`${JSON.stringify({ ...event, seconds: Number(clock.seconds().toFixed(3)) })}\n`);
  return {
    start: (offset) => {
      clock.startedAt = offset;
    },
    progress: (progress) => emit({ event: 'progress', ...progress }),
    retry: (event) => emit({ event: 'retry', attempt: event.attempt, code: codeOf(event.error), message: event.error.message, offset: event.offset, delayMs: event.delayMs }),
    checkpoint: (bytesCommitted) => emit({ event: 'checkpoint', bytesCommitted }),
    done: (result, stats) =>
      emit({ event: 'done', status: result?.status, bytesWritten: stats.bytesWritten, resumedAt: stats.resumedAt, verified: result?.verified ?? false, checksums: result?.checksums ?? {} }),
    failed: (summary) => emit({ event: summary.interrupted ? 'interrupted' : 'error', ...summary }),
  };
}

function lineReporter(clock: Clock): Reporter {
  let written = 0;
  let lastLine = '';
  return {
    start: (offset) => {
      clock.startedAt = offset;
    },
    progress: (progress) => {
      written = progress.bytesWritten;
    },
    retry: (event) => err(`retry ${event.attempt} after ${String(codeOf(event.error))} at ${formatBytes(event.offset)} committed: waiting ${event.delayMs} ms\n`),
    checkpoint: (bytesCommitted) => {
      // A line only when what it says changes: GiB shown to a tenth repeat over several chunks.
      // The checkpoint saved before the first byte (offset 0) reports no progress.
      const line = `committed ${formatBytes(bytesCommitted)} (written ${formatBytes(Math.max(written, bytesCommitted))}`;
      if (bytesCommitted === 0 || line === lastLine) return;
      lastLine = line;
      err(`${line}, ${clock.rate(bytesCommitted)})\n`);
    },
    done: (result, stats) => out(`${doneLine(result, stats)}\n`),
    failed: (summary) => err(failedText(summary)),
  };
}

function barReporter(totalSize: number | undefined, clock: Clock): Reporter {
  const known = totalSize !== undefined && totalSize > 0;
  const bar = new cliProgress.SingleBar(
    {
      format: known
        ? '{bar} {percentage}% | written {written} | sent {sent} | committed {committed} | {rate} | retries {retries} | ETA {eta_formatted}'
        : 'written {written} | sent {sent} | committed {committed} | {rate} | retries {retries}',
      hideCursor: true,
      fps: 10,
      stream: process.stderr,
      barsize: 24,
    },
    cliProgress.Presets.shades_classic,
  );
  let retries = 0;
  let started = false;
  let last: UploadProgress = { bytesWritten: 0, bytesSent: 0, bytesCommitted: 0 };
  // The bar and the rate follow the bytes sent, which move between acknowledgements.
  const payload = (progress: UploadProgress) => ({
    written: formatBytes(progress.bytesWritten),
    sent: formatBytes(progress.bytesSent),
    committed: formatBytes(progress.bytesCommitted),
    rate: clock.rate(progress.bytesSent),
    retries,
  });
  const update = (progress: UploadProgress) => {
    last = progress;
    if (started) bar.update(known ? progress.bytesSent : 0, payload(progress));
  };
  return {
    start: (offset) => {
      clock.startedAt = offset;
      // Started at the resumed offset, so the ETA counts only what is left to move.
      bar.start(known ? (totalSize as number) : 1, known ? offset : 0, payload({ bytesWritten: offset, bytesSent: offset, bytesCommitted: offset }));
      started = true;
    },
    progress: update,
    retry: () => {
      retries++;
      update(last);
    },
    checkpoint: () => {},
    done: (result, stats) => {
      update({ bytesWritten: stats.bytesWritten, bytesSent: stats.bytesWritten, bytesCommitted: stats.bytesWritten });
      bar.stop();
      out(`${doneLine(result, stats)}\n`);
    },
    failed: (summary) => {
      bar.stop();
      err(failedText(summary));
    },
  };
}

function doneLine(result: UploadResult | undefined, stats: DoneStats): string {
  const digests = result?.verified ? `, ${Object.keys(result.checksums).join(' and ')} verified` : result && Object.keys(result.checksums).length > 0 ? ', checksum not reported by the server' : '';
  const moved = stats.bytesWritten - stats.resumedAt;
  const speed = stats.resumedAt > 0 ? `resumed at ${formatBytes(stats.resumedAt)}: ${formatBytes(moved)} at ${rate(moved, stats.seconds)}` : rate(moved, stats.seconds);
  return `uploaded ${formatBytes(stats.bytesWritten)} in ${stats.seconds.toFixed(1)} s (${speed}): ${result?.status ?? '?'}${digests}`;
}

function failedText(summary: FailureSummary): string {
  const head = summary.interrupted ? `rws: interrupted; ${summary.state}` : `rws: upload failed: ${summary.code}: ${summary.message}\nrws: ${summary.state}`;
  const note = summary.note ? `\nrws: ${summary.note}` : '';
  const tail = summary.resume ? `\nrws: to resume, run the same input through:\n  ${summary.resume}` : '';
  return `${head}${note}${tail}\n`;
}
