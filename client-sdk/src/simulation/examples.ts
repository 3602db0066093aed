// Built-in examples of the simulation: a model, its tensor spec, and how each simulated site
// trains on its own shard of a data set.
import { decodeSafetensors, formatModelSpec, parseModelSpec, TributaryError } from '@tributary/proto';
import type { TensorDeclaration } from '@tributary/proto';
import type { TrainFn } from '../types.js';
import { MAX_IRIS_SITES, NUM_CLASSES, NUM_FEATURES, splitIris } from './iris.js';
import { accuracy, fromTensors, toTensors, train } from './softmax.js';

/** Sites of one example, ready to train, and a score for a committed model. */
export interface ExampleFederation {
  /** Each site's `train` callback, over its own rows only. */
  train(site: string): TrainFn;
  /** Training rows of a site. */
  rows(site: string): number;
  /** Scores a model (safetensors bytes) on rows no site trained on. */
  evaluate(model: Uint8Array): Readonly<Record<string, number>>;
}

export interface SimulationExample {
  readonly name: string;
  readonly summary: string;
  /** The tensors its sites train, as `tributary model init --spec` takes them. */
  readonly modelSpec: string;
  readonly maxSites: number;
  prepare(sites: readonly string[], seed: number): ExampleFederation;
}

const QUICKSTART_EPOCHS = 20;

const quickstart: SimulationExample = {
  name: 'quickstart',
  summary: 'softmax regression on the iris flowers, each site holding a different mix of the classes',
  modelSpec: `w:F32:[${NUM_FEATURES},${NUM_CLASSES}],b:F32:[${NUM_CLASSES}]`,
  maxSites: MAX_IRIS_SITES,
  prepare(sites, seed) {
    const split = splitIris({ sites, seed });
    const byName = new Map(split.sites.map((s) => [s.name, s]));
    const dataOf = (site: string) => {
      const data = byName.get(site);
      if (data === undefined) throw TributaryError.invalidArgument(`no data shard for site ${site}`);
      return data;
    };
    return {
      rows: (site) => dataOf(site).size,
      train: (site) => {
        const data = dataOf(site);
        return (task) => {
          const { model, loss } = train(fromTensors(task.model), data, {
            epochs: QUICKSTART_EPOCHS,
            learningRate: 1,
            // A global step, so the loss curve of a site runs on across rounds.
            onEpoch: (epoch, epochLoss) => task.log({ loss: epochLoss }, (task.round - 1) * QUICKSTART_EPOCHS + epoch),
          });
          return Promise.resolve({ weights: toTensors(model), numExamples: data.size, metrics: { loss, accuracy: accuracy(model, data) } });
        };
      },
      evaluate: (bytes) => ({ accuracy: accuracy(fromTensors(decodeSafetensors(bytes).tensors), split.test) }),
    };
  },
};

/** The examples `tributary-site simulate --example` knows. */
export const SIMULATION_EXAMPLES: Readonly<Record<string, SimulationExample>> = { quickstart };

export function simulationExample(name: string): SimulationExample {
  const example = Object.hasOwn(SIMULATION_EXAMPLES, name) ? SIMULATION_EXAMPLES[name] : undefined;
  if (example === undefined) {
    throw TributaryError.invalidArgument(`unknown example ${JSON.stringify(name)}; built in: ${Object.keys(SIMULATION_EXAMPLES).join(', ')}`);
  }
  return example;
}

/** Why a federation's model spec differs from the example's, or undefined when they agree. */
export function specMismatch(example: SimulationExample, actual: readonly TensorDeclaration[]): string | undefined {
  const expected = parseModelSpec(example.modelSpec);
  const key = (d: TensorDeclaration): string => `${d.name}:${d.dtype}:[${d.shape.join(',')}]`;
  const same = expected.length === actual.length && expected.every((d) => actual.some((a) => key(a) === key(d)));
  return same ? undefined : `the federation's model is ${formatModelSpec(actual)}, but the ${example.name} example trains ${example.modelSpec}`;
}
