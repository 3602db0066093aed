import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CHECK = join(REPO, 'docs', 'check-examples.mjs');
const ENTRY_POINTS = ['client-sdk/src/index.ts', 'client-sdk/src/testing/index.ts', 'client-sdk/src/simulation/index.ts'];

/** The names an entry file exports, from its `export { ... } from` and `export type { ... } from` lists. */
function exportedNames(source: string): string[] {
  const names: string[] = [];
  for (const m of source.matchAll(/^export\s+(?:type\s+)?\{([^}]*)\}/gm)) {
    for (const item of m[1]!.split(',')) {
      const name = item.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop()!.trim();
      if (name !== '') names.push(name);
    }
  }
  return names;
}

function check(files: string[]): Promise<{ status: number; output: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [CHECK, ...files], { cwd: REPO }, (err, stdout, stderr) =>
      done({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, output: `${stdout}${stderr}` }),
    );
  });
}

describe('the SDK guide, docs/sdk.md', () => {
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'tributary-doc-examples-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('names every public export of the SDK, its testing entry and its simulation entry', async () => {
    const guide = await readFile(join(REPO, 'docs', 'sdk.md'), 'utf8');
    const missing: string[] = [];
    for (const entry of ENTRY_POINTS) {
      const names = exportedNames(await readFile(join(REPO, entry), 'utf8'));
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) if (!new RegExp(`\\b${name}\\b`).test(guide)) missing.push(`${entry}: ${name}`);
    }
    expect(missing).toEqual([]);
  });

  it('has examples that compile against the built packages, as do the package READMEs', async () => {
    const r = await check([]);
    expect(r.output).toMatch(/examples in 4 files type-check/);
    expect(r.status).toBe(0);
  }, 120_000);

  it('fails the check when an example stops compiling, naming the guide and the line', async () => {
    const guide = join(work, 'broken.md');
    await writeFile(guide, ['# A guide', '', '```ts', "import { SiteClient } from '@tributary/client-sdk';", '', 'await SiteClient.connectTo({});', '```', ''].join('\n'));
    const r = await check([guide]);
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/broken\.md:6:\d+: error TS\d+: Property 'connectTo' does not exist/);
  }, 120_000);
});
