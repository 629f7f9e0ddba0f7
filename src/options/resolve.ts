/**
 * `resolveOptions`: every option validated eagerly, at construction, by the validator of its
 * concern (requests, sizes, checkpoint, memory, headers, URL policy) or of its protocol (the
 * protocol-options hook), and defaults filled in.
 */
import type { ProtocolName } from '../protocol.js';
import type { ProtocolOptionsContext } from './protocol-hook.js';
import { checkResumeProtocol, validateResume, validateResumeInput, validateStore } from './checkpoint.js';
import { expectObject, optionalBoolean } from './expect.js';
import { validateHeaders } from './headers.js';
import { validateMemoryBudget } from './memory.js';
import { PROTOCOL_OPTIONS, protocolOption, validateProtocol, validateQueueSize, type ResolvedProtocolOptions } from './protocols.js';
import { validateRequestOptions } from './requests.js';
import { validateChecksum, validateChunkSize, validateHighWaterMark, validateTotalSize } from './sizes.js';
import type { ResolvedOptions, SessionFactory } from './types.js';
import { validateCredentialUrl } from './url-policy.js';

export function resolveOptions(options: unknown): ResolvedOptions {
  const raw = expectObject('options', options);
  if (raw === undefined) throw new TypeError('Expected options to be an object with a `url`, received undefined');
  const checksum = validateChecksum(raw.checksum);
  const checkpointStore = validateStore(raw.checkpointStore);
  const resume = validateResume(raw.resume, checkpointStore);
  const allowInsecureHttp = optionalBoolean('allowInsecureHttp', raw.allowInsecureHttp) === true;
  const protocol = validateProtocol(raw);
  const { url, sessionFactory } = resolveUrl(raw, protocol, resume, allowInsecureHttp);
  const headers = validateHeaders(raw.headers, protocol);
  const queueSize = validateQueueSize(raw, protocol);
  const own = resolveProtocolOption(raw, protocol, { allowInsecureHttp, resumable: checkpointStore !== undefined || resume !== undefined, headers, queueSize, url });
  checkResumeProtocol(resume, protocol);
  const option = protocolOption(protocol);
  const chunkSize = validateChunkSize(raw.chunkSize, protocol, option === undefined ? undefined : PROTOCOL_OPTIONS[option]);
  return {
    ...own,
    protocol,
    allowInsecureHttp,
    memoryBudget: validateMemoryBudget(raw.memoryBudget, protocol, chunkSize),
    url,
    sessionFactory,
    checksum,
    checkpointStore,
    resume,
    resumeInput: validateResumeInput(raw.resumeInput, resume, checksum),
    chunkSize,
    queueSize,
    totalSize: validateTotalSize(raw.totalSize),
    headers,
    ...validateRequestOptions(raw),
    highWaterMark: validateHighWaterMark(raw.highWaterMark),
  };
}

/**
 * The session URI: given, a factory, or the checkpoint's. A parts protocol creates its upload
 * from its own option and takes no `url`, unless the object is named by its URL (Azure).
 */
function resolveUrl(raw: Record<string, unknown>, protocol: ProtocolName, resume: ResolvedOptions['resume'], allowInsecureHttp: boolean) {
  const hook = protocolOption(protocol);
  const option = hook !== undefined && PROTOCOL_OPTIONS[hook].takesUrl === true ? undefined : hook;
  if (hook !== undefined && option === undefined && typeof raw.url === 'function') {
    throw new TypeError(`Expected \`url\` to be the object's URL with \`protocol: '${protocol}'\`, received a function`);
  }
  if (option !== undefined && raw.url !== undefined) {
    throw new TypeError(`\`url\` does not apply to \`protocol: '${protocol}'\`: the upload is created from \`${option}\` (${PROTOCOL_OPTIONS[option].shape})`);
  }
  if (option === undefined && raw.url === undefined && resume === undefined) {
    throw new TypeError('Expected `url` to be a string, URL or async function, received undefined');
  }
  const sessionFactory = typeof raw.url === 'function' ? (raw.url as SessionFactory) : undefined;
  const given = raw.url === undefined || sessionFactory ? undefined : validateCredentialUrl(raw.url, allowInsecureHttp);
  const url = typeof resume === 'object' ? validateCredentialUrl(resume.url, allowInsecureHttp, 'resume.url') : given;
  return { url, sessionFactory };
}

/** The protocol's own option, validated by the protocol; every other protocol's is undefined. */
function resolveProtocolOption(raw: Record<string, unknown>, protocol: ProtocolName, context: ProtocolOptionsContext): ResolvedProtocolOptions {
  const resolved = Object.fromEntries(Object.keys(PROTOCOL_OPTIONS).map((name) => [name, undefined])) as Record<string, unknown>;
  const option = protocolOption(protocol);
  if (option !== undefined) resolved[option] = PROTOCOL_OPTIONS[option].validate(raw[option], context);
  return resolved as unknown as ResolvedProtocolOptions;
}
