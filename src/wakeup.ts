/**
 * One parked party, woken by the other side: a driver's loop waits for data, a writer for room.
 * Coordination by awaited promises, not events. A wait after a failure rejects at
 * once, so an abort landing between a wake-up and the next wait can never park anyone.
 */
export class Wakeup {
  private parked: { resolve(): void; reject(error: Error): void } | undefined;

  /** Resolves at the next `wake()`; rejects with `failure` at once, or at `fail()`. */
  wait(failure: Error | undefined): Promise<void> {
    if (failure) return Promise.reject(failure);
    return new Promise((resolve, reject) => {
      this.parked = { resolve, reject };
    });
  }

  get isWaiting(): boolean {
    return this.parked !== undefined;
  }

  wake(): void {
    const parked = this.parked;
    this.parked = undefined;
    parked?.resolve();
  }

  fail(error: Error): void {
    const parked = this.parked;
    this.parked = undefined;
    parked?.reject(error);
  }
}
