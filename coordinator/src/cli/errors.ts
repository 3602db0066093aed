import { REASON_STATUS, Reason, TributaryError } from '@tributary/proto';

/** A command-line mistake (unknown option, missing argument...): reason USAGE, exit code 2. */
export class UsageError extends TributaryError {
  constructor(message: string, hint?: string) {
    super({
      code: REASON_STATUS.USAGE,
      reason: Reason.USAGE,
      message,
      retryable: false,
      ...(hint === undefined ? {} : { details: { hint } }),
    });
  }
}

/** The same error with a hint of what to do about it. */
export function withHint(err: unknown, hint: string): TributaryError {
  const e = TributaryError.from(err);
  return TributaryError.of(e.reason, e.message, { code: e.code, retryable: e.retryable, cause: err, details: { ...e.details, hint } });
}

/** An error as the CLI shows it: `Error (CODE): message` and a hint, or the `--json` envelope. */
export interface CliFailure {
  /** The reason code (e.g. `RUN_NOT_FOUND`, `USAGE`), else the status code. */
  readonly code: string;
  readonly message: string;
  /** What to do about it; empty when the message says it all. */
  readonly hint: string;
  /** gRPC-style status (`NOT_FOUND`, `UNAVAILABLE`...). */
  readonly status: string;
  readonly exitCode: number;
}

/** What the runner knows when an error happens, for a helpful hint. */
export interface FailureContext {
  /** `['site', 'add']` */
  readonly command: readonly string[];
  /** The error came from validating the command line. */
  readonly usage: boolean;
  /** The coordinator address and key file, when the command talks to a coordinator. */
  readonly coordinator?: string | undefined;
  readonly keyFile?: string | undefined;
  /** Whether the command connects with TLS (--tls-ca), when it talks to a coordinator. */
  readonly tls?: boolean | undefined;
  /** The deadline of each call (--timeout), when it talks to a coordinator. */
  readonly timeoutMs?: number | undefined;
}

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

/** The command that lists what a command group refers to. */
const LISTING: Readonly<Record<string, string>> = {
  site: 'tributary site list',
  invitation: 'tributary site invitations',
  federation: 'tributary federation list',
  model: 'tributary federation list',
  run: 'tributary run list',
  round: 'tributary run list',
};

export function describeFailure(err: unknown, ctx: FailureContext): CliFailure {
  const e = TributaryError.from(err);
  const code = e.reason !== Reason.INTERNAL ? e.reason : e.code;
  const message =
    e.code === 'UNAVAILABLE' && e.reason === Reason.UNAVAILABLE && ctx.coordinator !== undefined
      ? `cannot reach the coordinator at ${ctx.coordinator} (${connectionProblem(e.message)})`
      : e.code === 'DEADLINE_EXCEEDED' && ctx.coordinator !== undefined
        ? `the coordinator at ${ctx.coordinator} did not answer within ${ctx.timeoutMs === undefined ? 'the deadline' : formatSeconds(ctx.timeoutMs)}`
        : e.code === 'INVALID_ARGUMENT' && !ctx.usage
          ? inFlagTerms(e.message)
          : e.message;
  const given = e.details?.['hint'];
  const hint = typeof given === 'string' ? given : hintFor(e, ctx);
  const exitCode = e.code === 'CANCELLED' ? EXIT_INTERRUPTED : ctx.usage || e.reason === Reason.USAGE ? EXIT_USAGE : EXIT_FAILURE;
  return { code, message, hint, status: e.code, exitCode };
}

function hintFor(e: TributaryError, ctx: FailureContext): string {
  const help = `Run \`tributary ${[...ctx.command, '--help'].join(' ')}\` for usage.`;
  const coordinator = ctx.coordinator ?? 'the configured address';
  switch (e.reason) {
    case Reason.USAGE:
      return help;
    case 'INVALID_NAME':
      return 'Names use lowercase letters, digits, "-" and "_", start with a letter or digit, and have at most 63 characters.';
    case 'AUTH_FAILED':
      return `Check that the coordinator knows the key in ${ctx.keyFile ?? 'the key file'} (its admin_keys, or a site it added) and that client and coordinator run the same Tributary version; its log says which.`;
    case 'AUTH_UNKNOWN_KEY':
      return `The coordinator does not know the key in ${ctx.keyFile ?? 'the key file'}: add its public key to the coordinator's admin_keys, or pick another key with --key / TRIBUTARY_KEY.`;
    case 'AUTH_EXPIRED':
      return "Check that this machine's clock agrees with the coordinator's (auth_skew_seconds).";
    case 'AUTH_SIGNATURE_INVALID':
    case 'AUTH_REPLAYED':
      return 'Retry; if it persists, check that client and coordinator run the same Tributary version.';
    case 'KEY_FILE_INSECURE':
      return 'Key files must be readable by their owner only.';
    case 'KEY_FILE_INVALID':
      return 'Create a key file with `tributary keygen <name>`.';
    case 'NATS_SERVER_MISSING':
      return '';
    case 'NATS_UNAVAILABLE':
      return 'Start nats-server with JetStream (`nats-server -js`) or point --nats / TRIBUTARY_NATS at one; `tributary dev` starts one for you.';
    case 'LISTEN_FAILED':
      return 'Another process may hold the port: choose another with --grpc-listen (port 0 picks a free one).';
    case 'QUORUM_NOT_MET':
      return 'Add members with `tributary site add <site> --public-key <key> --federation <federation>` or invite them with `tributary site invite --federation <federation>`; `tributary site list --federation <federation>` shows the members and which are revoked.';
    case 'KEY_REVOKED':
      if (ctx.command[0] === 'site') return '`tributary site list` shows which sites are revoked; `tributary site restore <site>` trusts a key again, if it is safe.';
      break;
    case 'RUN_NOT_FOUND':
      return '`tributary run list` shows the runs.';
    case 'RUN_ALREADY_RUNNING':
      return ctx.command.join(' ') === 'federation delete'
        ? 'Add --force to stop the run and delete the federation, or stop it first with `tributary run stop <run-id>` (the message names it).'
        : 'Stop the run with `tributary run stop <run-id>` (the message names it), or wait until it ends: `tributary run status <run-id>` follows it.';
    case 'RUN_NOT_RUNNING':
      return '`tributary run status <run-id>` shows how the run ended.';
    case 'NOT_AN_AGGREGATOR':
      return 'An admin makes the key an aggregation worker: `tributary principal add <name> --public-key <key> --group aggregators` and `tributary grant read federation:* principal:<name>`.';
    default:
      break;
  }
  switch (e.code) {
    case 'INVALID_ARGUMENT':
      return help;
    case 'UNAVAILABLE':
      // gRPC reports a refused certificate as a plain UNAVAILABLE, so the hint names both causes.
      return `Is the coordinator running at ${coordinator}? Start one with \`tributary serve\` or \`tributary dev\`, or point --coordinator / TRIBUTARY_COORDINATOR at it.${
        ctx.tls === false
          ? ' If it uses TLS, pass its CA with --tls-ca / TRIBUTARY_TLS_CA.'
          : ctx.tls === true
            ? ` If it is running, its certificate may have been refused: --tls-ca / TRIBUTARY_TLS_CA must be the CA that signed it, and it must name the host of --coordinator (${coordinator}).`
            : ''
      }`;
    case 'DEADLINE_EXCEEDED':
      return `Check that ${coordinator} is a running Tributary coordinator (not another service on that port) and that it is healthy; --timeout / TRIBUTARY_TIMEOUT waits longer.`;
    case 'UNAUTHENTICATED':
      return 'The coordinator refused the call signature: check --key / TRIBUTARY_KEY.';
    case 'PERMISSION_DENIED':
      return 'The message names the privilege the key lacks: ask an admin of that federation to grant it (`tributary grant <privilege> federation:<name> principal:<you>`); `tributary grants --principal <you>` shows what you hold.';
    case 'NOT_FOUND':
      return `\`${missingListing(e.message) ?? LISTING[ctx.command[0] ?? ''] ?? 'tributary federation list'}\` shows what exists.`;
    case 'ALREADY_EXISTS':
      return 'Choose another name.';
    case 'FAILED_PRECONDITION':
      return 'The current state does not allow this; the message says why.';
    case 'CANCELLED':
      return ctx.command[0] === 'run' ? 'The run goes on; `tributary run status <run-id>` shows it.' : '';
    default:
      return 'Run again with --log-level debug for details.';
  }
}

/**
 * The command listing what a NOT_FOUND message says is missing: the coordinator names it first
 * (`federation "x" does not exist`, `model version 3 of "churn" does not exist`).
 */
function missingListing(message: string): string | undefined {
  const version = /^model version \d+ of "([a-z0-9_-]+)"/.exec(message);
  if (version !== null) return `tributary model list ${version[1] ?? ''}`;
  const noun = /^(federation|site|invitation|run|round) /.exec(message)?.[1];
  return noun === undefined ? undefined : noun === 'round' ? 'tributary round list <run-id>' : LISTING[noun];
}

/** The coordinator's field names, as the flags people type. */
const FIELD_FLAGS: readonly (readonly [RegExp, string])[] = [
  [/\b(?:settings\.)?sample_fraction\b/g, '--sample-fraction'],
  [/\b(?:settings\.)?sample_count\b/g, '--sample-count'],
  [/\b(?:settings\.)?min_sites\b/g, '--min-sites'],
  [/\b(?:settings\.)?norm_bound_mode\b/g, '--norm-bound-mode'],
  [/\b(?:settings\.)?norm_bound\b/g, '--norm-bound'],
  [/\b(?:settings\.)?max_examples\b/g, '--max-examples'],
  [/\b(?:settings\.)?round_deadline_seconds\b/g, '--deadline'],
  [/\b(?:settings\.)?evaluate_every\b/g, '--evaluate-every'],
  [/\b(?:settings\.)?keep_versions\b/g, '--keep-versions'],
  [/\b(?:settings\.)?wait_after_quorum_seconds\b/g, '--wait-after-quorum'],
  [/\b(?:settings\.)?strategy_options\b/g, '--strategy-option'],
  [/\bsettings\.strategy\b/g, '--strategy'],
  [/\b(?:settings\.)?on_site_error\b/g, '--on-site-error'],
  [/\b(?:settings\.)?site_idle_timeout_seconds\b/g, '--site-idle-timeout (seconds)'],
  [/\b(?:settings\.)?heartbeat_interval_seconds\b/g, '--heartbeat-interval (seconds)'],
  [/\b(?:settings\.)?upload_grace_seconds\b/g, '--upload-grace (seconds)'],
  [/\b(?:settings\.)?run_timeout_seconds\b/g, '--run-timeout (seconds)'],
  [/\bsettings\.rounds\b/g, '--rounds'],
  [/\bttl_seconds\b/g, '--ttl'],
];

function inFlagTerms(message: string): string {
  return FIELD_FLAGS.reduce((text, [field, flag]) => text.replace(field, flag), message);
}

/** `30s`, `1.5s`, `2m`. */
function formatSeconds(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${Number((ms / 1000).toFixed(3))}s`;
}

/** The useful part of grpc-js's connection errors: `connect ECONNREFUSED 127.0.0.1:7400`. */
function connectionProblem(message: string): string {
  const last = /Last error: (?:Error: )?(.*?)\.?(?: Resolution note:.*)?$/s.exec(message)?.[1];
  return (last ?? message).trim();
}
