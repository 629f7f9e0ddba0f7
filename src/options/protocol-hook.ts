/**
 * The hook through which a protocol validates its own option (`s3: { bucket, key, … }`): a
 * protocol with one adds a hook in its folder and one line to `PROTOCOL_OPTIONS`
 * (options/protocols.ts). Its resolved form then appears on `ResolvedOptions` under the
 * option's name.
 */
import type { ProtocolName } from '../protocol.js';

/** What a protocol's validator may depend on, already validated. */
export interface ProtocolOptionsContext {
  readonly allowInsecureHttp: boolean;
  /** A `checkpointStore` or a `resume` was given: the upload may be resumed later. */
  readonly resumable: boolean;
  /** The `headers` option, lower-cased and free of the headers the stream owns. */
  readonly headers: Readonly<Record<string, string>>;
  /** Parts in flight: `queueSize`, or the protocol's alias of it. */
  readonly queueSize: number;
  /** The `url` option (or the checkpoint's), validated: set when the hook `takesUrl`. */
  readonly url: string | undefined;
}

export interface ProtocolOptionsHook<Resolved> {
  /** The protocol the option configures; giving the option selects it when `protocol` is omitted. */
  readonly protocol: ProtocolName;
  /** The option's shape for messages, e.g. `{ bucket, key, … }`. */
  readonly shape: string;
  /**
   * The object is named by `url` (Azure: the blob URL, its SAS the credential): `url` is then
   * required (not a factory) and the protocol's own option optional.
   */
  readonly takesUrl?: boolean;
  /** A key of the option that sets `queueSize` too (`s3.queueSize`, from before `queueSize` was top-level). */
  readonly queueSizeAlias?: string;
  /** A RangeError naming `chunkSize` when the protocol can't use `size` as its (first) part size. */
  checkChunkSize(size: number): void;
  /** The option validated and resolved: TypeError/RangeError naming the field (`s3.bucket`). */
  validate(value: unknown, context: ProtocolOptionsContext): Resolved;
}
