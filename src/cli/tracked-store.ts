/** A checkpoint store whose saves can be waited for, shared by `rws upload` and `rws cp`. */
import type { CheckpointStore } from '../index.js';

/** A store whose saves can be waited for: whether FILE holds a checkpoint is read only once they settle. */
export interface TrackedStore extends CheckpointStore {
  settled(): Promise<void>;
}

export function trackSaves(store: CheckpointStore): TrackedStore {
  let pending: Promise<unknown> = Promise.resolve();
  return {
    load: () => store.load(),
    clear: () => store.clear(),
    save(checkpoint) {
      const saving = store.save(checkpoint);
      pending = saving.catch(() => {});
      return saving;
    },
    async settled() {
      // A local file write; bounded anyway, so a stuck disk cannot hang the exit.
      const bound = new Promise<void>((resolve) => setTimeout(resolve, 5000).unref());
      await Promise.race([pending, bound]);
    },
  };
}
