import { accessSync, constants, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Reason, TributaryError } from '@tributary/proto';

/** The SDK's package, whose `tributary-site` program runs simulations; the coordinator never imports it. */
export const SITE_SDK_PACKAGE = '@tributary/client-sdk';
export const SITE_AGENT_BIN = 'tributary-site';
export const SITE_SDK_INSTALL_HINT = `Install the site SDK beside the CLI: \`npm install ${SITE_SDK_PACKAGE}\` (it provides ${SITE_AGENT_BIN}).`;

/** How to start `tributary-site`: a JavaScript file run with this Node, or a program found on PATH. */
export interface SiteAgentProgram {
  readonly command: string;
  /** Arguments that come before the subcommand's own (the script, for a JavaScript bin). */
  readonly args: readonly string[];
  /** Where it was found: `package` (module resolution) or `path` (PATH). */
  readonly foundBy: 'package' | 'path';
}

export interface LocateSiteAgentOptions {
  /**
   * Directories module resolution starts from (NODE_PATH is honoured as well).
   * @default the working directory, then this CLI's own installation
   */
  readonly from: readonly string[];
  /** Searched for an executable `tributary-site` when resolution finds no SDK. */
  readonly path: string | undefined;
}

/** This CLI's installation: an SDK installed beside it resolves from here. */
export const CLI_INSTALL_DIR = dirname(fileURLToPath(import.meta.url));

/**
 * The installed `tributary-site`: the SDK package's `bin` as Node's module resolution finds
 * `@tributary/client-sdk/package.json` from each of `from`, else the first executable on `path`.
 * Throws SITE_AGENT_MISSING, with the install command as hint, when there is none.
 */
export function locateSiteAgent(options: LocateSiteAgentOptions): SiteAgentProgram {
  for (const base of options.from) {
    const manifest = resolveFrom(base, `${SITE_SDK_PACKAGE}/package.json`);
    if (manifest === undefined) continue;
    const script = binOf(manifest);
    if (script !== undefined) return { command: process.execPath, args: [script], foundBy: 'package' };
  }
  for (const dir of (options.path ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = resolve(dir, SITE_AGENT_BIN);
    if (executable(candidate)) return { command: candidate, args: [], foundBy: 'path' };
  }
  throw TributaryError.of(Reason.SITE_AGENT_MISSING, `${SITE_SDK_PACKAGE} is not installed: no ${SITE_AGENT_BIN} program was found`, { details: { hint: SITE_SDK_INSTALL_HINT } });
}

function resolveFrom(base: string, request: string): string | undefined {
  try {
    // The file name only anchors resolution at `base`; it need not exist.
    return createRequire(join(resolve(base), 'package.json')).resolve(request);
  } catch {
    return undefined;
  }
}

/** The absolute path of the package's `tributary-site` bin, if its manifest declares one that exists. */
function binOf(manifest: string): string | undefined {
  try {
    const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { bin?: unknown };
    const bin = typeof pkg.bin === 'object' && pkg.bin !== null ? (pkg.bin as Record<string, unknown>)[SITE_AGENT_BIN] : undefined;
    if (typeof bin !== 'string') return undefined;
    const script = resolve(dirname(manifest), bin);
    accessSync(script, constants.R_OK);
    return script;
  } catch {
    return undefined;
  }
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
