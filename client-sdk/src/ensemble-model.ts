import { TributaryError, decodeEnsemble } from '@tributary/proto';
import type { Ensemble, EnsembleCombine, EnsembleMember, TensorMap } from '@tributary/proto';

/**
 * Runs one member on the inputs: per input row, the member's class probabilities (or a one-hot
 * vote). Members of flavor "tensors" carry `tensors`; the others carry their `bytes` (ONNX,
 * a custom format) for you to load.
 */
export type MemberPredict<I> = (member: EnsembleMember, inputs: I) => number[][];

export interface EnsemblePredictOptions {
  /**
   * `mean`: weighted mean of the members' probabilities; `vote`: weighted majority vote of the
   * members' top classes.
   * @default the ensemble's suggested combination, else `mean`
   */
  combine?: EnsembleCombine;
}

/** Combined predictions, one entry per input row. */
export interface EnsemblePrediction {
  /** The winning class of each row; ties (scores within 1e-12) go to the lowest class index. */
  classes: number[];
  /** Per row and class: the weighted mean probability (`mean`) or the weighted vote share (`vote`). */
  scores: number[][];
}

// Sums of float weights (0.1 + 0.2 vs 0.3) must still tie.
const TIE_TOLERANCE = 1e-12;

/**
 * An ensemble model version: weighted members, each a whole model of its site, possibly of
 * another architecture or framework. Decode the bytes of a downloaded model version, then
 * combine the members' predictions:
 *
 * ```ts
 * const model = EnsembleModel.decode(bytes);
 * const { classes } = model.predict(rows, (member, x) => myPredict(member, x), { combine: 'vote' });
 * ```
 */
export class EnsembleModel {
  /** Members in the ensemble's order (highest weight first); weights sum to 1. */
  readonly members: readonly EnsembleMember[];
  /** The combination the federation suggests, if any. */
  readonly combine: EnsembleCombine | undefined;

  private constructor(ensemble: Ensemble) {
    this.members = Object.freeze([...ensemble.members]);
    this.combine = ensemble.combine;
  }

  /**
   * Reads an ensemble model version from its safetensors bytes (or its decoded tensors and
   * metadata). Throws INVALID_ARGUMENT / MALFORMED_PAYLOAD when it is not a valid ensemble.
   */
  static decode(input: Uint8Array | { tensors: TensorMap; metadata: Readonly<Record<string, string>> }): EnsembleModel {
    return new EnsembleModel(decodeEnsemble(input));
  }

  /**
   * Runs every member on `inputs` with `memberPredict` and combines the outputs. Every member
   * must return the same number of rows and classes, with finite values; otherwise
   * INVALID_ARGUMENT naming the member.
   */
  predict<I>(inputs: I, memberPredict: MemberPredict<I>, options: EnsemblePredictOptions = {}): EnsemblePrediction {
    const combine = this.resolveCombine(options);
    return combineMemberOutputs(this.members, this.members.map((m) => memberPredict(m, inputs)), combine);
  }

  /** `predict` for members whose inference is asynchronous (e.g. ONNX Runtime); members run one after another. */
  async predictAsync<I>(
    inputs: I,
    memberPredict: (member: EnsembleMember, inputs: I) => number[][] | Promise<number[][]>,
    options: EnsemblePredictOptions = {},
  ): Promise<EnsemblePrediction> {
    const combine = this.resolveCombine(options);
    const outputs: unknown[] = [];
    for (const m of this.members) outputs.push(await memberPredict(m, inputs));
    return combineMemberOutputs(this.members, outputs, combine);
  }

  private resolveCombine(options: EnsemblePredictOptions): EnsembleCombine {
    const combine = options.combine ?? this.combine ?? 'mean';
    if (combine !== 'mean' && combine !== 'vote') throw invalid(`combine must be "mean" or "vote", got ${JSON.stringify(combine)}`);
    return combine;
  }
}

/** Weighted mean of probabilities, or weighted vote of each member's top class, row by row. */
function combineMemberOutputs(
  members: readonly EnsembleMember[],
  outputs: readonly unknown[],
  combine: EnsembleCombine,
): EnsemblePrediction {
  let rows = -1;
  let classes = -1;
  const checked = outputs.map((out, i) => {
    const m = members[i]!;
    const who = `member ${m.index} (site "${m.site}", flavor "${m.flavor}")`;
    if (!Array.isArray(out)) throw invalid(`${who}: memberPredict must return an array of rows`);
    if (rows < 0) rows = out.length;
    if (out.length !== rows) throw invalid(`${who} returned ${out.length} rows; the first member returned ${rows}`);
    out.forEach((row: unknown, r) => {
      if (!Array.isArray(row) || row.length === 0) throw invalid(`${who}: row ${r} is not a non-empty array of class scores`);
      if (classes < 0) classes = row.length;
      if (row.length !== classes) throw invalid(`${who}: row ${r} has ${row.length} classes; expected ${classes}`);
      if (!row.every((v) => typeof v === 'number' && Number.isFinite(v))) throw invalid(`${who}: row ${r} holds a value that is not a finite number`);
    });
    return out as number[][];
  });

  const scores: number[][] = [];
  for (let r = 0; r < Math.max(rows, 0); r++) {
    const combined = new Array<number>(classes).fill(0);
    checked.forEach((out, i) => {
      const weight = members[i]!.weight;
      const row = out[r]!;
      if (combine === 'vote') {
        const top = argmax(row);
        combined[top] = combined[top]! + weight;
      } else {
        for (let c = 0; c < classes; c++) combined[c] = combined[c]! + weight * row[c]!;
      }
    });
    scores.push(combined);
  }
  return { classes: scores.map(argmax), scores };
}

/** Index of the largest value; values within the tie tolerance of it go to the lowest index. */
function argmax(values: readonly number[]): number {
  let max = -Infinity;
  for (const v of values) if (v > max) max = v;
  const best = values.findIndex((v) => v >= max - TIE_TOLERANCE * Math.max(1, Math.abs(max)));
  return best < 0 ? 0 : best;
}

function invalid(message: string): TributaryError {
  return TributaryError.invalidArgument(`ensemble predict: ${message}`);
}
