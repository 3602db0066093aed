import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENSEMBLE_FEDERATION, ENSEMBLE_SCRIPTS, familyOf, runPythonEnsemble, type PythonEnsembleResult } from '../../examples/src/python-site/ensemble-federation.js';
import { startStack, type Stack } from '../helpers/stack.js';

describe('an ensemble federation of Python sites running different scripts', () => {
  let stack: Stack;
  let dir: string;
  let result: PythonEnsembleResult;
  const problems: string[] = [];

  beforeAll(async () => {
    stack = await startStack();
    dir = await mkdtemp(join(tmpdir(), 'tributary-py-ensemble-'));
    result = await runPythonEnsemble(stack, dir, (line) => problems.push(line));
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('commits one ensemble holding every site’s model, each of the family its script trains', () => {
    expect(problems).toEqual([]);
    const members = result.model.members.map((m) => ({ site: m.site, family: familyOf(m.tensors ?? {}) }));
    expect(members.sort((a, b) => a.site.localeCompare(b.site))).toEqual([
      { site: 'py-bayes-b', family: 'naive-bayes' },
      { site: 'py-bayes-c', family: 'naive-bayes' },
      { site: 'py-centroid-a', family: 'nearest-centroid' },
    ]);
    expect(ENSEMBLE_SCRIPTS['py-centroid-a']).toMatch(/centroid\.py$/);
  });

  it('keeps each member’s own tensor names, shapes and dtypes', () => {
    for (const m of result.model.members) {
      const shapes = Object.fromEntries(Object.entries(m.tensors ?? {}).map(([name, t]) => [name, `${t.dtype}[${t.shape.join(',')}]`]));
      expect(shapes).toEqual(
        familyOf(m.tensors ?? {}) === 'nearest-centroid'
          ? { centroids: 'F32[3,4]' }
          : { 'nb.means': 'F64[3,4]', 'nb.variances': 'F64[3,4]', 'nb.log_priors': 'F64[3]' },
      );
    }
  });

  it('traces every member to the update its site sent', async () => {
    const versions = await stack.admin.listModelVersions(ENSEMBLE_FEDERATION);
    const committed = versions.find((v) => v.version === result.version);
    for (const m of result.model.members) {
      expect(committed?.contributions.find((c) => c.updateId === m.updateId)?.site).toBe(m.site);
    }
  });

  it('ends every agent with the run, exiting 0', () => {
    expect(result.exitStatus).toEqual({ 'py-centroid-a': 0, 'py-bayes-b': 0, 'py-bayes-c': 0 });
  });

  it('predicts the held-out rows at least as well as its best member alone', () => {
    expect(result.accuracy).toBeGreaterThanOrEqual(Math.max(...Object.values(result.memberAccuracy)));
  });
});
