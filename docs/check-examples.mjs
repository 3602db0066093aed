// Type-checks the ```ts examples of the guides against the built packages, as a site author's
// project would compile them: each block is a module of its own, importing `@tributary/*` by
// its package name. An example that stops compiling fails `npm run typecheck`, with the guide's
// file and line.
//
//   node docs/check-examples.mjs                 the guides below
//   node docs/check-examples.mjs FILE.md ...     these files
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const GUIDES = ['docs/sdk.md', 'client-sdk/README.md', 'proto/README.md', 'coordinator/README.md'];
// Inside the repository, so `@tributary/*` and `@types/node` resolve from its node_modules;
// ignored by git.
const WORK_ROOT = join(ROOT, '.doc-examples');
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/** The ```ts blocks of a markdown text: their code and the line of their opening fence. */
function tsBlocks(markdown) {
  const blocks = [];
  let open;
  markdown.split('\n').forEach((line, i) => {
    if (open === undefined && /^```ts\s*$/.test(line)) open = { fence: i + 1, lines: [] };
    else if (open !== undefined && /^```\s*$/.test(line)) {
      blocks.push({ fence: open.fence, code: open.lines.join('\n') });
      open = undefined;
    } else open?.lines.push(line);
  });
  return blocks;
}

async function main(files) {
  await mkdir(WORK_ROOT, { recursive: true });
  const work = await mkdtemp(join(WORK_ROOT, 'run-'));
  try {
    const origin = new Map();
    for (const file of files) {
      const blocks = tsBlocks(await readFile(file, 'utf8'));
      for (const [n, block] of blocks.entries()) {
        const name = `${relative(ROOT, file).replace(/[^A-Za-z0-9]+/g, '-')}-${n + 1}.ts`;
        // `export {}` makes a block without imports a module too: no block sees another's names.
        await writeFile(join(work, name), `${block.code}\nexport {};\n`);
        origin.set(name, { file, fence: block.fence });
      }
    }
    if (origin.size === 0) {
      console.log('check-examples: no ```ts examples found');
      return 0;
    }
    await writeFile(
      join(work, 'tsconfig.json'),
      JSON.stringify({
        extends: join(ROOT, 'tsconfig.base.json'),
        compilerOptions: { composite: false, declaration: false, declarationMap: false, sourceMap: false, noEmit: true, rootDir: '.' },
        files: [...origin.keys()],
      }),
    );
    const result = await new Promise((done) => {
      execFile(process.execPath, [TSC, '-p', work, '--pretty', 'false'], { cwd: work, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
        done({ failed: err !== null, output: `${stdout}${stderr}` }),
      );
    });
    if (!result.failed) {
      console.log(`check-examples: ${origin.size} examples in ${files.length} files type-check`);
      return 0;
    }
    // `name.ts(line,col): error ...` points into the guide: the block starts after its fence.
    const located = result.output.replace(/^([^\s(]+\.ts)\((\d+),(\d+)\)/gm, (whole, name, line, col) => {
      const at = origin.get(name);
      return at === undefined ? whole : `${relative(process.cwd(), at.file) || at.file}:${at.fence + Number(line)}:${col}`;
    });
    process.stderr.write(`check-examples: an example does not compile\n${located}`);
    return 1;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
process.exitCode = await main((args.length > 0 ? args : GUIDES.map((g) => join(ROOT, g))).map((f) => resolve(f)));
