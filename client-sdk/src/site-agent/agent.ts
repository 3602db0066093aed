import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { TributaryError } from '@tributary/proto';
import type { SiteClient } from '../site-client.js';
import type { ParticipationSummary, SiteTask, TrainResult, UpdateVerdict } from '../types.js';
import type { EvaluationResult } from '../evaluation.js';
import { runScript } from './script-run.js';
import { TaskDirectory } from './task-directory.js';
import { PYTHON_HELPER_DIR } from '../python-helper.js';

export interface SiteAgentOptions {
  client: SiteClient;
  federation: string;
  /** The training command, e.g. `['python3', 'train.py']`, run once per task. */
  command: readonly string[];
  /** Where task directories are made. @default the system's temp directory */
  workDir?: string;
  /** Keep each task directory after the task (for debugging). @default false */
  keepTaskDirs?: boolean;
  /** Stops the agent: the running script is stopped and nothing is published. */
  signal?: AbortSignal;
  /** Resolves after this many tasks (as `participate` counts them). @default until the run ends */
  maxTasks?: number;
  /** One line for each thing a person should see: script output, metrics problems, verdicts. */
  print: (line: string) => void;
  /** Time between SIGTERM and SIGKILL when a script must stop. @default 5 s */
  killGraceMs?: number;
}

/** Prefix of the lines about one task. */
export function taskLabel(task: Pick<SiteTask, 'round' | 'kind'>): string {
  return `[round ${task.round} ${task.kind}]`;
}

/**
 * Runs a site's own training command for every task of a federation: the global model and
 * task.json go to a fresh directory, the script's metrics are streamed as it writes them, and its
 * update is checked, signed and published by the SDK. A failing script publishes nothing.
 */
export async function runSiteAgent(opts: SiteAgentOptions): Promise<ParticipationSummary> {
  if (opts.command.length === 0) throw TributaryError.invalidArgument('the agent needs a command to run for each task');
  const workDir = opts.workDir ?? join(tmpdir(), 'tributary-site');
  await mkdir(workDir, { recursive: true });

  // participate stops waiting for a cancelled task at once; the agent waits for its script to stop.
  const running = new Set<Promise<unknown>>();
  function work<R>(task: SiteTask, read: (dir: TaskDirectory) => Promise<R>): Promise<R> {
    const p = workOn(task, read);
    const settled = p.catch(() => undefined);
    running.add(settled);
    void settled.then(() => running.delete(settled));
    return p;
  }

  async function workOn<R>(task: SiteTask, read: (dir: TaskDirectory) => Promise<R>): Promise<R> {
    const label = taskLabel(task);
    const dir = await TaskDirectory.create(workDir, task);
    opts.print(`${label} model version ${task.modelVersion} in ${dir.path}; running ${opts.command.join(' ')}`);
    try {
      await runScript({
        command: opts.command,
        // The Python helper that comes with the SDK is importable as `tributary_task`.
        env: { TRIBUTARY_TASK_DIR: dir.path, PYTHONPATH: withPythonHelper(process.env['PYTHONPATH']) },
        signal: task.signal,
        onOutput: (line) => opts.print(`${label} ${line}`),
        metrics: {
          path: dir.file('metrics'),
          onPoint: (metrics, step) => task.log(metrics, step),
          onBadLine: (why) => opts.print(`${label} ${why}`),
        },
        ...(opts.killGraceMs === undefined ? {} : { killGraceMs: opts.killGraceMs }),
      });
      return await read(dir);
    } catch (err) {
      if (opts.signal?.aborted === true) opts.print(`${label} stopped (CANCELLED): interrupted; the script was stopped and nothing was published`);
      throw err;
    } finally {
      if (opts.keepTaskDirs !== true) await dir.remove();
    }
  }

  const train = (task: SiteTask): Promise<TrainResult> => work(task, (dir) => dir.readTrainResult(task));
  const evaluate = (task: SiteTask): Promise<EvaluationResult> => work(task, (dir) => dir.readEvaluationResult());
  const onVerdict = (v: UpdateVerdict): void => {
    const judged = v.accepted ? `accepted${v.payloadSize > 0 ? ` (payload sha256 ${v.payloadSha256}, ${v.payloadSize} bytes)` : ''}` : `refused (${v.reason}): ${v.message}`;
    opts.print(`${taskLabel({ round: v.round, kind: 'train' })} ${judged}`);
  };
  try {
    return await opts.client.participate(opts.federation, train, {
      evaluate,
      onVerdict,
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      ...(opts.maxTasks === undefined ? {} : { maxTasks: opts.maxTasks }),
    });
  } finally {
    await Promise.all(running);
  }
}

/** `PYTHONPATH` with the SDK's helper folder after what the site set (its own copy wins). */
function withPythonHelper(pythonPath: string | undefined): string {
  return pythonPath === undefined || pythonPath === '' ? PYTHON_HELPER_DIR : `${pythonPath}${delimiter}${PYTHON_HELPER_DIR}`;
}
