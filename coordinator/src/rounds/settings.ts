import { TributaryError, type FederationSettings__Output, quoted } from '@tributary/proto';

/** Defaults applied where a federation's settings leave a field at zero or empty. */
export const SETTINGS_DEFAULTS = {
  strategy: 'fedavg',
  rounds: 3,
  minSites: 1,
  roundDeadlineSeconds: 300,
  onRoundFailure: 'ROUND_FAILURE_POLICY_FAIL_RUN',
  /** Largest num_examples an update may claim: it is the update's weight in the average. */
  maxExamples: 1_000_000_000,
  /** Model versions whose blobs `CollectGarbage` keeps, newest first. */
  keepVersions: 10,
} as const;

/** Largest number of rounds a run may ask for. */
export const MAX_ROUNDS = 100_000;
/** Longest round deadline: one week. */
export const MAX_ROUND_DEADLINE_SECONDS = 7 * 24 * 3600;

/** Fills defaults and checks ranges; errors name the offending setting. */
export function normaliseSettings(input: Partial<FederationSettings__Output> | null | undefined): FederationSettings__Output {
  const s = input ?? {};
  const settings: FederationSettings__Output = {
    strategy: s.strategy || SETTINGS_DEFAULTS.strategy,
    strategyOptions: { ...(s.strategyOptions ?? {}) },
    rounds: s.rounds || SETTINGS_DEFAULTS.rounds,
    minSites: s.minSites || SETTINGS_DEFAULTS.minSites,
    sampleFraction: s.sampleFraction ?? 0,
    sampleCount: s.sampleCount ?? 0,
    roundDeadlineSeconds: s.roundDeadlineSeconds || SETTINGS_DEFAULTS.roundDeadlineSeconds,
    onRoundFailure:
      !s.onRoundFailure || s.onRoundFailure === 'ROUND_FAILURE_POLICY_UNSPECIFIED'
        ? SETTINGS_DEFAULTS.onRoundFailure
        : s.onRoundFailure,
    evaluateEvery: s.evaluateEvery ?? 0,
    normBound: s.normBound ?? 0,
    normBoundMode: s.normBoundMode || 'refuse',
    maxExamples: s.maxExamples || SETTINGS_DEFAULTS.maxExamples,
    keepVersions: s.keepVersions || SETTINGS_DEFAULTS.keepVersions,
    waitAfterQuorumSeconds: s.waitAfterQuorumSeconds ?? 0,
  };
  const bad = (field: string, why: string): never => {
    throw TributaryError.invalidArgument(`settings.${field} ${why}`);
  };
  if (settings.rounds > MAX_ROUNDS) bad('rounds', `must be at most ${MAX_ROUNDS}`);
  if (!(settings.sampleFraction >= 0 && settings.sampleFraction <= 1)) bad('sample_fraction', 'must be within [0, 1]');
  if (settings.sampleFraction > 0 && settings.sampleCount > 0) bad('sample_fraction', 'and sample_count are exclusive');
  if (settings.sampleCount > 0 && settings.sampleCount < settings.minSites) bad('sample_count', `must be at least min_sites (${settings.minSites})`);
  if (!(Number.isFinite(settings.normBound) && settings.normBound >= 0)) bad('norm_bound', 'must be a finite number >= 0');
  if (settings.normBoundMode !== 'refuse' && settings.normBoundMode !== 'clip') bad('norm_bound_mode', `must be "refuse" or "clip", got ${quoted(settings.normBoundMode)}`);
  if (!Number.isSafeInteger(settings.maxExamples)) bad('max_examples', `must be at most ${Number.MAX_SAFE_INTEGER}`);
  if (settings.roundDeadlineSeconds > MAX_ROUND_DEADLINE_SECONDS) bad('round_deadline_seconds', 'must be at most one week');
  if (settings.waitAfterQuorumSeconds > MAX_ROUND_DEADLINE_SECONDS) bad('wait_after_quorum_seconds', 'must be at most one week');
  return settings;
}

let patchFields: ReadonlyMap<string, keyof FederationSettings__Output> | undefined;

/**
 * Every settings field by its proto (snake_case) name, as an update mask names it: taken from
 * what `normaliseSettings` fills, so a new setting is updatable as soon as it is normalised.
 */
export function settingsPatchFields(): ReadonlyMap<string, keyof FederationSettings__Output> {
  patchFields ??= new Map(
    (Object.keys(normaliseSettings(undefined)) as Array<keyof FederationSettings__Output>).map((field) => [field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), field]),
  );
  return patchFields;
}
