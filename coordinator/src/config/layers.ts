import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Reason, TributaryError } from '@tributary/proto';
import { invalidValue } from './values.js';
import type { ValueLabel } from './values.js';

/** A value as flags, the environment or a YAML file give it, before validation. */
export type RawValue = string | number | boolean | readonly string[];

/** Where a setting's value came from. */
export interface SettingSource {
  /** `--grpc-listen`, `TRIBUTARY_GRPC_LISTEN` or `config file /etc/tributary.yaml`. */
  readonly label: string;
  /** Relative paths resolve against this: the config file's directory, else the working directory. */
  readonly baseDir: string;
}

/** A setting's raw value with its source; `what` names both for error messages. */
export interface Found<T> {
  readonly value: T;
  readonly what: ValueLabel;
  readonly source: SettingSource;
}

/** A YAML config file, parsed and checked for unknown keys. */
export interface ConfigFile {
  readonly path: string;
  readonly values: Readonly<Record<string, unknown>>;
}

interface SettingNames {
  readonly flagKey: string;
  readonly flag: string;
  readonly env: string;
}

/**
 * Settings in layers: flags > environment (`TRIBUTARY_<KEY>`) > config file > defaults (the
 * caller's). Keys are the YAML spellings (`grpc_listen`); the flags object uses camelCase
 * (`grpcListen`) and is shown as `--grpc-listen`.
 */
export class SettingLayers<K extends string> {
  private readonly names: Readonly<Record<K, SettingNames>>;

  constructor(
    keys: readonly K[],
    private readonly sources: {
      readonly flags: Readonly<Partial<Record<string, RawValue | undefined>>>;
      readonly env: Readonly<Record<string, string | undefined>>;
      readonly file?: ConfigFile | undefined;
      readonly cwd: string;
      /** Flag spellings that differ from `--<key-with-dashes>`. */
      readonly flagLabels?: Partial<Record<K, string>>;
    },
  ) {
    const names = {} as Record<K, SettingNames>;
    for (const key of keys) {
      names[key] = {
        flagKey: key.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()),
        flag: sources.flagLabels?.[key] ?? `--${key.replace(/_/g, '-')}`,
        env: `TRIBUTARY_${key.toUpperCase()}`,
      };
    }
    this.names = names;
  }

  /** The environment variable of a key. */
  envName(key: K): string {
    return this.names[key].env;
  }

  /** The first layer that sets `key`, or undefined (the caller's default applies). */
  raw(key: K): Found<unknown> | undefined {
    const names = this.names[key];
    const { flags, env, file, cwd } = this.sources;
    const flagValue = flags[names.flagKey];
    if (flagValue !== undefined && !(Array.isArray(flagValue) && flagValue.length === 0)) {
      return found(key, flagValue, { label: names.flag, baseDir: cwd });
    }
    const envValue = env[names.env];
    if (envValue !== undefined && envValue.trim() !== '') {
      return found(key, envValue, { label: names.env, baseDir: cwd });
    }
    const fileValue = file?.values[key];
    if (file !== undefined && fileValue !== undefined && fileValue !== null) {
      return found(key, fileValue, { label: `config file ${file.path}`, baseDir: dirname(file.path) });
    }
    return undefined;
  }

  /** A scalar setting as text (numbers as written). */
  text(key: K): Found<string> | undefined {
    const f = this.raw(key);
    if (f === undefined) return undefined;
    if (typeof f.value === 'string') return { ...f, value: f.value };
    if (typeof f.value === 'number' || typeof f.value === 'boolean') return { ...f, value: String(f.value) };
    throw invalidValue(f.what, f.value, 'expected a single value');
  }

  /** A list setting: a YAML list, repeated flags, or one string of comma-separated entries. */
  list(key: K): Found<string[]> | undefined {
    const f = this.raw(key);
    if (f === undefined) return undefined;
    const items: unknown[] = Array.isArray(f.value) ? f.value : [f.value];
    const out: string[] = [];
    for (const item of items) {
      if (typeof item !== 'string' && typeof item !== 'number') {
        throw invalidValue(f.what, f.value, 'expected a list of strings');
      }
      out.push(...String(item).split(',').map((s) => s.trim()).filter((s) => s !== ''));
    }
    return { ...f, value: out };
  }
}

function found<T>(key: string, value: T, source: SettingSource): Found<T> {
  return { value, source, what: { name: key, from: source.label } };
}

/**
 * Reads a YAML config file: a mapping whose keys must all be known (a typo is an error that
 * names the key, never a silently ignored setting).
 */
export async function readConfigFile(path: string, knownKeys: readonly string[]): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String((err as Error).message);
    throw TributaryError.of(
      Reason.INVALID_ARGUMENT,
      `cannot read config file ${path}: ${why}`,
      { cause: err, details: { hint: 'Check --config / TRIBUTARY_CONFIG.' } },
    );
  }
  // Loaded on demand: only `serve --config` reads YAML, and every CLI command imports this module.
  const { parseDocument } = await import('yaml');
  const doc = parseDocument(text, { prettyErrors: false });
  const firstError = doc.errors[0];
  if (firstError !== undefined) {
    const line = firstError.linePos?.[0].line;
    throw configFileError(path, `not valid YAML${line === undefined ? '' : ` (line ${line})`}: ${firstError.message.split('\n')[0]}`);
  }
  const values: unknown = doc.toJS();
  if (values === null || values === undefined) return { path, values: {} };
  if (typeof values !== 'object' || Array.isArray(values)) {
    throw configFileError(path, 'expected a mapping of settings (key: value)');
  }
  const record = values as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!knownKeys.includes(key)) {
      throw configFileError(path, `unknown key "${key}"`, `Known keys: ${knownKeys.join(', ')}.`);
    }
  }
  return { path, values: record };
}

function configFileError(path: string, why: string, hint?: string): TributaryError {
  return TributaryError.of(
    Reason.INVALID_ARGUMENT,
    `invalid config file ${path}: ${why}`,
    hint === undefined ? {} : { details: { hint } },
  );
}

/** Resolves a path setting against its source's base directory. */
export function resolvePath(f: Found<string>): string {
  return resolve(f.source.baseDir, f.value);
}
