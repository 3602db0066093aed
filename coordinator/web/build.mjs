// Bundles the dashboard page (TypeScript, uPlot, CSS) into dist/web, which the coordinator serves.
import { copyFile, mkdir } from 'node:fs/promises';
import { build } from 'esbuild';

const here = new URL('.', import.meta.url);
const out = new URL('../dist/web/', import.meta.url);
await mkdir(out, { recursive: true });
await build({
  entryPoints: { app: new URL('app.ts', here).pathname },
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  outdir: out.pathname,
  logLevel: 'warning',
});
await build({ entryPoints: { app: new URL('app.css', here).pathname }, bundle: true, minify: true, outdir: out.pathname, logLevel: 'warning' });
await copyFile(new URL('index.html', here), new URL('index.html', out));
