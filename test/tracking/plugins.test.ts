import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LevelTrackingStore,
  MemoryTrackingStore,
  MlflowRestStore,
  TrackingStoreRegistry,
  openTrackingStore,
  registerTrackingPlugin,
} from '@tributary/coordinator';
import { levelPathOf } from '../../coordinator/src/tracking/registry.js';
import { failureOf } from './failure.js';

// A third-party store as a plugin author would write it: plain JavaScript, no imports of ours.
const ACME_STORE = `
export class AcmeStore {
  constructor(uri) { this.uri = uri; this.experiments = new Map(); }
  async createExperiment(name) { const id = String(this.experiments.size + 1); this.experiments.set(id, name); return id; }
  async getExperiment(id) {
    return { experimentId: id, name: this.experiments.get(id), artifactLocation: this.uri, lifecycleStage: 'active', tags: {} };
  }
  async getExperimentByName() { throw new Error('not supported'); }
  async searchExperiments() { return { experiments: [] }; }
  async deleteExperiment() {}
  async createRun() { throw new Error('not supported'); }
  async getRun() { throw new Error('not supported'); }
  async updateRun() { throw new Error('not supported'); }
  async searchRuns() { return { runs: [] }; }
  async logBatch() {}
  async getMetricHistory() { return { metrics: [] }; }
  async deleteTag() {}
  async close() {}
}
`;

let dir: string;

async function pluginFile(name: string, source: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, source);
  return path;
}


beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tributary-plugins-'));
  await pluginFile('acme-store.mjs', `${ACME_STORE}\nexport const trackingStores = { acme: (uri) => new AcmeStore(uri) };\n`);
  await pluginFile(
    'acme-register.mjs',
    `${ACME_STORE}\nexport async function register(registry) { registry.register('acme-two', async (uri) => new AcmeStore(uri)); }\n`,
  );
  await pluginFile('acme-default.mjs', `${ACME_STORE}\nexport default { trackingStores: { acmedef: (uri) => new AcmeStore(uri) } };\n`);
  await pluginFile('empty.mjs', 'export const somethingElse = 1;\n');
  await pluginFile('broken.mjs', "throw new Error('the plugin exploded while loading');\n");
  await pluginFile('missing-dep.mjs', "import 'a-package-that-is-not-installed';\nexport const trackingStores = {};\n");
  await pluginFile(
    'throwing-builder.mjs',
    "export const trackingStores = { boom: () => { throw new Error('cannot reach the acme cluster'); } };\n",
  );
  await pluginFile('not-a-store.mjs', 'export const trackingStores = { half: () => ({ close() {} }) };\n');
  await pluginFile('bad-scheme.mjs', 'export const trackingStores = { "no good": () => ({}) };\n');
  // An installed package, found by name from the working directory.
  const pkg = join(dir, 'node_modules', 'acme-tracking');
  await mkdir(pkg, { recursive: true });
  await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: 'acme-tracking', type: 'module', main: 'index.js' }));
  await writeFile(join(pkg, 'index.js'), `${ACME_STORE}\nexport const trackingStores = { acmepkg: (uri) => new AcmeStore(uri) };\n`);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('tracking store registry', () => {
  it('opens memory:, level://PATH and http(s):// with the built-in stores', async () => {
    const registry = TrackingStoreRegistry.withBuiltins();
    expect(registry.schemes()).toEqual(['http', 'https', 'level', 'memory']);
    const memory = await registry.open('memory:');
    expect(memory).toBeInstanceOf(MemoryTrackingStore);
    const level = await registry.open(`level://${join(dir, 'level-store')}`);
    expect(level).toBeInstanceOf(LevelTrackingStore);
    const rest = await registry.open('https://mlflow.example.com/');
    expect(rest).toBeInstanceOf(MlflowRestStore);
    await Promise.all([memory.close(), level.close(), rest.close()]);
  });

  it('reads level:// paths literally, relative ones from the working directory', () => {
    expect(levelPathOf('level:///var/lib/tributary/tracking')).toBe('/var/lib/tributary/tracking');
    expect(levelPathOf('level://./data/tracking')).toBe(resolve('data/tracking'));
    expect(levelPathOf('level:data/100%done')).toBe(resolve('data/100%done'));
    expect(() => levelPathOf('level://')).toThrow(/has no path/);
  });

  it('refuses an unknown scheme with INVALID_ARGUMENT listing the known ones', async () => {
    const registry = TrackingStoreRegistry.withBuiltins();
    const err = await failureOf(registry.open('postgres://db/tracking'));
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'UNKNOWN_TRACKING_SCHEME' });
    expect(err.message).toContain('"postgres"');
    expect(err.message).toContain('known schemes: http, https, level, memory');
  });

  it('refuses a URI without a scheme', async () => {
    const err = await failureOf(TrackingStoreRegistry.withBuiltins().open('./tracking'));
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'INVALID_TRACKING_URI' });
    expect(err.message).toContain('known schemes: http, https, level, memory');
  });

  it('hides the password of a URI in errors', async () => {
    const err = await failureOf(TrackingStoreRegistry.withBuiltins().open('ftp://ann:hunter2@host/x'));
    expect(err.message).toContain('ftp://ann:***@host/x');
    expect(err.message).not.toContain('hunter2');
  });
});

describe('tracking plugins', () => {
  it('selects a third-party store exported as trackingStores by its scheme', async () => {
    const registry = TrackingStoreRegistry.withBuiltins();
    expect(await registry.loadPlugin('./acme-store.mjs', { cwd: dir })).toEqual(['acme']);
    expect(registry.schemes()).toContain('acme');
    const store = await registry.open('acme://bucket/runs');
    const id = await store.createExperiment('churn');
    expect(await store.getExperiment(id)).toMatchObject({ name: 'churn', artifactLocation: 'acme://bucket/runs' });
  });

  it('lets a plugin register its stores through register(registry)', async () => {
    const registry = TrackingStoreRegistry.withBuiltins();
    expect(await registry.loadPlugin(join(dir, 'acme-register.mjs'))).toEqual(['acme-two']);
    const store = await registry.open('ACME-TWO://x');
    expect(await store.createExperiment('e')).toBe('1');
  });

  it('finds trackingStores on a default export', async () => {
    const registry = TrackingStoreRegistry.withBuiltins();
    expect(await registry.loadPlugin(pathToFileURL(join(dir, 'acme-default.mjs')).href)).toEqual(['acmedef']);
  });

  it('loads a plugin package by name from the working directory', async () => {
    const registry = TrackingStoreRegistry.withBuiltins();
    expect(await registry.loadPlugin('acme-tracking', { cwd: dir })).toEqual(['acmepkg']);
    expect(await (await registry.open('acmepkg://z')).createExperiment('e')).toBe('1');
  });

  it('registers into the default registry and opens through openTrackingStore', async () => {
    expect(await registerTrackingPlugin('./acme-store.mjs', { cwd: dir })).toEqual(['acme']);
    const store = await openTrackingStore('acme://default');
    expect(await store.createExperiment('e')).toBe('1');
  });

  it('reports a missing module file as PLUGIN_NOT_FOUND naming it', async () => {
    const err = await failureOf(TrackingStoreRegistry.withBuiltins().loadPlugin('./nowhere.mjs', { cwd: dir }));
    expect(err).toMatchObject({ code: 'NOT_FOUND', reason: 'PLUGIN_NOT_FOUND' });
    expect(err.message).toContain('tracking plugin "./nowhere.mjs"');
    expect(err.message).toContain(join(dir, 'nowhere.mjs'));
  });

  it('reports a package that is not installed as PLUGIN_NOT_FOUND naming it', async () => {
    const err = await failureOf(TrackingStoreRegistry.withBuiltins().loadPlugin('tributary-no-such-plugin', { cwd: dir }));
    expect(err).toMatchObject({ code: 'NOT_FOUND', reason: 'PLUGIN_NOT_FOUND' });
    expect(err.message).toContain('tracking plugin "tributary-no-such-plugin"');
  });

  it('reports a module that throws while loading as PLUGIN_LOAD_FAILED with its error', async () => {
    const err = await failureOf(TrackingStoreRegistry.withBuiltins().loadPlugin('./broken.mjs', { cwd: dir }));
    expect(err).toMatchObject({ code: 'FAILED_PRECONDITION', reason: 'PLUGIN_LOAD_FAILED' });
    expect(err.message).toContain('tracking plugin "./broken.mjs" failed to load: the plugin exploded while loading');
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('tells a missing dependency of a plugin apart from a missing plugin', async () => {
    const err = await failureOf(TrackingStoreRegistry.withBuiltins().loadPlugin('./missing-dep.mjs', { cwd: dir }));
    expect(err).toMatchObject({ reason: 'PLUGIN_LOAD_FAILED' });
    expect(err.message).toContain('a-package-that-is-not-installed');
  });

  it('reports a module without trackingStores or register as PLUGIN_INVALID', async () => {
    const err = await failureOf(TrackingStoreRegistry.withBuiltins().loadPlugin('./empty.mjs', { cwd: dir }));
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'PLUGIN_INVALID' });
    expect(err.message).toContain('tracking plugin "./empty.mjs" exports neither `trackingStores`');
  });

  it('reports an invalid scheme in trackingStores as PLUGIN_INVALID', async () => {
    const err = await failureOf(TrackingStoreRegistry.withBuiltins().loadPlugin('./bad-scheme.mjs', { cwd: dir }));
    expect(err).toMatchObject({ reason: 'PLUGIN_INVALID' });
    expect(err.message).toContain('"no good"');
  });

  it('reports a builder that throws as TRACKING_STORE_OPEN_FAILED naming the scheme and plugin', async () => {
    const registry = TrackingStoreRegistry.withBuiltins();
    await registry.loadPlugin('./throwing-builder.mjs', { cwd: dir });
    const err = await failureOf(registry.open('boom://cluster'));
    expect(err).toMatchObject({ code: 'FAILED_PRECONDITION', reason: 'TRACKING_STORE_OPEN_FAILED' });
    expect(err.message).toBe(
      'the "boom" store of tracking plugin "./throwing-builder.mjs" could not open "boom://cluster": cannot reach the acme cluster',
    );
  });

  it('reports a builder that returns no TrackingStore as PLUGIN_INVALID listing what is missing', async () => {
    const registry = TrackingStoreRegistry.withBuiltins();
    await registry.loadPlugin('./not-a-store.mjs', { cwd: dir });
    const err = await failureOf(registry.open('half://x'));
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'PLUGIN_INVALID' });
    expect(err.message).toContain('missing createExperiment, getExperiment');
  });

  it('lists plugin schemes among the known ones', async () => {
    const registry = TrackingStoreRegistry.withBuiltins();
    await registry.loadPlugin('./acme-store.mjs', { cwd: dir });
    const err = await failureOf(registry.open('nope:x'));
    expect(err.message).toContain('known schemes: acme, http, https, level, memory');
  });
});
