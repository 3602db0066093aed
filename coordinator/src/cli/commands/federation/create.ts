import { resolve } from 'node:path';
import type { Federation__Output, FederationSettings } from '@tributary/proto';
import { invalidValue } from '../../../config/values.js';
import { defineCommand } from '../../command.js';
import { UsageError } from '../../errors.js';
import { openRegularFile } from '../../files.js';
import { nameArg, optDurationMs, optFraction, optInteger, optList, optString, UINT32_MAX } from '../../input.js';
import { plural } from '../../render.js';
import { settingsSummary } from './show.js';

const INITIAL_MODEL_HINT = 'Write one with `tributary model init --spec "w:F32:[4,3],b:F32:[3]" --out init.safetensors`, or save your model with the safetensors library.';

const FAILURE_POLICIES = {
  fail: 'ROUND_FAILURE_POLICY_FAIL_RUN',
  continue: 'ROUND_FAILURE_POLICY_CONTINUE',
} as const;

export default defineCommand({
  path: ['federation', 'create'],
  summary: 'Create a federation from initial weights (a safetensors file)',
  args: [['<name>', 'federation name']],
  connects: true,
  options(cmd) {
    cmd
      .requiredOption('--initial-model <file>', 'initial weights (.safetensors); defines the model spec')
      .option('--description <text>', 'what the federation is for')
      .option('--strategy <name>', 'aggregation strategy (default fedavg)')
      .option('--strategy-option <key=value>', 'strategy option; repeatable', collectOption)
      .option('--rounds <n>', 'rounds per run (default 3)')
      .option('--min-sites <n>', 'quorum: fewest accepted updates for a round to commit (default 1)')
      .option('--sample-fraction <f>', 'fraction of member sites sampled each round, in (0, 1]')
      .option('--sample-count <n>', 'number of member sites sampled each round')
      .option('--deadline <duration>', 'round deadline, e.g. 300, 30s, 5m (default 5m)')
      .option('--wait-after-quorum <duration>', 'once min-sites updates are in, close the round this much later (or at the deadline) without waiting for the rest (default off)')
      .option('--on-round-failure <policy>', 'fail (end the run) or continue with the next round (default fail)')
      .option('--on-site-error <policy>', 'ignore (go on while quorum is reachable) or fail (the round) when a selected site fails (default ignore)')
      .option('--site-idle-timeout <duration>', 'fail a selected site silent this long (no heartbeat, no update) with SITE_UNRESPONSIVE (default off)')
      .option('--heartbeat-interval <duration>', 'time between heartbeats of a site while it trains and uploads (default 10s)')
      .option('--upload-grace <duration>', 'keep a round open this much past its deadline for uploads still moving (default off)')
      .option('--run-timeout <duration>', 'fail a run still running this long after it started with RUN_TIMEOUT (default off)')
      .option('--norm-bound <n>', "largest L2 norm of an update's difference from the global model (default off)")
      .option('--norm-bound-mode <mode>', 'refuse (default) or clip updates beyond --norm-bound')
      .option('--evaluate-every <n>', 'federated evaluation of the new model every n rounds (default off)')
      .option('--max-examples <n>', 'largest num_examples an update may claim, its weight in the average (default 1000000000)')
      .option('--keep-versions <n>', "model versions whose blobs 'tributary model gc' keeps (default 10)");
  },
  parse(raw) {
    const sampleFraction = optFraction(raw, 'sampleFraction', '--sample-fraction');
    const sampleCount = optInteger(raw, 'sampleCount', '--sample-count', 1, UINT32_MAX);
    if (sampleFraction !== undefined && sampleCount !== undefined) {
      throw new UsageError('--sample-fraction and --sample-count exclude each other: give one');
    }
    const deadlineMs = optDurationMs(raw, 'deadline', '--deadline');
    if (deadlineMs !== undefined && (deadlineMs < 1000 || deadlineMs / 1000 > UINT32_MAX)) {
      throw invalidValue('--deadline', optString(raw, 'deadline'), 'must be at least one second');
    }
    const graceMs = optDurationMs(raw, 'waitAfterQuorum', '--wait-after-quorum');
    if (graceMs !== undefined && (graceMs < 1000 || graceMs / 1000 > UINT32_MAX)) {
      throw invalidValue('--wait-after-quorum', optString(raw, 'waitAfterQuorum'), 'must be at least one second');
    }
    const onSiteError = optString(raw, 'onSiteError');
    if (onSiteError !== undefined && onSiteError !== 'ignore' && onSiteError !== 'fail') throw invalidValue('--on-site-error', onSiteError, 'expected ignore or fail');
    const policyText = optString(raw, 'onRoundFailure');
    let onRoundFailure: FederationSettings['onRoundFailure'];
    if (policyText !== undefined) {
      if (policyText !== 'fail' && policyText !== 'continue') throw invalidValue('--on-round-failure', policyText, 'expected fail or continue');
      onRoundFailure = FAILURE_POLICIES[policyText];
    }
    const normText = optString(raw, 'normBound');
    const normBound = normText === undefined ? undefined : Number(normText);
    if (normBound !== undefined && !(Number.isFinite(normBound) && normBound > 0)) {
      throw invalidValue('--norm-bound', normText, 'expected a positive number');
    }
    const normModeText = optString(raw, 'normBoundMode');
    if (normModeText !== undefined && normModeText !== 'refuse' && normModeText !== 'clip') {
      throw invalidValue('--norm-bound-mode', normModeText, 'expected refuse or clip');
    }
    const strategyOptions: Record<string, string> = {};
    for (const entry of optList(raw, 'strategyOption')) {
      const eq = entry.indexOf('=');
      if (eq <= 0) throw invalidValue('--strategy-option', entry, 'expected key=value');
      strategyOptions[entry.slice(0, eq).trim()] = entry.slice(eq + 1).trim();
    }
    const settings: FederationSettings = {
      ...definedOnly({
        strategy: optString(raw, 'strategy'),
        rounds: optInteger(raw, 'rounds', '--rounds', 1, UINT32_MAX),
        minSites: optInteger(raw, 'minSites', '--min-sites', 1, UINT32_MAX),
        sampleFraction,
        sampleCount,
        roundDeadlineSeconds: deadlineMs === undefined ? undefined : Math.ceil(deadlineMs / 1000),
        waitAfterQuorumSeconds: graceMs === undefined ? undefined : Math.ceil(graceMs / 1000),
        onRoundFailure,
        onSiteError,
        siteIdleTimeoutSeconds: optSeconds(raw, 'siteIdleTimeout', '--site-idle-timeout'),
        heartbeatIntervalSeconds: optSeconds(raw, 'heartbeatInterval', '--heartbeat-interval'),
        uploadGraceSeconds: optSeconds(raw, 'uploadGrace', '--upload-grace'),
        runTimeoutSeconds: optSeconds(raw, 'runTimeout', '--run-timeout'),
        normBound,
        normBoundMode: normModeText,
        evaluateEvery: optInteger(raw, 'evaluateEvery', '--evaluate-every', 1, UINT32_MAX),
        maxExamples: optInteger(raw, 'maxExamples', '--max-examples', 1, Number.MAX_SAFE_INTEGER),
        keepVersions: optInteger(raw, 'keepVersions', '--keep-versions', 1, UINT32_MAX),
      }),
      strategyOptions,
    };
    return {
      name: nameArg(raw, 0, 'federation'),
      description: optString(raw, 'description'),
      initialModel: optString(raw, 'initialModel') ?? '',
      settings,
    };
  },
  async run(input, ctx): Promise<Federation__Output> {
    const path = resolve(ctx.cwd, input.initialModel);
    // Streamed from the file in chunks: initial weights of any size never sit in memory whole.
    await openRegularFile(path, '--initial-model', INITIAL_MODEL_HINT);
    const admin = await ctx.admin();
    return admin.createFederation({
      name: input.name,
      initialModel: { file: path },
      settings: input.settings,
      ...(input.description === undefined ? {} : { description: input.description }),
    });
  },
  render(f) {
    const tensors = f.modelSpec?.tensors.length ?? 0;
    return `Created federation "${f.name}" (${settingsSummary(f.settings)}; model of ${plural(tensors, 'tensor')}, version ${f.latestVersion}).`;
  },
});

/** A duration flag as whole seconds (rounded up), at least one second; the coordinator checks the upper bounds. */
function optSeconds(raw: Parameters<typeof optString>[0], key: string, flag: string): number | undefined {
  const ms = optDurationMs(raw, key, flag);
  if (ms !== undefined && (ms < 1000 || ms / 1000 > UINT32_MAX)) throw invalidValue(flag, optString(raw, key), 'must be at least one second');
  return ms === undefined ? undefined : Math.ceil(ms / 1000);
}

function collectOption(value: string, previous: string[] = []): string[] {
  // key=value pairs may contain commas, so they are not split like other repeatable options.
  return [...previous, value];
}

function definedOnly<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
