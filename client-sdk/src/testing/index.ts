/**
 * Testing a site's code against a real local federation: nats-server and a coordinator on
 * free loopback ports, a federation created from your initial model, and sites with fresh keys
 * that train with your `train` callback, each through a real `SiteClient`.
 *
 * Needs `@tributary/coordinator` installed next to the SDK (`npm install --save-dev
 * @tributary/coordinator`; it runs as a child process, its `tributary dev` command) and
 * nats-server on PATH.
 *
 * ```ts
 * import { expect, it } from 'vitest';
 * import { tensor, toFloat64 } from '@tributary/proto';
 * import { LocalFederation } from '@tributary/client-sdk/testing';
 *
 * it('averages what the sites send', async () => {
 *   const fed = await LocalFederation.start({
 *     model: { w: tensor('F32', [4], new Float32Array(4)) },
 *     sites: 2,
 *     rounds: 3,
 *   });
 *   try {
 *     // Every site trains with this callback; `site` tells them apart (site-1, site-2).
 *     const result = await fed.run(async (task, site) => {
 *       const w = toFloat64(task.model['w']!).map((x) => x + site.index + 1);
 *       task.log({ loss: 1 / task.round });
 *       return { weights: { w: tensor('F32', [4], Float32Array.from(w)) }, numExamples: 10 };
 *     });
 *     expect(result.status).toBe('RUN_STATUS_FINISHED');
 *     expect(result.rounds).toHaveLength(3);
 *     const { model } = await fed.latestModel();   // 3 rounds of +1.5 (the mean of +1 and +2)
 *     expect([...model['w']!.data]).toEqual([4.5, 4.5, 4.5, 4.5]);
 *   } finally {
 *     await fed.close();
 *   }
 * });
 * ```
 *
 * An error thrown by `train`, or an update the SDK or the coordinator refuses, stops the run
 * and `run` rejects with it, so a broken site fails its test at once rather than at a round's
 * deadline.
 *
 * @module
 */
export { LocalFederation } from './local-federation.js';
export type { LocalFederationOptions, LocalModel, LocalRunOptions, LocalRunResult, LocalSite, LocalTrainFn } from './local-federation.js';
