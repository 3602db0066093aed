// Run it with `npm run example:python-ensemble`: an ensemble of two model families, each from
// its own Python script, over three sites (see ensemble-federation.ts).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NATS_SERVER_INSTALL_HINT, NatsServer } from '@tributary/coordinator';
import { runCleanup, startLocalStack, type CleanupSteps } from '../shared/local-stack.js';
import { ENSEMBLE_SCRIPTS, familyOf, runPythonEnsemble } from './ensemble-federation.js';

async function main(): Promise<number> {
  if (!NatsServer.available()) {
    console.error(NATS_SERVER_INSTALL_HINT);
    return 1;
  }
  const cleanup: CleanupSteps = [];
  try {
    const stack = await startLocalStack(cleanup, { name: 'python-ensemble' });
    const dir = await mkdtemp(join(tmpdir(), 'tributary-python-ensemble-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const result = await runPythonEnsemble(stack, dir, (line) => console.error(line));
    console.log(`run ${result.runId}: model version ${result.version}, an ensemble of ${result.model.members.length} members\n`);
    console.log('site            | script          | family           | weight | held-out accuracy alone');
    for (const m of result.model.members) {
      const script = (ENSEMBLE_SCRIPTS[m.site] ?? '').split('/').pop() ?? '';
      console.log(`${m.site.padEnd(15)} | ${script.padEnd(15)} | ${familyOf(m.tensors ?? {}).padEnd(16)} | ${m.weight.toFixed(3)}  | ${(result.memberAccuracy[m.site] ?? 0).toFixed(2)}`);
    }
    console.log(`\nensemble held-out accuracy: ${result.accuracy.toFixed(2)}`);
    return 0;
  } finally {
    await runCleanup(cleanup);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
