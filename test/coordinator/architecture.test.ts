import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const COORDINATOR_SRC = join(REPO, 'coordinator/src');

/** The coordinator's folders, one concern each (docs/architecture.md). */
const FOLDERS = [
  'aggregation',
  'api',
  'audit',
  'auth',
  'cli',
  'config',
  'dashboard',
  'dev',
  'federations',
  'identity',
  'ingest',
  'models',
  'nats-auth',
  'observability',
  'plugins',
  'rounds',
  'sites',
  'state',
  'strategies',
  'tracking',
  'updates',
] as const;

/** What a folder must not import (directly), by the layering in docs/architecture.md. */
const FORBIDDEN: Record<string, readonly string[]> = {
  state: ['rounds', 'ingest', 'api', 'cli', 'tracking'],
  rounds: ['ingest', 'api', 'cli', 'aggregation'],
  ingest: ['api', 'cli', 'aggregation'],
};

/** Folders whose code is the server: the CLI process loads them only on demand. */
const SERVER_FOLDERS = new Set<string>(FOLDERS.filter((f) => f !== 'cli' && f !== 'config'));
/** CLI commands that run server code in-process, loading it with `import()` when they run. */
const CLI_COMMANDS_LOADING_THE_SERVER = new Set(['cli/commands/dev.ts', 'cli/commands/serve.ts', 'cli/commands/nats/init.ts', 'cli/commands/audit/verify.ts', 'cli/commands/tls/init.ts', 'cli/commands/aggregator.ts']);

/** One import of one file, as written and as resolved. */
interface Import {
  /** The importing file, relative to the repository. */
  readonly file: string;
  readonly specifier: string;
  /** The imported file relative to the repository, for relative specifiers. */
  readonly target: string | undefined;
  /** `import type` / `export type`, or every named binding type-only: nothing loads at run time. */
  readonly typeOnly: boolean;
  /** `import('...')`: loaded when the code runs, not when the module loads. */
  readonly dynamic: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'generated' ? [] : sourceFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

/** The import and export-from statements and `import()` calls of a TypeScript file. */
function importsOf(path: string): Import[] {
  const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  const file = relative(REPO, path).split(sep).join('/');
  const found: Import[] = [];
  const add = (specifier: string, typeOnly: boolean, dynamic: boolean): void => {
    const target = specifier.startsWith('.') ? relative(REPO, resolve(dirname(path), specifier.replace(/\.js$/, '.ts'))).split(sep).join('/') : undefined;
    found.push({ file, specifier, target, typeOnly, dynamic });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const bindings = clause?.namedBindings;
      const allTypes =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined && bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier.text, allTypes, false);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.exportClause;
      const allTypes = node.isTypeOnly || (clause !== undefined && ts.isNamedExports(clause) && clause.elements.length > 0 && clause.elements.every((e) => e.isTypeOnly));
      add(node.moduleSpecifier.text, allTypes, false);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg !== undefined && ts.isStringLiteral(arg)) add(arg.text, false, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** `api` for coordinator/src/api/call.ts; undefined for a top-level file (the composition root). */
function folderOf(file: string): string | undefined {
  const parts = relative('coordinator/src', file).split('/');
  return parts.length > 1 ? parts[0] : undefined;
}

function describeImport(i: Import): string {
  return `${i.file} imports '${i.specifier}'${i.typeOnly ? ' (types)' : ''}${i.dynamic ? ' (dynamic)' : ''}`;
}

const coordinatorImports = sourceFiles(COORDINATOR_SRC).flatMap(importsOf);
/** Imports from one coordinator folder into another, with the folders they join. */
const crossFolder = coordinatorImports.flatMap((i) => {
  const from = folderOf(i.file);
  const to = i.target === undefined ? undefined : folderOf(i.target);
  return from !== undefined && to !== undefined && from !== to && i.target?.startsWith('coordinator/src/') ? [{ from, to, via: i }] : [];
});

/** The first cycle in the folder graph, as a chain of imports, or undefined. */
function folderCycle(): string[] | undefined {
  const edges = new Map<string, Map<string, Import>>();
  for (const e of crossFolder) {
    const out = edges.get(e.from) ?? new Map<string, Import>();
    if (!out.has(e.to)) out.set(e.to, e.via);
    edges.set(e.from, out);
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const path: Array<{ folder: string; via?: Import }> = [];
  const walk = (folder: string, via?: Import): string[] | undefined => {
    if (state.get(folder) === 'done') return undefined;
    if (state.get(folder) === 'visiting') {
      const start = path.findIndex((p) => p.folder === folder);
      const chain = [...path.slice(start + 1), { folder, via }];
      return [path[start]!.folder, ...chain.map((p) => `-> ${p.folder} (${describeImport(p.via!)})`)];
    }
    state.set(folder, 'visiting');
    path.push({ folder, ...(via ? { via } : {}) });
    for (const [to, edge] of edges.get(folder) ?? []) {
      const cycle = walk(to, edge);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(folder, 'done');
    return undefined;
  };
  for (const folder of FOLDERS) {
    const cycle = walk(folder);
    if (cycle) return cycle;
  }
  return undefined;
}

/**
 * The chains of run-time imports from a CLI module to server code, outside the `import()` calls
 * of the commands that run the server.
 */
function cliChainsIntoTheServer(): string[] {
  const byFile = new Map<string, Import[]>();
  for (const i of coordinatorImports) byFile.set(i.file, [...(byFile.get(i.file) ?? []), i]);
  const chains: string[] = [];
  const seen = new Set<string>();
  const queue: Array<{ file: string; chain: string[] }> = [...byFile.keys()].filter((f) => folderOf(f) === 'cli').map((file) => ({ file, chain: [file] }));
  while (queue.length > 0) {
    const { file, chain } = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const folder = folderOf(file);
    if (folder === undefined ? file !== 'coordinator/src/admin-client.ts' : SERVER_FOLDERS.has(folder)) {
      chains.push(chain.join(' -> '));
      continue;
    }
    for (const i of byFile.get(file) ?? []) {
      if (i.typeOnly || i.target === undefined || !i.target.startsWith('coordinator/src/')) continue;
      if (i.dynamic && CLI_COMMANDS_LOADING_THE_SERVER.has(relative('coordinator/src', i.file))) continue;
      queue.push({ file: i.target, chain: [...chain, i.target] });
    }
  }
  return chains;
}

/** Imports of a package's sources that reach into another package by name or by path. */
function packageCrossings(pkg: string, forbidden: readonly string[]): string[] {
  return sourceFiles(join(REPO, pkg, 'src'))
    .flatMap(importsOf)
    .filter((i) =>
      forbidden.some((other) =>
        i.target === undefined ? i.specifier === `@tributary/${other}` || i.specifier.startsWith(`@tributary/${other}/`) : i.target.startsWith(`${other}/`),
      ),
    )
    .map(describeImport);
}

describe('the coordinator architecture', () => {
  it('has a known concern for every folder', () => {
    const folders = readdirSync(COORDINATOR_SRC).filter((name) => statSync(join(COORDINATOR_SRC, name)).isDirectory());
    expect(folders.filter((f) => !(FOLDERS as readonly string[]).includes(f))).toEqual([]);
  });

  it('has no import cycle between folders', () => {
    expect(folderCycle()).toBeUndefined();
  });

  it('keeps strategies to strategies and @tributary/proto', () => {
    const outside = coordinatorImports
      .filter((i) => folderOf(i.file) === 'strategies')
      .filter((i) => (i.target === undefined ? !(i.specifier === '@tributary/proto' || i.specifier.startsWith('node:')) : folderOf(i.target) !== 'strategies'))
      .map(describeImport);
    expect(outside).toEqual([]);
  });

  it('keeps state, rounds and ingest below the folders that use them', () => {
    const violations = crossFolder.filter((e) => FORBIDDEN[e.from]?.includes(e.to)).map((e) => describeImport(e.via));
    expect(violations).toEqual([]);
  });

  it('lets only the composition root import api', () => {
    expect(crossFolder.filter((e) => e.to === 'api').map((e) => describeImport(e.via))).toEqual([]);
  });

  it('loads no server code into the CLI except on demand, in the commands that run it', () => {
    expect(cliChainsIntoTheServer()).toEqual([]);
  });

  it('keeps proto free of the SDK and the coordinator', () => {
    expect(packageCrossings('proto', ['client-sdk', 'coordinator'])).toEqual([]);
  });

  it('keeps the SDK and the coordinator apart', () => {
    expect(packageCrossings('client-sdk', ['coordinator'])).toEqual([]);
    expect(packageCrossings('coordinator', ['client-sdk'])).toEqual([]);
  });
});
