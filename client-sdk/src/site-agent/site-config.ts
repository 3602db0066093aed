import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Reason, TributaryError } from '@tributary/proto';

/** Largest site config file read. */
const MAX_CONFIG_BYTES = 64 * 1024;

/**
 * Keys of a `tributary-site run --config site.yaml` file: every flag of `run`, spelled with
 * underscores (`--max-tasks` is `max_tasks`), and `command`, the training command as a list.
 */
export const SITE_CONFIG_KEYS = [
  'federation',
  'coordinator',
  'nats',
  'key',
  'max_tasks',
  'work_dir',
  'keep_task_dirs',
  'verbose',
  'json',
  'tls_ca',
  'tls_cert',
  'tls_key',
  'command',
] as const;
export type SiteConfigKey = (typeof SITE_CONFIG_KEYS)[number];

/** A site config file's settings, checked; paths resolved against the file's directory. */
export interface SiteConfig {
  readonly path: string;
  readonly federation?: string;
  readonly coordinator?: string;
  /** One URL or several, joined with commas as `--nats` takes them. */
  readonly nats?: string;
  readonly key?: string;
  readonly maxTasks?: number;
  readonly workDir?: string;
  readonly keepTaskDirs?: boolean;
  readonly verbose?: boolean;
  readonly json?: boolean;
  /** TLS files (PEM) for the coordinator and NATS: the CA to trust; a client certificate and key for mutual TLS. */
  readonly tlsCa?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly command?: readonly string[];
}

/**
 * Reads a site config file (YAML): a mapping whose keys must all be known, each value of its
 * key's type. `key`, `work_dir` and the `tls_*` files are relative to the file's directory; `command` runs in the
 * agent's working directory, as it does when given after `--`.
 */
export async function readSiteConfig(file: string, cwd: string = process.cwd()): Promise<SiteConfig> {
  const path = resolve(cwd, file);
  let text: string;
  try {
    const bytes = await readFile(path);
    if (bytes.length > MAX_CONFIG_BYTES) throw configError(path, `${bytes.length} bytes, more than ${MAX_CONFIG_BYTES}`);
    text = bytes.toString('utf8');
  } catch (err) {
    if (err instanceof TributaryError) throw err;
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw TributaryError.of(Reason.USAGE, `cannot read config file ${path}: ${why}`, { cause: err });
  }
  const { parseDocument } = await import('yaml');
  const doc = parseDocument(text, { prettyErrors: false });
  const firstError = doc.errors[0];
  if (firstError !== undefined) {
    const line = firstError.linePos?.[0].line;
    throw configError(path, `not valid YAML${line === undefined ? '' : ` (line ${line})`}: ${firstError.message.split('\n')[0]}`);
  }
  const values: unknown = doc.toJS();
  if (values === null || values === undefined) return { path };
  if (typeof values !== 'object' || Array.isArray(values)) throw configError(path, 'expected a mapping of settings (key: value)');
  const record = values as Record<string, unknown>;
  for (const k of Object.keys(record)) {
    if (!(SITE_CONFIG_KEYS as readonly string[]).includes(k)) {
      throw configError(path, `unknown key "${k}" (known keys: ${SITE_CONFIG_KEYS.join(', ')})`);
    }
  }
  const base = dirname(path);
  const read = new ValueReader(path, record);
  const pathOf = (k: SiteConfigKey): string | undefined => {
    const v = read.text(k);
    return v === undefined ? undefined : resolve(base, v);
  };
  const config: SiteConfig = {
    path,
    ...optional('federation', read.text('federation')),
    ...optional('coordinator', read.text('coordinator')),
    ...optional('nats', read.urls('nats')),
    ...optional('key', pathOf('key')),
    ...optional('maxTasks', read.positiveInt('max_tasks')),
    ...optional('workDir', pathOf('work_dir')),
    ...optional('keepTaskDirs', read.flag('keep_task_dirs')),
    ...optional('verbose', read.flag('verbose')),
    ...optional('json', read.flag('json')),
    ...optional('tlsCa', pathOf('tls_ca')),
    ...optional('tlsCert', pathOf('tls_cert')),
    ...optional('tlsKey', pathOf('tls_key')),
    ...optional('command', read.command('command')),
  };
  return Object.freeze(config);
}

function optional<K extends string, V>(name: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: V };
}

/** Reads typed values out of a parsed config file, each mistake named with its key. */
class ValueReader {
  constructor(
    private readonly path: string,
    private readonly values: Readonly<Record<string, unknown>>,
  ) {}

  text(k: SiteConfigKey): string | undefined {
    const v = this.values[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || v.trim() === '') throw this.#wrong(k, 'a non-empty string', v);
    return v;
  }

  urls(k: SiteConfigKey): string | undefined {
    const v = this.values[k];
    if (Array.isArray(v)) {
      if (v.length === 0 || !v.every((u) => typeof u === 'string' && u.trim() !== '' && !u.includes(','))) throw this.#wrong(k, 'a URL or a non-empty list of URLs', v);
      return v.join(',');
    }
    return this.text(k);
  }

  positiveInt(k: SiteConfigKey): number | undefined {
    const v = this.values[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw this.#wrong(k, 'a positive integer', v);
    return v;
  }

  flag(k: SiteConfigKey): boolean | undefined {
    const v = this.values[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw this.#wrong(k, 'true or false', v);
    return v;
  }

  command(k: SiteConfigKey): readonly string[] | undefined {
    const v = this.values[k];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.length === 0 || !v.every((a) => typeof a === 'string')) {
      throw this.#wrong(k, 'a non-empty list of strings, e.g. [python3, train.py]', v);
    }
    return Object.freeze([...(v as string[])]);
  }

  #wrong(k: string, expected: string, got: unknown): TributaryError {
    return configError(this.path, `"${k}" must be ${expected}, got ${JSON.stringify(got)}`);
  }
}

function configError(path: string, why: string): TributaryError {
  return TributaryError.of(Reason.USAGE, `invalid config file ${path}: ${why}`);
}
