import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStrategyPlugin } from '../../coordinator/src/plugins/index.js';
import { builtinStrategies } from '../../coordinator/src/strategies/index.js';
import { encodeSafetensors, type SigningKey } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSite, startStack } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';

// A third-party strategy, as a plain ES module: the new model is the last update folded.
const LAST_WINS = `
export const strategies = [{
  name: 'last-wins',
  validateOptions(options) {
    for (const key of Object.keys(options)) throw Object.assign(new Error('unknown option ' + key), { code: 'INVALID_ARGUMENT' });
    return {};
  },
  selectSites(eligible) { return [...eligible]; },
  siteConfig() { return { plugin: 'yes' }; },
  createAggregator() {
    let last;
    let count = 0;
    return {
      get count() { return count; },
      fold(update) { last = update.tensors; count++; },
      finish() { return { model: last, metrics: { plugin_rounds: 1 } }; },
    };
  },
}];
`;

describe('third-party strategy plugins', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-strategy-plugin-'));
    await writeFile(join(dir, 'last-wins.mjs'), LAST_WINS);
    await writeFile(join(dir, 'empty.mjs'), 'export const nothing = 1;\n');
    await writeFile(join(dir, 'broken.mjs'), 'throw new Error("boom at import");\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('registers the strategies a module exports', async () => {
    const registry = builtinStrategies();
    expect(await loadStrategyPlugin(registry, join(dir, 'last-wins.mjs'))).toEqual(['last-wins']);
    expect(registry.get('last-wins').name).toBe('last-wins');
  });

  it('names the plugin when it cannot be found, loaded or used', async () => {
    await expect(loadStrategyPlugin(builtinStrategies(), join(dir, 'missing.mjs'))).rejects.toMatchObject({ reason: 'PLUGIN_NOT_FOUND' });
    await expect(loadStrategyPlugin(builtinStrategies(), join(dir, 'broken.mjs'))).rejects.toMatchObject({ reason: 'PLUGIN_LOAD_FAILED' });
    const invalid = loadStrategyPlugin(builtinStrategies(), join(dir, 'empty.mjs'));
    await expect(invalid).rejects.toMatchObject({ reason: 'PLUGIN_INVALID' });
    await expect(invalid).rejects.toThrow(/empty\.mjs/);
  });

  it('refuses a plugin strategy whose name a built-in already has', async () => {
    const registry = builtinStrategies();
    await writeFile(join(dir, 'clash.mjs'), LAST_WINS.replace("name: 'last-wins'", "name: 'fedavg'"));
    await expect(loadStrategyPlugin(registry, join(dir, 'clash.mjs'))).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
  });

  it('runs a federation on a plugin strategy loaded by the coordinator', async () => {
    const stack = await startStack({ strategyPlugins: [join(dir, 'last-wins.mjs')] });
    const raw = await stack.rawSite();
    try {
      const base = toyModel();
      await stack.admin.createFederation({ name: 'plugged', settings: { strategy: 'last-wins', rounds: 1, roundDeadlineSeconds: 60 }, initialModel: encodeSafetensors(base) });
      const key: SigningKey = await addSite(stack, 'p-site', ['plugged']);
      const run = await stack.admin.startRun('plugged');
      expect((await stack.admin.getRound(run.id, 1)).config).toEqual({ plugin: 'yes' });
      const weights = toyTrain(base, 'p-site', 1);
      expect(await raw.send({ key, site: 'p-site', federation: 'plugged', runId: run.id, round: 1, weights })).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
      expect((await stack.admin.waitForRun(run.id)).status).toBe('RUN_STATUS_FINISHED');
      expect((await stack.admin.getRound(run.id, 1)).metrics['plugin_rounds']).toBe(1);
    } finally {
      await raw.close();
      await stack.stop();
    }
  });
});
