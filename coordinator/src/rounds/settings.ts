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
  /** What a site's failure does to its round. */
  onSiteError: 'ignore',
  /** Seconds between a site's heartbeats while it trains and uploads. */
  heartbeatIntervalSeconds: 10,
} as const;

/** The values of `on_site_error`. */
export const ON_SITE_ERROR = ['ignore', 'fail'] as const;
export type OnSiteError = (typeof ON_SITE_ERROR)[number];

/** Largest number of rounds a run may ask for. */
export const MAX_ROUNDS = 100_000;
/** Longest round deadline: one week. */
export const MAX_ROUND_DEADLINE_SECONDS = 7 * 24 * 3600;

/** Longest heartbeat interval: an hour. */
export const MAX_HEARTBEAT_INTERVAL_SECONDS = 3600;
/** Longest run timeout: a year. */
export const MAX_RUN_TIMEOUT_SECONDS = 366 * 24 * 3600;

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
    onSiteError: s.onSiteError || SETTINGS_DEFAULTS.onSiteError,
    siteIdleTimeoutSeconds: s.siteIdleTimeoutSeconds ?? 0,
    uploadGraceSeconds: s.uploadGraceSeconds ?? 0,
    runTimeoutSeconds: s.runTimeoutSeconds ?? 0,
    heartbeatIntervalSeconds: s.heartbeatIntervalSeconds || SETTINGS_DEFAULTS.heartbeatIntervalSeconds,
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
  if (!(ON_SITE_ERROR as readonly string[]).includes(settings.onSiteError)) bad('on_site_error', `must be "ignore" or "fail", got ${quoted(settings.onSiteError)}`);
  if (settings.heartbeatIntervalSeconds > MAX_HEARTBEAT_INTERVAL_SECONDS) bad('heartbeat_interval_seconds', `must be at most ${MAX_HEARTBEAT_INTERVAL_SECONDS}`);
  if (settings.siteIdleTimeoutSeconds > MAX_ROUND_DEADLINE_SECONDS) bad('site_idle_timeout_seconds', 'must be at most one week');
  // Two missed heartbeats before a working site counts as silent: one late heartbeat is not death.
  if (settings.siteIdleTimeoutSeconds > 0 && settings.siteIdleTimeoutSeconds < 2 * settings.heartbeatIntervalSeconds) {
    bad('site_idle_timeout_seconds', `must be 0 or at least twice heartbeat_interval_seconds (${2 * settings.heartbeatIntervalSeconds})`);
  }
  if (settings.uploadGraceSeconds > MAX_ROUND_DEADLINE_SECONDS) bad('upload_grace_seconds', 'must be at most one week');
  if (settings.runTimeoutSeconds > MAX_RUN_TIMEOUT_SECONDS) bad('run_timeout_seconds', `must be at most ${MAX_RUN_TIMEOUT_SECONDS} (a year)`);
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
