import { resolve } from 'node:path';
import { Reason, TributaryError, isTributaryError } from '@tributary/proto';
import type { Code } from '@tributary/proto';
import { loadPlugin, pluginError, pluginExport } from '../plugins/loader.js';
import { LevelTrackingStore } from './level-store.js';
import { MemoryTrackingStore } from './memory-store.js';
import { MlflowRestStore } from './mlflow-rest-store.js';
import type { TrackingStore } from './store.js';

/** Opens a store for a tracking URI of the scheme it was registered for. */
export type TrackingStoreBuilder = (uri: string) => TrackingStore | Promise<TrackingStore>;

/**
 * What a tracking plugin module exports: a map from URI scheme to builder, or a `register`
 * function that adds builders itself (or both).
 *
 * ```js
 * // my-store.mjs, selected by --tracking-uri kafka://broker/topic
 * export const trackingStores = { kafka: (uri) => KafkaTrackingStore.open(uri) };
 * ```
 */
export interface TrackingPluginModule {
  trackingStores?: Record<string, TrackingStoreBuilder>;
  register?: (registry: TrackingStoreRegistry) => void | Promise<void>;
}

const PLUGIN_KIND = 'tracking plugin';
const SCHEME = /^[a-z][a-z0-9+.-]*$/;
const URI_SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

const STORE_METHODS = [
  'createExperiment',
  'getExperiment',
  'getExperimentByName',
  'searchExperiments',
  'deleteExperiment',
  'createRun',
  'getRun',
  'updateRun',
  'searchRuns',
  'logBatch',
  'getMetricHistory',
  'deleteTag',
  'close',
] as const satisfies ReadonlyArray<keyof TrackingStore>;

/** Codes of a builder's TributaryError that open() passes on as they are. */
const KEPT_OPEN_CODES: ReadonlySet<Code> = new Set(['INVALID_ARGUMENT', 'NOT_FOUND', 'PERMISSION_DENIED', 'UNAUTHENTICATED']);

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function invalidPlugin(specifier: string, problem: string, cause?: unknown): TributaryError {
  return pluginError(PLUGIN_KIND, specifier, Reason.PLUGIN_INVALID, problem, cause);
}

interface Registration {
  builder: TrackingStoreBuilder;
  /** 'built-in', or the plugin module that registered it. */
  source: string;
}

/** The URI with any password hidden, for messages. */
function redact(uri: string): string {
  return uri.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/, '$1:***@');
}

/**
 * The path of a `level://PATH` (or `level:PATH`) URI, taken literally (no percent-decoding) and
 * resolved against the working directory: `level://./tracking`, `level:///var/lib/tributary`.
 */
export function levelPathOf(uri: string): string {
  const rest = uri.replace(/^level:(\/\/)?/i, '');
  if (rest === '') throw TributaryError.of(Reason.INVALID_TRACKING_URI, `tracking URI "${uri}" has no path; use level://PATH, e.g. level://./tracking`);
  return resolve(rest);
}

/**
 * Tracking URI scheme -> store builder, as MLflow's tracking store registry; open to plugins.
 * Built in: `level://PATH` (embedded LevelDB), `memory:`, `http://` and `https://` (an MLflow
 * tracking server through REST API 2.0).
 */
export class TrackingStoreRegistry {
  private readonly registrations = new Map<string, Registration>();

  /** A registry with the built-in schemes. */
  static withBuiltins(): TrackingStoreRegistry {
    const registry = new TrackingStoreRegistry();
    registry.register('level', (uri) => LevelTrackingStore.open(levelPathOf(uri)), { source: 'built-in' });
    registry.register('memory', () => MemoryTrackingStore.create(), { source: 'built-in' });
    const rest: TrackingStoreBuilder = (uri) => MlflowRestStore.create({ uri });
    registry.register('http', rest, { source: 'built-in' });
    registry.register('https', rest, { source: 'built-in' });
    return registry;
  }

  /** Adds (or replaces) the builder for a scheme (`kafka`, not `kafka:`; compared lower-case). */
  register(scheme: string, builder: TrackingStoreBuilder, options: { source?: string } = {}): void {
    const normalised = typeof scheme === 'string' ? scheme.toLowerCase() : '';
    if (!SCHEME.test(normalised)) {
      throw TributaryError.of(Reason.INVALID_TRACKING_URI, `"${String(scheme)}" is not a URI scheme (a letter, then letters, digits, +, - or .)`);
    }
    if (typeof builder !== 'function') {
      throw TributaryError.of(Reason.INVALID_TRACKING_URI, `the tracking store builder for scheme "${normalised}" is not a function`);
    }
    this.registrations.set(normalised, { builder, source: options.source ?? 'unknown' });
  }

  /** The known schemes, sorted. */
  schemes(): string[] {
    return [...this.registrations.keys()].sort();
  }

  has(scheme: string): boolean {
    return this.registrations.has(scheme.toLowerCase());
  }

  /**
   * Loads a plugin module (a path relative to `cwd`, or a package name) and registers the stores
   * it exports. Returns the schemes it added or replaced.
   */
  async loadPlugin(specifier: string, options: { cwd?: string } = {}): Promise<string[]> {
    const plugin = await loadPlugin(specifier, {
      kind: PLUGIN_KIND,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    const stores = pluginExport(plugin, 'trackingStores');
    const register = pluginExport(plugin, 'register');
    if (stores === undefined && register === undefined) {
      throw invalidPlugin(
        specifier,
        'exports neither `trackingStores` (a map from URI scheme to store builder) nor a `register(registry)` function',
      );
    }
    const added = new Set<string>();
    if (stores !== undefined) {
      if (typeof stores !== 'object' || stores === null || Array.isArray(stores)) {
        throw invalidPlugin(specifier, '`trackingStores` is not an object mapping schemes to builders');
      }
      for (const [scheme, builder] of Object.entries(stores)) {
        if (typeof builder !== 'function') {
          throw invalidPlugin(specifier, `\`trackingStores.${scheme}\` is not a function`);
        }
        try {
          this.register(scheme, builder as TrackingStoreBuilder, { source: specifier });
        } catch (err) {
          throw invalidPlugin(specifier, `registers an invalid scheme: ${messageOf(err)}`, err);
        }
        added.add(scheme.toLowerCase());
      }
    }
    if (register !== undefined) {
      if (typeof register !== 'function') {
        throw invalidPlugin(specifier, '`register` is not a function');
      }
      const before = new Map([...this.registrations].map(([s, r]) => [s, r.builder]));
      const scoped = this.scopedTo(specifier);
      try {
        await (register as (r: TrackingStoreRegistry) => unknown)(scoped);
      } catch (err) {
        const problem = `failed in register(): ${messageOf(err)}`;
        throw pluginError(PLUGIN_KIND, specifier, Reason.PLUGIN_LOAD_FAILED, problem, err);
      }
      for (const [s, r] of this.registrations) if (before.get(s) !== r.builder) added.add(s);
    }
    return [...added].sort();
  }

  /**
   * Opens the store a tracking URI names. An unknown scheme is INVALID_ARGUMENT listing the known
   * ones; a builder that throws is TRACKING_STORE_OPEN_FAILED naming the scheme and its plugin.
   */
  async open(uri: string): Promise<TrackingStore> {
    const known = this.schemes();
    const match = typeof uri === 'string' ? URI_SCHEME.exec(uri) : null;
    if (match === null) {
      throw TributaryError.of(
        Reason.INVALID_TRACKING_URI,
        `tracking URI "${redact(String(uri))}" has no scheme; known schemes: ${known.join(', ')} (e.g. level://./tracking)`,
        { details: { knownSchemes: known } },
      );
    }
    const scheme = match[1]!.toLowerCase();
    const registration = this.registrations.get(scheme);
    if (registration === undefined) {
      throw TributaryError.of(
        Reason.UNKNOWN_TRACKING_SCHEME,
        `unknown tracking store scheme "${scheme}" in "${redact(uri)}"; known schemes: ${known.join(', ')}. ` +
          'A plugin module can add schemes (--tracking-plugin <module or package>).',
        { details: { scheme, knownSchemes: known } },
      );
    }
    const origin =
      registration.source === 'built-in'
        ? `the built-in "${scheme}" store`
        : `the "${scheme}" store of ${PLUGIN_KIND} "${registration.source}"`;
    let store: unknown;
    try {
      store = await registration.builder(uri);
    } catch (err) {
      // A bad URI stays INVALID_ARGUMENT; anything else means the store cannot be used as configured.
      throw TributaryError.of(Reason.TRACKING_STORE_OPEN_FAILED, `${origin} could not open "${redact(uri)}": ${messageOf(err)}`, {
        ...(isTributaryError(err) && KEPT_OPEN_CODES.has(err.code) ? { code: err.code } : {}),
        cause: err,
        details: { scheme, plugin: registration.source },
      });
    }
    const missing = STORE_METHODS.filter((m) => typeof (store as Record<string, unknown> | null)?.[m] !== 'function');
    if (missing.length > 0) {
      try {
        await (store as { close?: () => unknown } | null)?.close?.();
      } catch {
        // It is refused either way; a failing close must not hide why.
      }
      throw TributaryError.of(
        Reason.PLUGIN_INVALID,
        `${origin} returned something that is not a TrackingStore for "${redact(uri)}" ` +
          `(missing ${missing.join(', ')})`,
        { details: { scheme, plugin: registration.source } },
      );
    }
    return store as TrackingStore;
  }

  // The registry a plugin's register() sees: what it adds is attributed to it.
  private scopedTo(source: string): TrackingStoreRegistry {
    return new Proxy(this, {
      get: (target, prop, receiver) => {
        if (prop === 'register') {
          return (scheme: string, builder: TrackingStoreBuilder) => target.register(scheme, builder, { source });
        }
        const value: unknown = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }
}

/** The process-wide registry the coordinator uses unless given its own. */
export const defaultTrackingStoreRegistry: TrackingStoreRegistry = TrackingStoreRegistry.withBuiltins();

/** Opens a tracking URI with the default registry (`level://PATH`, `memory:`, `http(s)://HOST`, plugins). */
export function openTrackingStore(
  uri: string,
  options: { registry?: TrackingStoreRegistry } = {},
): Promise<TrackingStore> {
  return (options.registry ?? defaultTrackingStoreRegistry).open(uri);
}

/** Loads a tracking plugin module into the default registry; returns the schemes it added. */
export function registerTrackingPlugin(
  moduleSpecifier: string,
  options: { cwd?: string; registry?: TrackingStoreRegistry } = {},
): Promise<string[]> {
  return (options.registry ?? defaultTrackingStoreRegistry).loadPlugin(
    moduleSpecifier,
    options.cwd === undefined ? {} : { cwd: options.cwd },
  );
}
