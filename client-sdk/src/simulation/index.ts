/**
 * The simulation engine: N real sites of a built-in example in one process against a running
 * coordinator, each with its own key, data shard and NATS user, publishing signed updates. It is
 * what `tributary-site simulate` runs, and what Flower users know as the simulation engine.
 *
 * ```ts
 * import { simulate } from '@tributary/client-sdk/simulation';
 *
 * const result = await simulate({
 *   coordinator: '127.0.0.1:7400',
 *   nats: 'nats://127.0.0.1:4222',
 *   adminKey: './admin.key',          // invites the sites and starts the run
 *   federation: 'iris',               // made from `tributary model init --spec "w:F32:[4,3],b:F32:[3]"`
 *   sites: 3,
 *   dir: '/tmp/iris-sites',           // each site's key, in a directory of its own
 *   onProgress: (e) => console.log(e.type),
 * });
 * console.log(result.run.status, result.evaluation);
 * ```
 *
 * The quickstart's data and model are exported too, for programs that train on them.
 *
 * @module
 */
export { MAX_SIMULATED_SITES, simulate } from './simulation.js';
export type { SimulatedSite, SimulationOptions, SimulationProgress, SimulationResult } from './simulation.js';
export { SIMULATION_EXAMPLES, simulationExample } from './examples.js';
export type { ExampleFederation, SimulationExample } from './examples.js';
export { CLASS_NAMES, MAX_IRIS_SITES, NUM_CLASSES, NUM_FEATURES, SITE_MIX, classCounts, concatDatasets, splitIris } from './iris.js';
export type { Dataset, IrisSplit, SiteData, SplitOptions } from './iris.js';
export { accuracy, crossEntropy, fromTensors, initModel, predict, toTensors, train } from './softmax.js';
export type { SoftmaxModel, TrainOptions } from './softmax.js';
