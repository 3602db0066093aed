import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Reason, TributaryError } from '@tributary/proto';
import type { ReasonCode } from '@tributary/proto';

/**
 * Why a plugin could not be used: PLUGIN_NOT_FOUND (no file at the path, or no package of that
 * name), PLUGIN_LOAD_FAILED (the module threw while loading: syntax error, missing dependency,
 * top-level throw) or PLUGIN_INVALID (it does not export what the plugin kind requires).
 */
export type PluginReasonCode = Extract<ReasonCode, `PLUGIN_${string}`>;

export interface LoadPluginOptions {
  /** What the plugin is for, as errors name it. @default 'plugin' */
  kind?: string;
  /** Paths are resolved, and packages looked up, from here. @default process.cwd() */
  cwd?: string;
}

export interface LoadedPlugin {
  /** The module as it was named (path or package). */
  specifier: string;
  /** The URL that was imported. */
  resolved: string;
  /** The module's namespace. */
  namespace: Readonly<Record<string, unknown>>;
}

/** A plugin error naming the plugin. */
export function pluginError(
  kind: string,
  specifier: string,
  reason: PluginReasonCode,
  problem: string,
  cause?: unknown,
): TributaryError {
  return TributaryError.of(reason, `${kind} "${specifier}" ${problem}`, {
    ...(cause === undefined ? {} : { cause }),
    details: { plugin: specifier },
  });
}

/** Paths start with `.` or `/` (or are absolute, or file: URLs); anything else is a package name. */
export function isPathSpecifier(specifier: string): boolean {
  return specifier.startsWith('.') || specifier.startsWith('file:') || isAbsolute(specifier);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function codeOf(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

/**
 * Loads a plugin module by path (relative to `cwd`) or package name (looked up from `cwd`, then
 * from the coordinator's own installation) with a dynamic import. Every failure is a
 * TributaryError that names the plugin: PLUGIN_NOT_FOUND or PLUGIN_LOAD_FAILED.
 */
export async function loadPlugin(specifier: string, options: LoadPluginOptions = {}): Promise<LoadedPlugin> {
  const kind = options.kind ?? 'plugin';
  const cwd = options.cwd ?? process.cwd();
  if (typeof specifier !== 'string' || specifier.trim() === '') {
    throw pluginError(kind, String(specifier), Reason.PLUGIN_NOT_FOUND, 'is not a module path or package name');
  }
  if (isPathSpecifier(specifier)) {
    const path = specifier.startsWith('file:') ? fileURLToPath(specifier) : resolve(cwd, specifier);
    try {
      await stat(path);
    } catch (err) {
      throw pluginError(kind, specifier, Reason.PLUGIN_NOT_FOUND, `was not found: no file at ${path}`, err);
    }
    const url = pathToFileURL(path).href;
    return { specifier, resolved: url, namespace: await importModule(kind, specifier, url) };
  }

  let resolvedPath: string | undefined;
  try {
    resolvedPath = createRequire(join(cwd, 'noop.js')).resolve(specifier);
  } catch {
    // ESM-only packages cannot be resolved this way; they are resolved below.
  }
  if (resolvedPath !== undefined) {
    const url = pathToFileURL(resolvedPath).href;
    return { specifier, resolved: url, namespace: await importModule(kind, specifier, url) };
  }
  // Resolving before importing tells a missing package apart from a missing dependency of it.
  let url: string;
  try {
    url = import.meta.resolve(specifier);
  } catch (err) {
    if (codeOf(err) === 'ERR_MODULE_NOT_FOUND') {
      throw pluginError(kind, specifier, Reason.PLUGIN_NOT_FOUND, `was not found: no package of that name is installed (looked from ${cwd})`, err);
    }
    throw pluginError(kind, specifier, Reason.PLUGIN_LOAD_FAILED, `failed to load: ${messageOf(err)}`, err);
  }
  return { specifier, resolved: url, namespace: await importModule(kind, specifier, url) };
}

async function importModule(kind: string, specifier: string, url: string): Promise<Record<string, unknown>> {
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw pluginError(kind, specifier, Reason.PLUGIN_LOAD_FAILED, `failed to load: ${messageOf(err)}`, err);
  }
}

/**
 * A named export of a plugin, also found on its default export (how CommonJS modules and
 * `export default { ... }` modules present theirs).
 */
export function pluginExport(plugin: LoadedPlugin, name: string): unknown {
  const { namespace } = plugin;
  if (Object.hasOwn(namespace, name) && namespace[name] !== undefined) return namespace[name];
  const fallback = namespace['default'];
  if (typeof fallback === 'object' && fallback !== null && Object.hasOwn(fallback, name)) {
    return (fallback as Record<string, unknown>)[name];
  }
  return undefined;
}
