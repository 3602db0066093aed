// An ensemble federation whose members come from different Python scripts, each a different
// model family: a nearest-centroid classifier (examples/python-site/ensemble/centroid.py) and a
// Gaussian naive Bayes (naive_bayes.py). Each site trains on its own non-IID share of iris via
// `tributary-site`; the `ensemble` strategy packs their models, weighted by the validation
// accuracy each reports, into one model version, and the SDK's EnsembleModel combines them.
import { join } from 'node:path';
import { EnsembleModel, toFloat64, type TensorMap } from '@tributary/client-sdk';
import type { LocalStack } from '../shared/local-stack.js';
import { encodeSafetensors, tensor } from '@tributary/proto';
import { NUM_CLASSES, NUM_FEATURES, splitIris, type Dataset } from '../quickstart/data.js';
import { PYTHON_SITE_DIR, startPythonSite, type PythonSite } from './agent-process.js';

export const ENSEMBLE_FEDERATION = 'iris-py-ensemble';

/** Which script each site runs: two model families over three sites. */
export const ENSEMBLE_SCRIPTS: Readonly<Record<string, string>> = {
  'py-centroid-a': join(PYTHON_SITE_DIR, 'ensemble/centroid.py'),
  'py-bayes-b': join(PYTHON_SITE_DIR, 'ensemble/naive_bayes.py'),
  'py-bayes-c': join(PYTHON_SITE_DIR, 'ensemble/naive_bayes.py'),
};

export interface PythonEnsembleResult {
  readonly runId: string;
  readonly version: number;
  readonly model: EnsembleModel;
  /** Held-out accuracy of the ensemble, and of each member alone, by site. */
  readonly accuracy: number;
  readonly memberAccuracy: Readonly<Record<string, number>>;
  /** Each agent's exit status, by site. */
  readonly exitStatus: Readonly<Record<string, number>>;
}

/** The model family of a member, from its tensor names. */
export function familyOf(tensors: TensorMap): 'nearest-centroid' | 'naive-bayes' {
  if (tensors['centroids'] !== undefined) return 'nearest-centroid';
  if (tensors['nb.means'] !== undefined) return 'naive-bayes';
  throw new Error(`unknown member: tensors ${Object.keys(tensors).join(', ')}`);
}

/** A member's class probabilities for each row of `data`, as its script computes them. */
export function predictMember(tensors: TensorMap, data: Dataset): number[][] {
  const rows: number[][] = [];
  const feature = (r: number, f: number): number => data.x[r * NUM_FEATURES + f] ?? 0;
  const at = (values: Float64Array, k: number, f: number): number => values[k * NUM_FEATURES + f] ?? 0;
  const family = familyOf(tensors);
  const centroids = family === 'nearest-centroid' ? toFloat64(tensors['centroids']!) : undefined;
  const means = family === 'naive-bayes' ? toFloat64(tensors['nb.means']!) : undefined;
  const variances = family === 'naive-bayes' ? toFloat64(tensors['nb.variances']!) : undefined;
  const logPriors = family === 'naive-bayes' ? toFloat64(tensors['nb.log_priors']!) : undefined;
  for (let r = 0; r < data.size; r++) {
    const scores: number[] = [];
    for (let k = 0; k < NUM_CLASSES; k++) {
      let s = 0;
      for (let f = 0; f < NUM_FEATURES; f++) {
        if (centroids !== undefined) {
          s -= (feature(r, f) - at(centroids, k, f)) ** 2;
        } else {
          const v = at(variances!, k, f);
          s -= 0.5 * ((feature(r, f) - at(means!, k, f)) ** 2 / v + Math.log(2 * Math.PI * v));
        }
      }
      scores.push(s + (logPriors?.[k] ?? 0));
    }
    rows.push(softmax(scores));
  }
  return rows;
}

function softmax(scores: number[]): number[] {
  const max = Math.max(...scores);
  const e = scores.map((s) => Math.exp(s - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

function accuracyOf(classes: readonly number[], data: Dataset): number {
  return classes.filter((c, r) => c === data.y[r]).length / data.size;
}

/**
 * Runs the ensemble federation on a running coordinator and nats-server: three Python sites,
 * one round, and the committed ensemble scored on iris's held-out rows. `dir` receives the
 * sites' keys and data.
 */
export async function runPythonEnsemble(
  stack: LocalStack,
  dir: string,
  onProblem: (line: string) => void,
): Promise<PythonEnsembleResult> {
  const { admin } = stack;
  const { sites, test } = splitIris();
  await admin.createFederation({
    name: ENSEMBLE_FEDERATION,
    settings: { strategy: 'ensemble', strategyOptions: { weight_by: 'metric:val_accuracy', combine: 'mean' }, rounds: 1, minSites: 3, roundDeadlineSeconds: 120 },
    // An ensemble's members bring their own architectures; the initial model only starts the lineage.
    initialModel: encodeSafetensors({ placeholder: tensor('F32', [1], new Float32Array(1)) }),
  });
  const names = Object.keys(ENSEMBLE_SCRIPTS);
  const agents: PythonSite[] = [];
  try {
    for (const [i, name] of names.entries()) {
      agents.push(
        await startPythonSite({ admin, coordinator: stack.coordinator.address, nats: stack.nats.url, federation: ENSEMBLE_FEDERATION, dir, name, data: sites[i]!, script: ENSEMBLE_SCRIPTS[name]!, onProblem }),
      );
    }
    const run = await admin.startRun(ENSEMBLE_FEDERATION);
    const ended = await admin.waitForRun(run.id);
    if (ended.status !== 'RUN_STATUS_FINISHED') throw new Error(`run ${run.id} ended ${ended.status}: ${ended.failureReason}`);
    const statuses = await Promise.all(agents.map((a) => a.exited));
    const { version, bytes } = await admin.downloadModel(ENSEMBLE_FEDERATION);
    const model = EnsembleModel.decode(bytes);
    const { classes } = model.predict(test, (member, data) => predictMember(member.tensors ?? {}, data));
    const memberAccuracy: Record<string, number> = {};
    for (const member of model.members) {
      const scores = predictMember(member.tensors ?? {}, test);
      memberAccuracy[member.site] = accuracyOf(scores.map((p) => p.indexOf(Math.max(...p))), test);
    }
    return {
      runId: run.id,
      version,
      model,
      accuracy: accuracyOf(classes, test),
      memberAccuracy,
      exitStatus: Object.fromEntries(agents.map((a, i) => [a.name, statuses[i] ?? -1])),
    };
  } finally {
    for (const a of agents) if (a.child.exitCode === null) a.child.kill('SIGINT');
  }
}
