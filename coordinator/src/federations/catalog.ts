import { createHash, randomBytes } from 'node:crypto';
import {
  Reason,
  TributaryError,
  assertName,
  formatPublicKey,
  keyIdOf,
  type FederationSettings,
} from '@tributary/proto';
import type { Logger } from 'pino';
import type { BlobStore, FederationRecord, InvitationRecord, SiteRecord, StateStore } from '../state/index.js';
import type { StrategyRegistry } from '../strategies/index.js';
import { checkInitialModel } from '../models/initial-model.js';
import { INITIAL_WEIGHTS, prepareModelVersion } from '../models/model-version.js';
import { normaliseSettings } from '../rounds/settings.js';

/** Default lifetime of an invitation token. */
const DEFAULT_INVITATION_TTL_SECONDS = 24 * 3600;
/** Longest lifetime an invitation may be given. */
const MAX_INVITATION_TTL_SECONDS = 30 * 24 * 3600;

/** Federations, sites and invitations: the coordinator's membership records. */
export class Catalog {
  constructor(
    private readonly opts: { state: StateStore; blobs: BlobStore; strategies: StrategyRegistry; logger: Logger; now?: () => number },
  ) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  async createFederation(req: { name: string; description: string; settings: FederationSettings | null | undefined; initialModel: Uint8Array }): Promise<FederationRecord> {
    const name = assertName('federation', req.name);
    const settings = normaliseSettings(req.settings as Parameters<typeof normaliseSettings>[0]);
    const strategy = this.opts.strategies.get(settings.strategy);
    settings.strategyOptions = strategy.validateOptions(settings.strategyOptions);
    const { modelSpec } = checkInitialModel(req.initialModel, { heterogeneous: strategy.heterogeneous ?? false });
    if (await this.opts.state.getFederation(name)) {
      throw TributaryError.of(Reason.ALREADY_EXISTS, `federation "${name}" already exists`);
    }
    const at = this.now();
    const draft: FederationRecord = { name, description: req.description, settings, modelSpec, createdAtMs: at, latestVersion: 0 };
    const initial = await prepareModelVersion(this.opts.blobs, draft, { payload: req.initialModel }, INITIAL_WEIGHTS, { atMs: at, version: 1 });
    await this.opts.state.write(initial.writes);
    const federation = initial.federation;
    this.opts.logger.info({ federation: name, strategy: settings.strategy, tensors: modelSpec.length }, 'federation created');
    return federation;
  }

  async getFederation(name: string): Promise<FederationRecord> {
    const federation = await this.opts.state.getFederation(assertName('federation', name));
    if (!federation) throw TributaryError.notFound(`federation "${name}" does not exist`);
    return federation;
  }

  async membersOf(federation: string): Promise<string[]> {
    return (await this.opts.state.listSites()).filter((s) => s.federations.includes(federation)).map((s) => s.name);
  }

  async addSite(req: { name: string; publicKey: Uint8Array; federations: string[] }): Promise<SiteRecord> {
    const name = assertName('site', req.name);
    if (req.publicKey.byteLength !== 32) throw TributaryError.invalidArgument('public_key must be the raw 32-byte Ed25519 public key');
    const federations = await this.checkFederations(req.federations);
    const keyId = keyIdOf(req.publicKey);
    const existing = await this.opts.state.getSite(name);
    if (existing) {
      // Adding a known site again with its own key joins it to more federations.
      if (existing.keyId !== keyId) {
        throw TributaryError.of(Reason.ALREADY_EXISTS, `site "${name}" already exists with another key`);
      }
      if (existing.status === 'REVOKED') {
        throw TributaryError.of(Reason.KEY_REVOKED, `site "${name}" is revoked`, { code: 'FAILED_PRECONDITION' });
      }
      const joined: SiteRecord = { ...existing, federations: [...new Set([...existing.federations, ...federations])] };
      await this.opts.state.write([{ kind: 'site', value: joined }]);
      this.opts.logger.info({ site: name, federations: joined.federations }, 'site joined federations');
      return joined;
    }
    const holder = await this.opts.state.getSiteByKeyId(keyId);
    if (holder) {
      throw TributaryError.of(Reason.ALREADY_EXISTS, `this public key already belongs to site "${holder.name}"`);
    }
    const site: SiteRecord = {
      name,
      keyId,
      publicKey: formatPublicKey(req.publicKey),
      status: 'APPROVED',
      federations,
      createdAtMs: this.now(),
      revokedAtMs: 0,
    };
    await this.opts.state.write([{ kind: 'site', value: site }]);
    this.opts.logger.info({ site: name, keyId, federations }, 'site added');
    return site;
  }

  async revokeSite(name: string): Promise<SiteRecord> {
    const site = await this.opts.state.getSite(assertName('site', name));
    if (!site) throw TributaryError.notFound(`site "${name}" does not exist`);
    if (site.status === 'REVOKED') return site;
    const revoked: SiteRecord = { ...site, status: 'REVOKED', revokedAtMs: this.now() };
    await this.opts.state.write([{ kind: 'site', value: revoked }]);
    this.opts.logger.warn({ site: name, keyId: site.keyId }, 'site revoked');
    return revoked;
  }

  async createInvitation(req: { federations: string[]; siteName: string; ttlSeconds: number }): Promise<{ token: string; record: InvitationRecord }> {
    const federations = await this.checkFederations(req.federations);
    if (federations.length === 0) throw TributaryError.invalidArgument('an invitation needs at least one federation');
    const siteName = req.siteName ? assertName('site', req.siteName) : '';
    const ttl = req.ttlSeconds || DEFAULT_INVITATION_TTL_SECONDS;
    if (ttl > MAX_INVITATION_TTL_SECONDS) throw TributaryError.invalidArgument(`ttl_seconds must be at most ${MAX_INVITATION_TTL_SECONDS}`);
    const token = `trib_inv_${randomBytes(24).toString('base64url')}`;
    const at = this.now();
    const record: InvitationRecord = {
      tokenSha256: sha256(token),
      federations,
      siteName,
      expiresAtMs: at + ttl * 1000,
      createdAtMs: at,
      usedAtMs: 0,
    };
    await this.opts.state.write([{ kind: 'invitation', value: record }]);
    this.opts.logger.info({ federations, siteName, expiresAtMs: record.expiresAtMs }, 'invitation created');
    return { token, record };
  }

  /** Redeems a one-time invitation: adds the site with its key, in one atomic write. */
  async enroll(req: { token: string; siteName: string; publicKey: Uint8Array }): Promise<SiteRecord> {
    const invitation = req.token ? await this.opts.state.getInvitation(sha256(req.token)) : undefined;
    if (!invitation) throw TributaryError.of(Reason.INVITATION_INVALID, 'invitation token is not valid');
    if (invitation.usedAtMs !== 0) throw TributaryError.of(Reason.INVITATION_INVALID, 'invitation token was already used');
    if (this.now() > invitation.expiresAtMs) throw TributaryError.of(Reason.INVITATION_INVALID, 'invitation token has expired');
    const name = assertName('site', req.siteName || invitation.siteName);
    if (invitation.siteName && invitation.siteName !== name) throw TributaryError.of(Reason.INVITATION_INVALID, `this invitation is for site "${invitation.siteName}"`);
    if (req.publicKey.byteLength !== 32) throw TributaryError.invalidArgument('public_key must be the raw 32-byte Ed25519 public key');
    const keyId = keyIdOf(req.publicKey);
    if (await this.opts.state.getSite(name)) {
      throw TributaryError.of(Reason.ALREADY_EXISTS, `site "${name}" already exists`);
    }
    if (await this.opts.state.getSiteByKeyId(keyId)) {
      throw TributaryError.of(Reason.ALREADY_EXISTS, 'this public key already belongs to a site');
    }
    const site: SiteRecord = {
      name,
      keyId,
      publicKey: formatPublicKey(req.publicKey),
      status: 'APPROVED',
      federations: invitation.federations,
      createdAtMs: this.now(),
      revokedAtMs: 0,
    };
    await this.opts.state.write([
      { kind: 'site', value: site },
      { kind: 'invitation', value: { ...invitation, usedAtMs: this.now() } },
    ]);
    this.opts.logger.info({ site: name, keyId, federations: site.federations }, 'site enrolled');
    return site;
  }

  private async checkFederations(names: string[]): Promise<string[]> {
    const unique = [...new Set(names)];
    for (const name of unique) {
      assertName('federation', name);
      if (!(await this.opts.state.getFederation(name))) throw TributaryError.notFound(`federation "${name}" does not exist`);
    }
    return unique;
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

