import { formatGrantee, formatResource, parsePublicKey, type Federation__Output, type Grant__Output, type Invitation__Output, type NatsCredentials__Output, type Principal__Output, type Site__Output } from '@tributary/proto';
import type { PrincipalView } from '../auth/principal-registry.js';
import type { SiteCredentials } from '../nats-auth/authority.js';
import { invitationIdOf, type FederationRecord, type GrantRecord, type InvitationRecord, type SiteRecord } from '../state/index.js';
import { NEVER_SEEN, type SitePresenceView } from '../sites/presence.js';

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
    removedAtMs: site.removedAtMs ?? 0,
    removedBy: site.removedBy ?? '',
    restoredAtMs: site.restoredAtMs ?? 0,
    restoredBy: site.restoredBy ?? '',
    removedFrom: [...(site.removedFrom ?? [])],
    lastSeenAtMs: presence.lastSeenAtMs,
    connected: presence.connected,
  };
}

/** An invitation as AdminService answers it: the token only when it was just minted. */
export function invitationMessage(invitation: InvitationRecord, token = ''): Invitation__Output {
  return {
    id: invitationIdOf(invitation),
    token,
    federations: [...invitation.federations],
    siteName: invitation.siteName,
    expiresAtMs: invitation.expiresAtMs,
    createdAtMs: invitation.createdAtMs,
    mintedBy: invitation.mintedBy ?? '',
  };
}

/** `sites` are the members' names; `revokedSites` those of them whose key is revoked. */
export function federationMessage(federation: FederationRecord, sites: string[], revokedSites: string[] = []): Federation__Output {
  return {
    name: federation.name,
    description: federation.description,
    settings: federation.settings,
    modelSpec: { tensors: federation.modelSpec },
    sites,
    createdAtMs: federation.createdAtMs,
    latestVersion: federation.latestVersion,
    revokedSites,
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
