import { TributaryError, quoted } from './errors.js';
import { assertName } from './names.js';

/** Read, operate or admin on a federation; each implies the ones before it. */
export type Privilege = 'read' | 'operate' | 'admin';

/** Privileges in rising order: each implies the ones before it. */
export const PRIVILEGES: readonly Privilege[] = ['read', 'operate', 'admin'];

/** The federation part of `federation:*`: every federation, present and future. */
export const EVERY_FEDERATION = '*';

/** Who a grant is given to: `principal:<name>` or `group:<name>`. */
export interface Grantee {
  readonly kind: 'principal' | 'group';
  readonly name: string;
}

/** What a grant says, before it is recorded. */
export interface GrantSpec {
  readonly privilege: Privilege;
  /** A federation name, or `*`. */
  readonly federation: string;
  readonly grantee: Grantee;
}

export function parsePrivilege(text: unknown): Privilege {
  const found = PRIVILEGES.find((p) => p === text);
  if (found === undefined) throw TributaryError.invalidArgument(`invalid privilege ${quoted(text)}: one of ${PRIVILEGES.join(', ')}`);
  return found;
}

/** `federation:<name>` or `federation:*` -> the federation name, or `*`. */
export function parseResource(text: unknown): string {
  if (typeof text !== 'string' || !text.startsWith('federation:')) {
    throw TributaryError.invalidArgument(`invalid resource ${quoted(text)}: federation:<name> or federation:*`);
  }
  const federation = text.slice('federation:'.length);
  return federation === EVERY_FEDERATION ? federation : assertName('federation', federation);
}

/** The resource a federation name (or `*`) stands for. */
export function formatResource(federation: string): string {
  return `federation:${federation}`;
}

/** `principal:<name>` or `group:<name>`. */
export function parseGrantee(text: unknown): Grantee {
  const colon = typeof text === 'string' ? text.indexOf(':') : -1;
  const kind = colon < 0 ? '' : (text as string).slice(0, colon);
  if (kind !== 'principal' && kind !== 'group') throw TributaryError.invalidArgument(`invalid grantee ${quoted(text)}: principal:<name> or group:<name>`);
  return { kind, name: assertName(kind, (text as string).slice(colon + 1)) };
}

export function formatGrantee(grantee: Grantee): string {
  return `${grantee.kind}:${grantee.name}`;
}

/** A grant as the wire spells it. */
export function parseGrantSpec(req: { privilege: unknown; resource: unknown; grantee: unknown }): GrantSpec {
  return { privilege: parsePrivilege(req.privilege), federation: parseResource(req.resource), grantee: parseGrantee(req.grantee) };
}

