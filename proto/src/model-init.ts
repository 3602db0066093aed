// A model's first version from a short text spec: what `tributary model init` writes, so a
// federation can be created without writing code. Seeded, so the same spec and seed give the
// same bytes on every machine.
import { TributaryError } from './errors.js';
import { DTYPE_NAMES, fromFloat64, isDType } from './safetensors.js';
import { elementCount } from './tensor-shape.js';
import type { DType, TensorMap } from './safetensors.js';

/** One tensor of a model spec: `w:F32:[784,10]`. */
export interface TensorDeclaration {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

/** How the values of a new model are drawn. */
export type ModelInit = 'zeros' | 'normal' | 'uniform';
export const MODEL_INITS: readonly ModelInit[] = ['zeros', 'normal', 'uniform'];

/** Bounds of a spec, so a typo cannot ask for terabytes. */
export const MAX_SPEC_CHARS = 65_536;
export const MAX_SPEC_TENSORS = 4_096;
export const MAX_SPEC_DIMS = 8;
/** Values over all tensors: 2^28 (1 GiB of F32). */
export const MAX_SPEC_VALUES = 2 ** 28;
const TENSOR_NAME = /^[A-Za-z0-9_.\-/]{1,200}$/;
const DECLARATION = /^\s*([^:\s]+)\s*:\s*([A-Za-z0-9]+)\s*:\s*\[([^\]]*)\]\s*$/;

/**
 * Parses `name:DTYPE:[d1,d2,...]` declarations separated by commas outside the brackets, e.g.
 * `w:F32:[784,10],b:F32:[10]`; `[]` is a scalar. Errors say which declaration is wrong and why.
 */
export function parseModelSpec(text: string): TensorDeclaration[] {
  if (text.length > MAX_SPEC_CHARS) throw TributaryError.invalidArgument(`the model spec has ${text.length} characters; at most ${MAX_SPEC_CHARS}`);
  const parts = splitOutsideBrackets(text);
  if (parts.length === 0) throw TributaryError.invalidArgument('the model spec is empty; expected e.g. "w:F32:[784,10],b:F32:[10]"');
  if (parts.length > MAX_SPEC_TENSORS) throw TributaryError.invalidArgument(`the model spec has ${parts.length} tensors; at most ${MAX_SPEC_TENSORS}`);
  const seen = new Set<string>();
  let values = 0;
  return parts.map((part) => {
    const m = DECLARATION.exec(part);
    if (m === null) throw TributaryError.invalidArgument(`cannot read ${JSON.stringify(part.trim())}: expected name:DTYPE:[dims], e.g. "w:F32:[784,10]"`);
    const [, name = '', dtype = '', dims = ''] = m;
    if (!TENSOR_NAME.test(name)) throw TributaryError.invalidArgument(`tensor name ${JSON.stringify(name)}: use letters, digits, "_", ".", "-" or "/" (at most 200)`);
    if (seen.has(name)) throw TributaryError.invalidArgument(`tensor ${JSON.stringify(name)} is declared twice`);
    seen.add(name);
    const upper = dtype.toUpperCase();
    if (!isDType(upper)) throw TributaryError.invalidArgument(`tensor ${name}: unknown dtype ${JSON.stringify(dtype)}; expected one of ${DTYPE_NAMES.join(', ')}`);
    const shape = dims.trim() === '' ? [] : dims.split(',').map((d) => dimension(name, d));
    if (shape.length > MAX_SPEC_DIMS) throw TributaryError.invalidArgument(`tensor ${name} has ${shape.length} dimensions; at most ${MAX_SPEC_DIMS}`);
    values += elementCount(shape);
    if (values > MAX_SPEC_VALUES) throw TributaryError.invalidArgument(`the model spec holds more than ${MAX_SPEC_VALUES} values`);
    return { name, dtype: upper, shape };
  });
}

/** The spec back as text, in the form `parseModelSpec` reads. */
export function formatModelSpec(declarations: readonly TensorDeclaration[]): string {
  return declarations.map((d) => `${d.name}:${d.dtype}:[${d.shape.join(',')}]`).join(',');
}

export interface InitialModelOptions {
  /** @default 'zeros' */
  readonly init?: ModelInit;
  /** Seed of `normal` and `uniform`. @default 0 */
  readonly seed?: number;
  /** Standard deviation (`normal`) or half-width (`uniform`). @default 0.01 */
  readonly scale?: number;
}

/**
 * The tensors of a new model. `normal` and `uniform` draw from one seeded stream in declaration
 * order, and need float dtypes (an integer tensor of random values is rarely what was meant).
 */
export function initialTensors(declarations: readonly TensorDeclaration[], options: InitialModelOptions = {}): TensorMap {
  const init = options.init ?? 'zeros';
  if (!MODEL_INITS.includes(init)) throw TributaryError.invalidArgument(`unknown init ${JSON.stringify(init)}; expected one of ${MODEL_INITS.join(', ')}`);
  const scale = options.scale ?? 0.01;
  if (!(Number.isFinite(scale) && scale > 0)) throw TributaryError.invalidArgument(`scale must be a positive number, got ${scale}`);
  const random = seededRandom(options.seed ?? 0);
  const out: TensorMap = {};
  for (const d of declarations) {
    if (init !== 'zeros' && !FLOAT_DTYPES.has(d.dtype)) {
      throw TributaryError.invalidArgument(`tensor ${d.name} is ${d.dtype}: --init ${init} needs a float dtype (${[...FLOAT_DTYPES].join(', ')}); use zeros`);
    }
    const values = new Float64Array(elementCount(d.shape));
    if (init === 'normal') for (let i = 0; i < values.length; i++) values[i] = scale * standardNormal(random);
    if (init === 'uniform') for (let i = 0; i < values.length; i++) values[i] = scale * (2 * random() - 1);
    out[d.name] = fromFloat64(d.dtype, d.shape, values);
  }
  return out;
}

const FLOAT_DTYPES: ReadonlySet<DType> = new Set<DType>(['F32', 'F64', 'F16', 'BF16']);

/** mulberry32: a small, fast PRNG in [0, 1), reproducible across machines. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A shuffled copy (Fisher-Yates). */
export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** Box-Muller; `1 - random()` keeps the logarithm finite. */
function standardNormal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

function dimension(tensor: string, text: string): number {
  const t = text.trim();
  const n = /^\d{1,10}$/.test(t) ? Number(t) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw TributaryError.invalidArgument(`tensor ${tensor}: dimension ${JSON.stringify(t)} is not a whole number`);
  return n;
}

function splitOutsideBrackets(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '[') depth += 1;
    else if (c === ']') depth -= 1;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.filter((p) => p.trim() !== '');
}
