import { Reason, TributaryError } from './errors.js';
import { isValidName } from './names.js';
import { decodeSafetensors, tensor } from './safetensors.js';
import type { Tensor, TensorMap } from './safetensors.js';
import { UPDATE_ID_PATTERN } from './wire.js';

/** Flavor of a safetensors payload: the site's model as named tensors of any shapes. */
export const TENSORS_FLAVOR = 'tensors';

/** Name of the single U8 tensor that carries an opaque (non-safetensors) payload. */
export const OPAQUE_PAYLOAD_TENSOR = '__payload__';

/** The `__metadata__` key of an ensemble model version; its value is the JSON manifest. */
export const ENSEMBLE_METADATA_KEY = 'tributary.ensemble';

/** Version of the ensemble manifest layout written by `ensembleTensors`. */
export const ENSEMBLE_FORMAT_VERSION = 1;

const CUSTOM_FLAVOR = /^custom:[a-z0-9][a-z0-9_.-]{0,62}$/;
const MEMBER_PREFIX = 'members/';
// Normalised weights are rounded by JSON's shortest round-trip form only; anything further
// off than this was not written by `ensembleTensors`.
const WEIGHT_SUM_TOLERANCE = 1e-9;

/**
 * Why `flavor` is not a payload flavor, or undefined when it is one: "tensors" (safetensors),
 * "onnx", or "custom:<name>" with name matching `^[a-z0-9][a-z0-9_.-]{0,62}$`.
 */
export function payloadFlavorProblem(flavor: unknown): string | undefined {
  if (flavor === TENSORS_FLAVOR || flavor === 'onnx') return undefined;
  if (typeof flavor === 'string' && CUSTOM_FLAVOR.test(flavor)) return undefined;
  return `payload flavor ${JSON.stringify(flavor) ?? String(flavor)} is not one of "tensors", "onnx", "custom:<name>" (name matching ^[a-z0-9][a-z0-9_.-]{0,62}$)`;
}

/** True for a valid flavor whose payload is opaque bytes rather than safetensors. */
export function isOpaqueFlavor(flavor: string): boolean {
  return flavor !== TENSORS_FLAVOR && payloadFlavorProblem(flavor) === undefined;
}

/** How member predictions combine: weighted mean of probabilities, or weighted majority vote. */
export type EnsembleCombine = 'mean' | 'vote';

export function isEnsembleCombine(s: unknown): s is EnsembleCombine {
  return s === 'mean' || s === 'vote';
}

/** One member as listed in the manifest: who trained it, what it is, and its weight. */
export interface EnsembleMemberInfo {
  /** Position in the ensemble; its payload lives under `members/<index>/`. */
  index: number;
  site: string;
  /** The update that delivered the member (its digest is in the model version's lineage). */
  updateId: string;
  flavor: string;
  /** Share of the member in the combination; the weights of an ensemble sum to 1. */
  weight: number;
  numExamples: number;
  metrics: Record<string, number>;
}

/** The member's model: tensors (flavor "tensors") or the opaque bytes (any other flavor). */
export type EnsembleMemberPayload =
  | { tensors: TensorMap; bytes?: undefined }
  | { bytes: Uint8Array; tensors?: undefined };

export type EnsembleMember = EnsembleMemberInfo & EnsembleMemberPayload;

/** The `tributary.ensemble` metadata of an ensemble model version. */
export interface EnsembleManifest {
  version: typeof ENSEMBLE_FORMAT_VERSION;
  /** The combination the federation suggests to users of the model. */
  combine?: EnsembleCombine;
  members: EnsembleMemberInfo[];
}

/** A decoded ensemble: the manifest and every member with its payload. */
export interface Ensemble {
  combine?: EnsembleCombine;
  members: EnsembleMember[];
}

/**
 * A member to pack. An opaque member gives its bytes, or (as aggregators receive it) tensors
 * holding exactly the U8 tensor `OPAQUE_PAYLOAD_TENSOR`.
 */
export type EnsembleMemberInput = Omit<EnsembleMemberInfo, 'index'> & EnsembleMemberPayload;

/**
 * Packs members into one safetensors tensor map: member i's tensors as `members/<i>/<name>`,
 * an opaque member as the U8 tensor `members/<i>/__payload__`, and the manifest as the JSON
 * `__metadata__` entry `tributary.ensemble`. Weights are normalised to sum 1; non-finite
 * metrics are left out. Bad input is INVALID_ARGUMENT naming the member.
 */
export function ensembleTensors(
  members: readonly EnsembleMemberInput[],
  options: { combine?: EnsembleCombine } = {},
): { tensors: TensorMap; metadata: Record<string, string> } {
  if (members.length === 0) throw invalidArgument('an ensemble needs at least one member');
  if (options.combine !== undefined && !isEnsembleCombine(options.combine)) {
    throw invalidArgument(`combine must be "mean" or "vote", got ${JSON.stringify(options.combine)}`);
  }
  let total = 0;
  for (const [i, m] of members.entries()) {
    if (!(Number.isFinite(m.weight) && m.weight >= 0)) throw invalidArgument(`member ${i} (site ${JSON.stringify(m.site)}) has weight ${m.weight}; weights must be finite and >= 0`);
    total += m.weight;
  }
  if (!(total > 0)) throw invalidArgument('the weights of an ensemble must not all be 0');

  // Object.fromEntries defines keys, so a tensor or metric named "__proto__" stays a key.
  const entries: Array<[string, Tensor]> = [];
  const infos: EnsembleMemberInfo[] = members.map((m, index) => {
    const problem = memberInfoProblem(m);
    if (problem !== undefined) throw invalidArgument(`member ${index}: ${problem}`);
    for (const [name, t] of memberTensors(m, index)) entries.push([`${MEMBER_PREFIX}${index}/${name}`, t]);
    const metrics: Record<string, number> = Object.fromEntries(Object.entries(m.metrics).filter(([, v]) => Number.isFinite(v)));
    return { index, site: m.site, updateId: m.updateId, flavor: m.flavor, weight: m.weight / total, numExamples: m.numExamples, metrics };
  });
  const manifest: EnsembleManifest = {
    version: ENSEMBLE_FORMAT_VERSION,
    ...(options.combine === undefined ? {} : { combine: options.combine }),
    members: infos,
  };
  return { tensors: Object.fromEntries(entries), metadata: { [ENSEMBLE_METADATA_KEY]: JSON.stringify(manifest) } };
}

/** True when safetensors metadata carries an ensemble manifest. */
export function isEnsembleMetadata(metadata: Readonly<Record<string, string>>): boolean {
  return Object.prototype.hasOwnProperty.call(metadata, ENSEMBLE_METADATA_KEY);
}

/**
 * Reads an ensemble model version (its safetensors bytes, or the decoded tensors and metadata)
 * back into its members. Anything inconsistent, from a missing manifest to a tensor outside
 * every member, is INVALID_ARGUMENT / MALFORMED_PAYLOAD.
 */
export function decodeEnsemble(input: Uint8Array | { tensors: TensorMap; metadata: Readonly<Record<string, string>> }): Ensemble {
  const { tensors, metadata } = input instanceof Uint8Array ? decodeSafetensors(input) : input;
  const manifest = parseManifest(metadata);
  const grouped = manifest.members.map((): Array<[string, Tensor]> => []);
  for (const [name, t] of Object.entries(tensors)) {
    const slash = name.indexOf('/', MEMBER_PREFIX.length);
    const index = name.startsWith(MEMBER_PREFIX) && slash > 0 ? name.slice(MEMBER_PREFIX.length, slash) : '';
    const group = /^(0|[1-9][0-9]*)$/.test(index) ? grouped[Number(index)] : undefined;
    if (group === undefined) throw malformed(`tensor ${JSON.stringify(name)} belongs to no member`);
    group.push([name.slice(slash + 1), t]);
  }
  const members = manifest.members.map((info, i): EnsembleMember => {
    const payload: TensorMap = Object.fromEntries(grouped[i] ?? []);
    const names = Object.keys(payload);
    if (info.flavor === TENSORS_FLAVOR) {
      if (names.length === 0) throw malformed(`member ${i} (site "${info.site}") has no tensors`);
      return { ...info, tensors: payload };
    }
    const opaque = payload[OPAQUE_PAYLOAD_TENSOR];
    if (names.length !== 1 || opaque === undefined || opaque.dtype !== 'U8' || opaque.shape.length !== 1) {
      throw malformed(`member ${i} (site "${info.site}", flavor "${info.flavor}") must hold exactly one 1-D U8 tensor "${OPAQUE_PAYLOAD_TENSOR}"`);
    }
    return { ...info, bytes: opaque.data as Uint8Array };
  });
  return { ...(manifest.combine === undefined ? {} : { combine: manifest.combine }), members };
}

/** The member's tensors to store under its prefix, checked. */
function memberTensors(m: EnsembleMemberInput, index: number): Array<[string, Tensor]> {
  const what = `member ${index} (site ${JSON.stringify(m.site)}, flavor ${JSON.stringify(m.flavor)})`;
  if (m.flavor === TENSORS_FLAVOR) {
    if (m.tensors === undefined || typeof m.tensors !== 'object' || m.tensors === null) throw invalidArgument(`${what} needs tensors`);
    const entries = Object.entries(m.tensors);
    if (entries.length === 0) throw invalidArgument(`${what} has no tensors`);
    for (const [name] of entries) if (name === '') throw invalidArgument(`${what} has a tensor with an empty name`);
    return entries;
  }
  let bytes: Uint8Array | undefined = m.bytes;
  if (bytes === undefined && m.tensors !== undefined) {
    const t = m.tensors[OPAQUE_PAYLOAD_TENSOR];
    if (Object.keys(m.tensors).length !== 1 || t === undefined || t.dtype !== 'U8') {
      throw invalidArgument(`${what} must carry its payload as bytes or as the single U8 tensor "${OPAQUE_PAYLOAD_TENSOR}"`);
    }
    bytes = t.data as Uint8Array;
  }
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw invalidArgument(`${what} needs a non-empty payload`);
  return [[OPAQUE_PAYLOAD_TENSOR, tensor('U8', [bytes.length], bytes)]];
}

function memberInfoProblem(m: Omit<EnsembleMemberInfo, 'index' | 'weight'>): string | undefined {
  if (!isValidName(m.site)) return `site ${JSON.stringify(m.site)} is not a valid site name`;
  if (typeof m.updateId !== 'string' || !UPDATE_ID_PATTERN.test(m.updateId)) return `update id ${JSON.stringify(m.updateId)} is not 32 lowercase hex characters`;
  const flavor = payloadFlavorProblem(m.flavor);
  if (flavor !== undefined) return flavor;
  if (!(Number.isSafeInteger(m.numExamples) && m.numExamples >= 0)) return `numExamples ${String(m.numExamples)} is not a non-negative integer`;
  if (typeof m.metrics !== 'object' || m.metrics === null || Array.isArray(m.metrics)) return 'metrics must be an object of numbers';
  return undefined;
}

function parseManifest(metadata: Readonly<Record<string, string>>): EnsembleManifest {
  if (!isEnsembleMetadata(metadata)) throw malformed(`no "${ENSEMBLE_METADATA_KEY}" metadata: not an ensemble model`);
  let raw: unknown;
  try {
    raw = JSON.parse(metadata[ENSEMBLE_METADATA_KEY] ?? '');
  } catch {
    throw malformed(`"${ENSEMBLE_METADATA_KEY}" metadata is not valid JSON`);
  }
  if (!isObject(raw)) throw malformed('the manifest is not a JSON object');
  if (raw['version'] !== ENSEMBLE_FORMAT_VERSION) {
    throw malformed(`manifest version ${JSON.stringify(raw['version'])} is not supported (expected ${ENSEMBLE_FORMAT_VERSION})`);
  }
  const combine = raw['combine'];
  if (combine !== undefined && !isEnsembleCombine(combine)) throw malformed(`combine ${JSON.stringify(combine)} is not "mean" or "vote"`);
  const list = raw['members'];
  if (!Array.isArray(list) || list.length === 0) throw malformed('the manifest lists no members');
  const members = list.map((m: unknown, i) => parseMemberInfo(m, i));
  const sum = members.reduce((s, m) => s + m.weight, 0);
  if (!(Math.abs(sum - 1) <= WEIGHT_SUM_TOLERANCE)) throw malformed(`member weights sum to ${sum}, not 1`);
  return { version: ENSEMBLE_FORMAT_VERSION, ...(combine === undefined ? {} : { combine }), members };
}

function parseMemberInfo(raw: unknown, i: number): EnsembleMemberInfo {
  if (!isObject(raw)) throw malformed(`member ${i} is not a JSON object`);
  const { index, site, updateId, flavor, weight, numExamples, metrics } = raw;
  if (index !== i) throw malformed(`member ${i} has index ${JSON.stringify(index)}`);
  if (typeof weight !== 'number' || !(Number.isFinite(weight) && weight >= 0)) throw malformed(`member ${i} has weight ${JSON.stringify(weight)}`);
  if (!isObject(metrics) || !Object.values(metrics).every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw malformed(`member ${i} has metrics that are not finite numbers`);
  }
  const info = { index: i, site, updateId, flavor, weight, numExamples, metrics } as EnsembleMemberInfo;
  const problem = memberInfoProblem(info);
  if (problem !== undefined) throw malformed(`member ${i}: ${problem}`);
  return { ...info, metrics: { ...(metrics as Record<string, number>) } };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function malformed(message: string): TributaryError {
  return TributaryError.of(Reason.MALFORMED_PAYLOAD, `malformed ensemble: ${message}`);
}

function invalidArgument(message: string): TributaryError {
  return TributaryError.invalidArgument(`ensemble: ${message}`);
}
