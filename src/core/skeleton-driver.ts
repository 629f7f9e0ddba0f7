/**
 * What both drivers expose of the shared skeleton, once: the retained bytes (the ledger's replay
 * buffer) and the upload's life (ready, failed). A driver holds its own `life` and `ledger`.
 */
import type { CommittedLedger } from './ledger.js';
import type { Lifecycle } from './lifecycle.js';

export abstract class SkeletonDriver {
  protected abstract readonly life: Lifecycle;
  protected abstract readonly ledger: CommittedLedger;

  get buffer(): { readonly bytesRetained: number } {
    return this.ledger.buffer;
  }

  get peakBytesRetained(): number {
    return this.ledger.peakBytesRetained;
  }

  get ready(): Promise<number> {
    return this.life.ready;
  }

  get isReady(): boolean {
    return this.life.isReady;
  }

  get failed(): Error | undefined {
    return this.life.failed;
  }
}
