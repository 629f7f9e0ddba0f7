/** `rws upload --resume FILE`: reading the checkpoint file, and telling whether two session URLs are one. */
import { readFileSync } from 'node:fs';
import { parseCheckpoint, type Checkpoint } from '../index.js';
import { UsageError } from './units.js';

/** The checkpoint in a --resume file; undefined when there is none (a finished upload removes it). */
export function readCheckpointFile(file: string): Checkpoint | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`--resume ${file}: cannot read it (${String((error as NodeJS.ErrnoException).code)})`);
  }
  try {
    return parseCheckpoint(JSON.parse(text));
  } catch (error) {
    // JSON.parse quotes the text it choked on, and the file holds the session URL: not repeated.
    const why = error instanceof SyntaxError ? 'not JSON' : (error as Error).message.replace(/`/g, '');
    throw new UsageError(`--resume ${file} is not a checkpoint file (${why})`);
  }
}

/** Whether two session URLs name the same session (normalized as URLs when they parse). */
export function sameUrl(a: string, b: string): boolean {
  try {
    return new URL(a).href === new URL(b).href;
  } catch {
    return a === b;
  }
}
