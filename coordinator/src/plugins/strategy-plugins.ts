import { Reason, isTributaryError } from '@tributary/proto';
import type { Strategy, StrategyRegistry } from '../strategies/index.js';
import { loadPlugin, pluginError, pluginExport } from './loader.js';

/**
 * What a strategy plugin module exports: its strategies, or a `register` function that adds
 * them to the registry itself.
 *
 * ```js
 * // last-wins.mjs, loaded with --strategy-plugin ./last-wins.mjs
 * export const strategies = [new LastWinsStrategy()];
 * ```
 */
export interface StrategyPluginModule {
  strategies?: Strategy[];
  register?: (registry: StrategyRegistry) => void | Promise<void>;
}

/**
 * Loads a third-party strategy module (a path or a package name) into the registry. The module
 * exports `strategies: Strategy[]`, or `register(registry)` to add its own.
 */
export async function loadStrategyPlugin(registry: StrategyRegistry, specifier: string, opts: { cwd?: string } = {}): Promise<string[]> {
  const kind = 'strategy plugin';
  const plugin = await loadPlugin(specifier, { kind, ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }) });
  const before = new Set(registry.names());
  const register = pluginExport(plugin, 'register');
  const strategies = pluginExport(plugin, 'strategies');
  try {
    if (typeof register === 'function') {
      await (register as (r: StrategyRegistry) => unknown)(registry);
    } else if (Array.isArray(strategies)) {
      for (const s of strategies as unknown[]) {
        if (!isStrategy(s)) throw pluginError(kind, specifier, Reason.PLUGIN_INVALID, 'exports a strategy without name, validateOptions, selectSites, siteConfig and createAggregator');
        registry.register(s);
      }
    } else {
      throw pluginError(kind, specifier, Reason.PLUGIN_INVALID, 'exports neither `strategies` (an array) nor `register(registry)`');
    }
  } catch (err) {
    if (isTributaryError(err)) throw err;
    throw pluginError(kind, specifier, Reason.PLUGIN_LOAD_FAILED, `failed to register: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  const added = registry.names().filter((n) => !before.has(n));
  if (added.length === 0) throw pluginError(kind, specifier, Reason.PLUGIN_INVALID, 'registered no strategy');
  return added;
}

function isStrategy(s: unknown): s is Strategy {
  if (typeof s !== 'object' || s === null) return false;
  const o = s as Record<string, unknown>;
  return (
    typeof o['name'] === 'string' &&
    typeof o['validateOptions'] === 'function' &&
    typeof o['selectSites'] === 'function' &&
    typeof o['siteConfig'] === 'function' &&
    typeof o['createAggregator'] === 'function'
  );
}
