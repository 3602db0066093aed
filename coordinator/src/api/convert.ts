import { parsePublicKey, type Federation__Output, type NatsCredentials__Output, type Site__Output } from '@tributary/proto';
import type { SiteCredentials } from '../nats-auth/authority.js';
import type { FederationRecord, SiteRecord } from '../state/index.js';

/** What a site needs to connect to NATS with credentials issued to its own nkey (never a seed). */
export function natsCredentialsMessage(issued: SiteCredentials): NatsCredentials__Output {
  return { jwt: issued.jwt, expiresAtMs: issued.expiresAtMs, inboxPrefix: issued.inboxPrefix, federations: [...issued.federations] };
}

export function siteMessage(site: SiteRecord): Site__Output {
  return {
    name: site.name,
    keyId: site.keyId,
    publicKey: Buffer.from(parsePublicKey(site.publicKey)),
    status: site.status === 'APPROVED' ? 'SITE_STATUS_APPROVED' : 'SITE_STATUS_REVOKED',
    federations: [...site.federations],
    createdAtMs: site.createdAtMs,
    revokedAtMs: site.revokedAtMs,
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
