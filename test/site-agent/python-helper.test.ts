import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeSafetensors, tensor, tensorSpecsOf, type TensorMap } from '@tributary/proto';
import type { SiteTask } from '../../client-sdk/src/types.js';
import { runScript } from '../../client-sdk/src/site-agent/script-run.js';
import { TaskDirectory } from '../../client-sdk/src/site-agent/task-directory.js';
import { FIXTURES, PYTHON_HELPER_DIR } from './helpers.js';

/** One tensor of every dtype the protocol has, with awkward values. */
function everyDtype(): TensorMap {
  return {
    f32: tensor('F32', [2, 2], new Float32Array([0.1, -2.5, 3e-8, 1e30])),
    f64: tensor('F64', [3], new Float64Array([Math.PI, -1e-300, 1e300])),
    f16: tensor('F16', [2], new Uint16Array([0x3c00, 0xc000])), // 1.0, -2.0
    bf16: tensor('BF16', [3], new Uint16Array([0x3f80, 0xbfc0, 0x4049])), // 1.0, -1.5, ~3.14
    i32: tensor('I32', [2], new Int32Array([-2147483648, 2147483647])),
    i64: tensor('I64', [2], new BigInt64Array([-9007199254740991n, 9007199254740991n])),
    u8: tensor('U8', [1, 4], new Uint8Array([0, 1, 128, 255])),
    scalar: tensor('F32', [], new Float32Array([7])),
  };
}

function taskOf(model: TensorMap, signal: AbortSignal): SiteTask {
  return {
    federation: 'dtypes',
    runId: 'run-1',
    round: 1,
    kind: 'train',
    modelVersion: 1,
    config: { lr: '0.1' },
    deadlineAtMs: 0,
    modelSpec: tensorSpecsOf(model),
    model,
    signal,
    log: () => undefined,
  };
}

describe('the Python task helper', () => {
  let parent: string;
  beforeEach(async () => {
    parent = await mkdtemp(join(tmpdir(), 'tributary-py-'));
  });
  afterEach(async () => {
    await rm(parent, { recursive: true, force: true });
  });

  it('reads every dtype and writes the same model back byte for byte', async () => {
    const model = everyDtype();
    const task = taskOf(model, new AbortController().signal);
    const dir = await TaskDirectory.create(parent, task);
    const output: string[] = [];
    await runScript({
      command: ['python3', join(FIXTURES, 'identity.py')],
      env: { TRIBUTARY_TASK_DIR: dir.path, PYTHONPATH: PYTHON_HELPER_DIR },
      signal: task.signal,
      onOutput: (line) => output.push(line),
      metrics: { path: dir.file('metrics'), onPoint: () => undefined, onBadLine: (why) => output.push(why) },
    });
    const written = await readFile(dir.file('update'));
    expect(output).toEqual([]);
    expect(Buffer.compare(written, encodeSafetensors(model))).toBe(0);
    const result = await dir.readTrainResult(task);
    expect(result.numExamples).toBe(1);
    expect(tensorSpecsOf(result.weights)).toEqual(tensorSpecsOf(model));
  });
});
