import { formatGrantee, formatResource, parsePublicKey, type Federation__Output, type Grant__Output, type NatsCredentials__Output, type Principal__Output, type Site__Output } from '@tributary/proto';
import type { PrincipalView } from '../auth/principal-registry.js';
import type { SiteCredentials } from '../nats-auth/authority.js';
import { NEVER_SEEN, type SitePresenceView } from '../sites/presence.js';
import type { FederationRecord, GrantRecord, SiteRecord } from '../state/index.js';

/** What a site needs to connect to NATS with credentials issued to its own nkey (never a seed). */
export function natsCredentialsMessage(issued: SiteCredentials): NatsCredentials__Output {
  return { jwt: issued.jwt, expiresAtMs: issued.expiresAtMs, inboxPrefix: issued.inboxPrefix, federations: [...issued.federations] };
}

/** A site as the API returns it, with its presence (`SitePresence.of`). */
export function siteMessage(site: SiteRecord, presence: SitePresenceView = NEVER_SEEN): Site__Output {
  return {
    name: site.name,
    keyId: site.keyId,
    publicKey: Buffer.from(parsePublicKey(site.publicKey)),
    status: site.status === 'APPROVED' ? 'SITE_STATUS_APPROVED' : 'SITE_STATUS_REVOKED',
    federations: [...site.federations],
    createdAtMs: site.createdAtMs,
    revokedAtMs: site.revokedAtMs,
    lastSeenAtMs: presence.lastSeenAtMs,
    connected: presence.connected,
  };
}

export function federationMessage(federation: FederationRecord, sites: string[]): Federation__Output {
  return {
    name: federation.name,
    description: federation.description,
    settings: federation.settings,
    modelSpec: { tensors: federation.modelSpec },
    sites,
    createdAtMs: federation.createdAtMs,
    latestVersion: federation.latestVersion,
  };
}

export function principalMessage(p: PrincipalView): Principal__Output {
  return {
    name: p.name,
    keyId: p.keyId,
    publicKey: Buffer.from(parsePublicKey(p.publicKey)),
    groups: [...p.groups],
    status: p.status === 'ACTIVE' ? 'PRINCIPAL_STATUS_ACTIVE' : 'PRINCIPAL_STATUS_DISABLED',
    owner: p.owner,
    description: p.description,
    createdAtMs: p.createdAtMs,
    disabledAtMs: p.disabledAtMs,
    rotatedAtMs: p.rotatedAtMs,
    addedBy: p.addedBy,
  };
}

export function grantMessage(g: GrantRecord): Grant__Output {
  return {
    privilege: g.privilege,
    resource: formatResource(g.federation),
    grantee: formatGrantee({ kind: g.granteeKind, name: g.granteeName }),
    grantedBy: g.grantedBy,
    grantedAtMs: g.grantedAtMs,
  };
}
