/**
 * What the CLI shows while uploading: on a terminal a live bar (cli-progress) on stderr; otherwise
 * a line per checkpoint on stderr; with --json one JSON object per event on stdout. None of them
 * prints the session URL.
 */
import cliProgress from 'cli-progress';
import type { RetryEvent, UploadProgress, UploadResult } from '../index.js';
import { formatBytes } from './units.js';

export interface Reporter {
  progress(progress: UploadProgress): void;
  retry(event: RetryEvent): void;
  checkpoint(bytesCommitted: number): void;
  done(result: UploadResult | undefined, stats: { bytesWritten: number; seconds: number }): void;
  failed(summary: { code: string; message: string; bytesCommitted: number; resume: string | undefined; interrupted: boolean }): void;
}

export type ReporterMode = 'tty' | 'lines' | 'json';

const codeOf = (error: Error) => (error as { code?: unknown }).code ?? error.name;
const rate = (bytes: number, seconds: number) => `${formatBytes(seconds > 0 ? bytes / seconds : 0)}/s`;

export function createReporter(mode: ReporterMode, totalSize: number | undefined): Reporter {
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  if (mode === 'json') return jsonReporter(elapsed);
  if (mode === 'lines') return lineReporter(elapsed);
  return barReporter(totalSize, elapsed);
}

function jsonReporter(elapsed: () => number): Reporter {
  const emit = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ ...event, seconds: Number(elapsed().toFixed(3)) })}\n`);
  return {
    progress: (progress) => emit({ event: 'progress', ...progress }),
    retry: (event) => emit({ event: 'retry', attempt: event.attempt, code: codeOf(event.error), message: event.error.message, offset: event.offset, delayMs: event.delayMs }),
    checkpoint: (bytesCommitted) => emit({ event: 'checkpoint', bytesCommitted }),
    done: (result, stats) => emit({ event: 'done', status: result?.status, bytesWritten: stats.bytesWritten, verified: result?.verified ?? false, checksums: result?.checksums ?? {} }),
    failed: (summary) => emit({ event: summary.interrupted ? 'interrupted' : 'error', ...summary }),
  };
}

function lineReporter(elapsed: () => number): Reporter {
  let written = 0;
  return {
    progress: (progress) => {
      written = progress.bytesWritten;
    },
    retry: (event) =>
      process.stderr.write(`retry ${event.attempt} after ${String(codeOf(event.error))} at ${formatBytes(event.offset)} committed: waiting ${event.delayMs} ms\n`),
    checkpoint: (bytesCommitted) =>
      process.stderr.write(`committed ${formatBytes(bytesCommitted)} (written ${formatBytes(written)}, ${rate(bytesCommitted, elapsed())})\n`),
    done: (result, stats) => process.stdout.write(`${doneLine(result, stats)}\n`),
    failed: (summary) => process.stderr.write(failedText(summary)),
  };
}

function barReporter(totalSize: number | undefined, elapsed: () => number): Reporter {
  const known = totalSize !== undefined && totalSize > 0;
  const bar = new cliProgress.SingleBar(
    {
      format: known
        ? '{bar} {percentage}% | written {written} | committed {committed} | {rate} | retries {retries} | ETA {eta_formatted}'
        : 'written {written} | committed {committed} | {rate} | retries {retries}',
      hideCursor: true,
      fps: 10,
      stream: process.stderr,
      barsize: 24,
    },
    cliProgress.Presets.shades_classic,
  );
  let retries = 0;
  const payload = (progress: UploadProgress) => ({
    written: formatBytes(progress.bytesWritten),
    committed: formatBytes(progress.bytesCommitted),
    rate: rate(progress.bytesCommitted, elapsed()),
    retries,
  });
  bar.start(known ? totalSize : 1, 0, payload({ bytesWritten: 0, bytesCommitted: 0 }));
  let last: UploadProgress = { bytesWritten: 0, bytesCommitted: 0 };
  return {
    progress: (progress) => {
      last = progress;
      bar.update(known ? progress.bytesCommitted : 0, payload(progress));
    },
    retry: () => {
      retries++;
      bar.update(payload(last));
    },
    checkpoint: () => {},
    done: (result, stats) => {
      bar.update(known ? (totalSize as number) : 1, payload({ bytesWritten: stats.bytesWritten, bytesCommitted: stats.bytesWritten }));
      bar.stop();
      process.stdout.write(`${doneLine(result, stats)}\n`);
    },
    failed: (summary) => {
      bar.stop();
      process.stderr.write(failedText(summary));
    },
  };
}

function doneLine(result: UploadResult | undefined, stats: { bytesWritten: number; seconds: number }): string {
  const digests = result?.verified ? `, ${Object.keys(result.checksums).join(' and ')} verified` : result && Object.keys(result.checksums).length > 0 ? ', checksum not reported by the server' : '';
  return `uploaded ${formatBytes(stats.bytesWritten)} in ${stats.seconds.toFixed(1)} s (${rate(stats.bytesWritten, stats.seconds)}): ${result?.status ?? '?'}${digests}`;
}

function failedText(summary: { code: string; message: string; bytesCommitted: number; resume: string | undefined; interrupted: boolean }): string {
  const head = summary.interrupted
    ? `rws: interrupted; ${summary.bytesCommitted} bytes were committed and nothing was finalized.`
    : `rws: upload failed: ${summary.code}: ${summary.message}\nrws: ${summary.bytesCommitted} bytes were committed; nothing was finalized.`;
  const tail = summary.resume ? `\nrws: to resume, run the same input through:\n  ${summary.resume}` : '';
  return `${head}${tail}\n`;
}
