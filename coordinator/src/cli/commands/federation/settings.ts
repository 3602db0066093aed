import type { Command } from 'commander';
import type { FederationSettings } from '@tributary/proto';
import { invalidValue } from '../../../config/values.js';
import type { RawInput } from '../../command.js';
import { UsageError } from '../../errors.js';
import { optDurationMs, optFraction, optInteger, optList, optString, UINT32_MAX } from '../../input.js';

const FAILURE_POLICIES = {
  fail: 'ROUND_FAILURE_POLICY_FAIL_RUN',
  continue: 'ROUND_FAILURE_POLICY_CONTINUE',
} as const;

/**
 * How the settings flags read: `create` sets every setting it is given, `update` changes only
 * those it is given and may also turn an optional behaviour off (`0` or `off`).
 */
export type SettingsFlagsMode = 'create' | 'update';

/** The federation settings flags `federation create` and `federation update` share, with the same names. */
export function settingsOptions(cmd: Command, mode: SettingsFlagsMode): Command {
  const off = mode === 'update' ? '; 0 turns it off' : ' (default off)';
  return cmd
    .option('--strategy <name>', 'aggregation strategy (default fedavg)')
    .option('--strategy-option <key=value>', mode === 'update' ? 'strategy option; repeatable; replaces all options' : 'strategy option; repeatable', collectOption)
    .option('--rounds <n>', 'rounds per run (default 3)')
    .option('--min-sites <n>', 'quorum: fewest accepted updates for a round to commit (default 1)')
    .option('--sample-fraction <f>', 'fraction of member sites sampled each round, in (0, 1]')
    .option('--sample-count <n>', 'number of member sites sampled each round')
    .option('--deadline <duration>', 'round deadline, e.g. 300, 30s, 5m (default 5m)')
    .option('--wait-after-quorum <duration>', `once min-sites updates are in, close the round this much later (or at the deadline) without waiting for the rest${off}`)
    .option('--on-round-failure <policy>', 'fail (end the run) or continue with the next round (default fail)')
    .option('--on-site-error <policy>', 'ignore (go on while quorum is reachable) or fail (the round) when a selected site fails (default ignore)')
    .option('--site-idle-timeout <duration>', `fail a selected site silent this long (no heartbeat, no update) with SITE_UNRESPONSIVE${off}`)
    .option('--heartbeat-interval <duration>', 'time between heartbeats of a site while it trains and uploads (default 10s)')
    .option('--upload-grace <duration>', `keep a round open this much past its deadline for uploads still moving${off}`)
    .option('--run-timeout <duration>', `fail a run still running this long after it started with RUN_TIMEOUT${off}`)
    .option('--norm-bound <n>', `largest L2 norm of an update's difference from the global model${off}`)
    .option('--norm-bound-mode <mode>', 'refuse (default) or clip updates beyond --norm-bound')
    .option('--evaluate-every <n>', `federated evaluation of the new model every n rounds${off}`)
    .option('--max-examples <n>', 'largest num_examples an update may claim, its weight in the average (default 1000000000)')
    .option('--keep-versions <n>', "model versions whose blobs 'tributary model gc' keeps (default 10)");
}

/**
 * The settings the flags give, validated; only the settings given are present. Errors name the
 * flag as typed. In `update` mode one sampling flag also resets the other (they exclude each other).
 */
export function parseSettingsFlags(raw: RawInput, mode: SettingsFlagsMode): FederationSettings {
  const updating = mode === 'update';
  const sampleFraction = optFraction(raw, 'sampleFraction', '--sample-fraction');
  const sampleCount = optInteger(raw, 'sampleCount', '--sample-count', 1, UINT32_MAX);
  if (sampleFraction !== undefined && sampleCount !== undefined) {
    throw new UsageError('--sample-fraction and --sample-count exclude each other: give one');
  }
  const roundDeadlineSeconds = optSeconds(raw, 'deadline', '--deadline', false);
  const waitAfterQuorumSeconds = optSeconds(raw, 'waitAfterQuorum', '--wait-after-quorum', updating);
  const policyText = optString(raw, 'onRoundFailure');
  let onRoundFailure: FederationSettings['onRoundFailure'];
  if (policyText !== undefined) {
    if (policyText !== 'fail' && policyText !== 'continue') throw invalidValue('--on-round-failure', policyText, 'expected fail or continue');
    onRoundFailure = FAILURE_POLICIES[policyText];
  }
  const onSiteError = optString(raw, 'onSiteError');
  if (onSiteError !== undefined && onSiteError !== 'ignore' && onSiteError !== 'fail') throw invalidValue('--on-site-error', onSiteError, 'expected ignore or fail');
  const normText = optString(raw, 'normBound');
  const normBound = normText === undefined ? undefined : updating && normText === 'off' ? 0 : Number(normText);
  if (normBound !== undefined && !(Number.isFinite(normBound) && (normBound > 0 || (updating && normBound === 0)))) {
    throw invalidValue('--norm-bound', normText, updating ? 'expected a positive number, or 0 to turn it off' : 'expected a positive number');
  }
  const normModeText = optString(raw, 'normBoundMode');
  if (normModeText !== undefined && normModeText !== 'refuse' && normModeText !== 'clip') {
    throw invalidValue('--norm-bound-mode', normModeText, 'expected refuse or clip');
  }
  const optionEntries = optList(raw, 'strategyOption');
  const strategyOptions: Record<string, string> = {};
  for (const entry of optionEntries) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw invalidValue('--strategy-option', entry, 'expected key=value');
    strategyOptions[entry.slice(0, eq).trim()] = entry.slice(eq + 1).trim();
  }
  return definedOnly({
    strategy: optString(raw, 'strategy'),
    rounds: optInteger(raw, 'rounds', '--rounds', 1, UINT32_MAX),
    minSites: optInteger(raw, 'minSites', '--min-sites', 1, UINT32_MAX),
    sampleFraction: sampleFraction ?? (updating && sampleCount !== undefined ? 0 : undefined),
    sampleCount: sampleCount ?? (updating && sampleFraction !== undefined ? 0 : undefined),
    roundDeadlineSeconds,
    waitAfterQuorumSeconds,
    onRoundFailure,
    onSiteError,
    siteIdleTimeoutSeconds: optSeconds(raw, 'siteIdleTimeout', '--site-idle-timeout', updating),
    heartbeatIntervalSeconds: optSeconds(raw, 'heartbeatInterval', '--heartbeat-interval', false),
    uploadGraceSeconds: optSeconds(raw, 'uploadGrace', '--upload-grace', updating),
    runTimeoutSeconds: optSeconds(raw, 'runTimeout', '--run-timeout', updating),
    normBound,
    normBoundMode: normModeText,
    evaluateEvery: optInteger(raw, 'evaluateEvery', '--evaluate-every', updating ? 0 : 1, UINT32_MAX),
    maxExamples: optInteger(raw, 'maxExamples', '--max-examples', 1, Number.MAX_SAFE_INTEGER),
    keepVersions: optInteger(raw, 'keepVersions', '--keep-versions', 1, UINT32_MAX),
    // Creation always sends the options (none is an empty map); an update only when given.
    strategyOptions: updating && optionEntries.length === 0 ? undefined : strategyOptions,
  });
}

/**
 * A duration flag as whole seconds (rounded up), at least one second; where `offAllowed`, `0` or
 * `off` gives 0 (turned off). The coordinator checks the upper bounds.
 */
function optSeconds(raw: RawInput, key: string, flag: string, offAllowed: boolean): number | undefined {
  const text = optString(raw, key);
  if (offAllowed && (text === '0' || text === 'off')) return 0;
  const ms = optDurationMs(raw, key, flag);
  if (ms !== undefined && (ms < 1000 || ms / 1000 > UINT32_MAX)) throw invalidValue(flag, text, 'must be at least one second');
  return ms === undefined ? undefined : Math.ceil(ms / 1000);
}

function collectOption(value: string, previous: string[] = []): string[] {
  // key=value pairs may contain commas, so they are not split like other repeatable options.
  return [...previous, value];
}

function definedOnly<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}
