import { Reason, TributaryError, quoted } from './errors.js';

/** Names of federations, sites, principals and groups: safe as NATS subject tokens and file names. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export type NameKind = 'federation' | 'site' | 'principal' | 'group';

export function isValidName(s: unknown): s is string {
  return typeof s === 'string' && NAME_PATTERN.test(s);
}

/** Returns `s` when it is a valid name; throws INVALID_ARGUMENT / INVALID_NAME otherwise. */
export function assertName(kind: NameKind, s: unknown): string {
  if (isValidName(s)) return s;
  throw TributaryError.of(Reason.INVALID_NAME, `invalid ${kind} name ${quoted(s)}: must match ${NAME_PATTERN.source}`, { details: { kind } });
}
