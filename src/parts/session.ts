/**
 * The multipart upload on the server, as the parts driver holds it: created once and lazily (by
 * the first part), or resumed from a checkpoint; aborted at most once.
 */
import type { PartsCaller } from './call.js';
import type { PartsProtocol } from './protocol.js';

export class PartsSession {
  uploadId: string | undefined;
  /** The checkpoint naming a new upload could not be saved: nothing can resume it, so it is aborted. */
  unrecorded = false;
  private creating: Promise<string> | undefined;
  private aborting: Promise<number | undefined> | undefined;

  /** `onCreated` cuts the checkpoint naming the upload and waits for its save. */
  constructor(
    private readonly protocol: PartsProtocol,
    private readonly call: PartsCaller,
    private readonly onCreated: () => Promise<void>,
  ) {}

  /** The upload's URL (credentials included), once there is an upload. */
  get url(): string | undefined {
    return this.uploadId === undefined ? undefined : this.protocol.sessionUrl(this.uploadId);
  }

  resumed(uploadId: string): void {
    this.uploadId = uploadId;
    this.creating = Promise.resolve(uploadId);
  }

  ensure(): Promise<string> {
    this.creating ??= this.create();
    return this.creating;
  }

  /** Cancels the upload on the server, once; undefined when none was created. */
  abortOnServer(): Promise<number | undefined> {
    this.aborting ??= this.abortOnce();
    return this.aborting;
  }

  /**
   * Creates the upload, then saves a checkpoint naming it before any part goes: a process killed
   * from here on leaves a checkpoint that resumes this upload, never an orphan.
   */
  private async create(): Promise<string> {
    this.uploadId = await this.protocol.create(this.call.forCreation());
    await this.onCreated().catch((error: unknown) => {
      this.unrecorded = true;
      throw error;
    });
    return this.uploadId;
  }

  private async abortOnce(): Promise<number | undefined> {
    await this.creating?.catch(() => undefined);
    // Known even when the create failed after it (its checkpoint was not saved).
    if (this.uploadId === undefined) return undefined;
    return this.protocol.abort(this.call, this.uploadId);
  }
}
