/**
 * `protocol`, each protocol's own option and `queueSize`. A protocol with an option of its own
 * (every parts protocol: where the object goes) is one line in `PROTOCOL_OPTIONS`; the option's
 * name selects the protocol when `protocol` is omitted, and the validator is the protocol's.
 */
import type { ProtocolName } from '../protocol.js';
import { isOffsetProtocolName, PROTOCOLS } from '../protocols/index.js';
import { AZURE_OPTIONS } from '../protocols/azure/options.js';
import { S3_OPTIONS } from '../protocols/s3/options.js';
import { GCS_MULTIPART_OPTIONS } from '../protocols/gcs-multipart/options.js';
import { DEFAULT_QUEUE_SIZE } from './defaults.js';
import { describe, expectObject, optionalInteger } from './expect.js';
import type { ProtocolOptionsHook } from './protocol-hook.js';

/** Option name → the hook of the protocol it configures. */
export const PROTOCOL_OPTIONS = {
  s3: S3_OPTIONS,
  azure: AZURE_OPTIONS,
  gcs: GCS_MULTIPART_OPTIONS,
} as const satisfies Readonly<Record<string, ProtocolOptionsHook<unknown>>>;

type ProtocolOption = keyof typeof PROTOCOL_OPTIONS;
type ResolvedBy<Hook> = Hook extends ProtocolOptionsHook<infer Resolved> ? Resolved : never;

/** Each protocol's resolved option, under the option's name: set for the protocol in use only. */
export type ResolvedProtocolOptions = { readonly [Option in ProtocolOption]: ResolvedBy<(typeof PROTOCOL_OPTIONS)[Option]> | undefined };

const OPTION_NAMES = Object.keys(PROTOCOL_OPTIONS) as ProtocolOption[];
const PROTOCOL_NAMES: readonly string[] = [...Object.keys(PROTOCOLS), ...OPTION_NAMES.map((option) => PROTOCOL_OPTIONS[option].protocol)];

/** The option of `protocol`, if it has one. */
export function protocolOption(protocol: ProtocolName): ProtocolOption | undefined {
  return OPTION_NAMES.find((option) => PROTOCOL_OPTIONS[option].protocol === protocol);
}

/** The protocol named, or the one whose option is given ('gcs' without either); its option only with it. */
export function validateProtocol(raw: Record<string, unknown>): ProtocolName {
  const given = OPTION_NAMES.filter((option) => raw[option] !== undefined);
  if (given.length > 1) throw new TypeError(`${given.map((option) => `\`${option}\``).join(' and ')} each choose a protocol: give one`);
  const value = raw.protocol ?? (given[0] === undefined ? 'gcs' : PROTOCOL_OPTIONS[given[0]].protocol);
  if (typeof value !== 'string' || !PROTOCOL_NAMES.includes(value)) {
    throw new TypeError(`Expected \`protocol\` to be ${PROTOCOL_NAMES.map((name) => `'${name}'`).join(', ')}, received ${describe(value)}`);
  }
  const own = protocolOption(value as ProtocolName);
  if (own !== undefined && raw[own] === undefined && PROTOCOL_OPTIONS[own].takesUrl !== true) {
    throw new TypeError(`\`protocol: '${value}'\` needs an \`${own}\` option (${PROTOCOL_OPTIONS[own].shape})`);
  }
  const foreign = given.find((option) => option !== own);
  if (foreign !== undefined) throw new TypeError(`\`${foreign}\` only applies with \`protocol: '${PROTOCOL_OPTIONS[foreign].protocol}'\`, received protocol '${value}'`);
  return value as ProtocolName;
}

/**
 * Parts in flight: `queueSize`, or the protocol's alias of it (`s3.queueSize`), each named in its
 * own errors; both given and different is a TypeError. Offset protocols send one request at a
 * time, so it does not apply to them.
 */
export function validateQueueSize(raw: Record<string, unknown>, protocol: ProtocolName): number {
  const top = optionalInteger('queueSize', raw.queueSize, 1);
  if (top !== undefined && isOffsetProtocolName(protocol)) {
    throw new TypeError(`\`queueSize\` only applies to a parts protocol, received protocol '${protocol}': it sends one request at a time`);
  }
  const option = protocolOption(protocol);
  const aliasKey = option === undefined ? undefined : PROTOCOL_OPTIONS[option].queueSizeAlias;
  if (option === undefined || aliasKey === undefined) return top ?? DEFAULT_QUEUE_SIZE;
  const alias = `${option}.${aliasKey}`;
  const aliased = optionalInteger(alias, expectObject(option, raw[option])?.[aliasKey], 1);
  if (top !== undefined && aliased !== undefined && top !== aliased) {
    throw new TypeError(`\`queueSize\` (${top}) and \`${alias}\` (${aliased}) set the same thing: give one`);
  }
  return top ?? aliased ?? DEFAULT_QUEUE_SIZE;
}
