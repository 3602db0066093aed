import { createHash, randomBytes } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Reason,
  TributaryError,
  assertName,
  formatPublicKey,
  keyIdOf,
  quoted,
  isSha256Hex,
  type FederationSettings,
  type FederationSettings__Output,
  type SafetensorsEntry,
  type TensorSpec__Output,
} from '@tributary/proto';
import type { Logger } from 'pino';
import { invitationIdOf, type BlobStore, type DeletedFederationRecord, type FederationRecord, type InvitationRecord, type SiteRecord, type StateStore } from '../state/index.js';
import type { Strategy, StrategyRegistry } from '../strategies/index.js';
import { inspectInitialModel } from '../updates/foldable-update.js';
import { INITIAL_WEIGHTS, prepareModelVersion } from '../models/model-version.js';
import { normaliseSettings, settingsPatchFields } from '../rounds/settings.js';
import { SerialQueues } from '../rounds/serial-queues.js';

/** Longest federation description. */
const MAX_DESCRIPTION_CHARS = 1000;

/** A federation before and after an update, and the fields that changed (`description`, `settings.rounds`, ...). */
export interface FederationChange {
  before: FederationRecord;
  after: FederationRecord;
  changed: string[];
}

/** Default lifetime of an invitation token. */
const DEFAULT_INVITATION_TTL_SECONDS = 24 * 3600;
/** Longest lifetime an invitation may be given. */
const MAX_INVITATION_TTL_SECONDS = 30 * 24 * 3600;

/** What `invitationIdOf` makes. */
const INVITATION_ID = /^inv-[0-9a-f]{12}$/;

/** The initial weights of a new federation as they arrive: declared size and digest, then the bytes. */
export interface StreamedModel {
  size: number;
  sha256: string;
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

/** Federations, sites and invitations: the coordinator's membership records. */
export class Catalog {
  // Checks and writes of sites, invitations and federations run one at a time, so that two
  // calls cannot both see an invitation unused (or a name free) and both write.
  private readonly writes = new SerialQueues();

  constructor(
    private readonly opts: {
      state: StateStore;
      blobs: BlobStore;
      strategies: StrategyRegistry;
      logger: Logger;
      /** Where streamed initial weights are staged while they are hashed. */
      stagingDir: string;
      /** Largest initial weights accepted (the coordinator's max update size). */
      maxModelBytes: number;
      now?: () => number;
    },
  ) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /**
   * Creates a federation from streamed initial weights: everything the request says is checked
   * before a byte of the model is read; the bytes are hashed while they are staged on disk, and
   * their size and digest must match what was declared (and signed).
   */
  async createFederation(req: { name: string; description: string; settings: FederationSettings | null | undefined; model: StreamedModel }): Promise<FederationRecord> {
    const name = assertName('federation', req.name);
    const { settings, strategy } = this.compileSettings(req.settings as Parameters<typeof normaliseSettings>[0]);
    checkDescription(req.description);
    const { size, sha256: digest } = req.model;
    if (size === 0) throw TributaryError.invalidArgument('initial_model_size is required: the initial weights are a safetensors file');
    if (size > this.opts.maxModelBytes) {
      throw TributaryError.of(Reason.PAYLOAD_TOO_LARGE, `the initial weights are ${size} bytes; this coordinator accepts at most ${this.opts.maxModelBytes}`);
    }
    if (!isSha256Hex(digest)) throw TributaryError.invalidArgument('initial_model_sha256 must be 64 lowercase hex characters');
    await this.checkNameFree(name);
    const staged = join(this.opts.stagingDir, `initial-${randomBytes(12).toString('hex')}`);
    try {
      await stageModel(staged, req.model);
      // Checked as strictly as any update, since every norm and aggregate starts from them: finite
      // values, integers exact in float64, each tensor named once (read in bounded slices); the
      // header, which defines the model spec, is read once, in steps.
      const inspected = await inspectInitialModel(staged, size);
      if (!inspected.ok) throw TributaryError.of(inspected.refusal.reason, `the initial weights: ${inspected.refusal.message}`);
      const modelSpec = specOf(inspected.layout?.entries ?? []);
      // Ensembles take models of any shape: their initial model may be empty.
      if (modelSpec.length === 0 && !strategy.heterogeneous) throw TributaryError.invalidArgument('the initial weights hold no tensors');
      await this.opts.blobs.putFile(staged, digest);
      return await this.writes.run('catalog', async () => {
        await this.checkNameFree(name);
        const at = this.now();
        const draft: FederationRecord = { name, description: req.description, settings, modelSpec, createdAtMs: at, latestVersion: 0 };
        const initial = await prepareModelVersion(this.opts.blobs, draft, { blob: { sha256: digest, size } }, INITIAL_WEIGHTS, { atMs: at, version: 1 });
        await this.opts.state.write(initial.writes);
        this.opts.logger.info({ federation: name, strategy: settings.strategy, tensors: modelSpec.length, bytes: size }, 'federation created');
        return initial.federation;
      });
    } finally {
      await rm(staged, { force: true });
    }
  }

  async getFederation(name: string): Promise<FederationRecord> {
    const federation = await this.opts.state.getFederation(assertName('federation', name));
    if (federation) return federation;
    const deleted = await this.opts.state.getDeletedFederation(name);
    if (deleted) throw TributaryError.notFound(`federation "${name}" does not exist: it was deleted at ${new Date(deleted.deletedAtMs).toISOString()}`);
    throw TributaryError.notFound(`federation "${name}" does not exist`);
  }

  /**
   * Changes a federation's description and the settings `updateMask` names (snake_case field
   * names, as in the proto), validated exactly as at creation. The caller makes sure no run is
   * running (a run keeps the settings it started with). The strategy may change within its kind:
   * a strategy that averages tensors of the model spec cannot become one that ensembles whole
   * models, or the reverse, since the model lineage would not carry over. Changing the strategy
   * without naming strategy_options clears them: they were the old strategy's.
   */
  async updateFederation(req: { name: string; description: string; settings: Partial<FederationSettings__Output> | null; updateMask: readonly string[] }): Promise<FederationChange> {
    return this.writes.run('catalog', async () => {
      const before = await this.getFederation(req.name);
      const mask = [...new Set(req.updateMask)];
      if (mask.length === 0) throw TributaryError.invalidArgument('update_mask names nothing to change: give "description" or settings field names');
      const fields = settingsPatchFields();
      const patch: Record<string, unknown> = { ...before.settings };
      const given = (req.settings ?? {}) as Record<string, unknown>;
      for (const entry of mask) {
        if (entry === 'description') continue;
        const field = fields.get(entry);
        if (field === undefined) throw TributaryError.invalidArgument(`update_mask names ${quoted(entry)}, which is not a federation setting (the model spec never changes)`);
        patch[field] = given[field];
      }
      if (mask.includes('strategy') && !mask.includes('strategy_options') && patch['strategy'] !== before.settings.strategy) patch['strategyOptions'] = {};
      const { settings, strategy } = this.compileSettings(patch as Partial<FederationSettings__Output>);
      if (settings.strategy !== before.settings.strategy) this.checkStrategyKind(before.settings.strategy, strategy);
      const description = mask.includes('description') ? checkDescription(req.description) : before.description;
      const after: FederationRecord = { ...before, description, settings };
      const changed = changedFields(before, after);
      if (changed.length > 0) {
        await this.opts.state.write([{ kind: 'federation', value: after }]);
        this.opts.logger.info({ federation: after.name, changed }, 'federation updated');
      }
      return { before, after, changed };
    });
  }

  /**
   * Marks a federation deleted: it leaves the live federations (listings, lookups, new runs,
   * memberships) in one write with its sites' memberships; its runs, rounds, model versions and
   * grants stay for the record under its name, which is never given to another federation. The
   * caller makes sure no run is running.
   */
  async deleteFederation(name: string, deletedBy: string): Promise<DeletedFederationRecord> {
    return this.writes.run('catalog', async () => {
      const federation = await this.getFederation(name);
      const members = (await this.opts.state.listSites()).filter((s) => s.federations.includes(federation.name));
      const deleted: DeletedFederationRecord = { ...federation, deletedAtMs: this.now(), deletedBy, formerSites: members.map((s) => s.name) };
      await this.opts.state.write([
        { kind: 'federationDeleted', value: deleted },
        ...members.map((s) => ({ kind: 'site' as const, value: { ...s, federations: s.federations.filter((f) => f !== federation.name) } })),
      ]);
      this.opts.logger.warn({ federation: federation.name, deletedBy, formerSites: deleted.formerSites }, 'federation deleted');
      return deleted;
    });
  }

  /** Settings filled with their defaults and checked, with the strategy's own check of its options: creation and updates alike. */
  private compileSettings(input: Partial<FederationSettings__Output> | null | undefined): { settings: FederationSettings__Output; strategy: Strategy } {
    const settings = normaliseSettings(input);
    const strategy = this.opts.strategies.get(settings.strategy);
    settings.strategyOptions = strategy.validateOptions(settings.strategyOptions);
    return { settings, strategy };
  }

  private checkStrategyKind(previous: string, next: Strategy): void {
    let heterogeneous: boolean | undefined;
    try {
      heterogeneous = this.opts.strategies.get(previous).heterogeneous === true;
    } catch {
      // The old strategy's plugin is gone: nothing to compare with.
      return;
    }
    if (heterogeneous !== (next.heterogeneous === true)) {
      throw TributaryError.invalidArgument(
        `settings.strategy cannot change from ${quoted(previous)} to ${quoted(next.name)}: one ensembles whole models, the other averages the model spec's tensors, so the model lineage would not carry over; create another federation`,
      );
    }
  }

  /** A name is free when no federation, live or deleted, holds it. */
  private async checkNameFree(name: string): Promise<void> {
    if (await this.opts.state.getFederation(name)) throw TributaryError.of(Reason.ALREADY_EXISTS, `federation "${name}" already exists`);
    if (await this.opts.state.getDeletedFederation(name)) {
      throw TributaryError.of(Reason.ALREADY_EXISTS, `federation "${name}" was deleted; its runs and model versions keep the name, so choose another`);
    }
  }

  addSite(req: { name: string; publicKey: Uint8Array; federations: string[] }): Promise<SiteRecord> {
    return this.writes.run('catalog', () => this.addSiteNow(req));
  }

  private async addSiteNow(req: { name: string; publicKey: Uint8Array; federations: string[] }): Promise<SiteRecord> {
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

  /** Revokes a site's key; in the catalog's queue, so it cannot write back a membership a removal just took away. */
  revokeSite(name: string): Promise<SiteRecord> {
    return this.writes.run('catalog', async () => {
      const site = await this.getSite(name);
      if (site.status === 'REVOKED') return site;
      const revoked: SiteRecord = { ...site, status: 'REVOKED', revokedAtMs: this.now() };
      await this.opts.state.write([{ kind: 'site', value: revoked }]);
      this.opts.logger.warn({ site: name, keyId: site.keyId }, 'site revoked');
      return revoked;
    });
  }

  /**
   * Takes a site out of every federation and revokes its key, in one write. The record stays,
   * marked removed: rounds, refusals and model lineage name it. A round it was selected for goes
   * on without it (its updates are refused KEY_REVOKED, and the round closes at its deadline or
   * when the others have delivered). Removing a removed site changes nothing.
   */
  removeSite(name: string, by: string): Promise<SiteRecord> {
    return this.writes.run('catalog', async () => {
      const site = await this.getSite(name);
      if (site.removedAtMs !== undefined) return site;
      const at = this.now();
      const removed: SiteRecord = {
        ...site,
        status: 'REVOKED',
        revokedAtMs: site.status === 'REVOKED' ? site.revokedAtMs : at,
        federations: [],
        removedAtMs: at,
        removedBy: by,
        removedFrom: site.federations,
      };
      await this.opts.state.write([{ kind: 'site', value: removed }]);
      this.opts.logger.warn({ site: site.name, keyId: site.keyId, federations: site.federations, by }, 'site removed');
      return removed;
    });
  }

  /**
   * Trusts a revoked site's key again: status APPROVED, the revocation and removal marks cleared,
   * who and when recorded. Memberships are not given back: `addSite` with the same key re-adds it.
   */
  restoreSite(name: string, by: string): Promise<SiteRecord> {
    return this.writes.run('catalog', async () => {
      const site = await this.getSite(name);
      if (site.status !== 'REVOKED') throw TributaryError.of(Reason.FAILED_PRECONDITION, `site "${site.name}" is not revoked`);
      const { removedAtMs: _at, removedBy: _by, removedFrom: _from, ...kept } = site;
      const restored: SiteRecord = { ...kept, status: 'APPROVED', revokedAtMs: 0, restoredAtMs: this.now(), restoredBy: by };
      await this.opts.state.write([{ kind: 'site', value: restored }]);
      this.opts.logger.warn({ site: site.name, keyId: site.keyId, by }, 'site restored');
      return restored;
    });
  }

  private async getSite(name: string): Promise<SiteRecord> {
    const site = await this.opts.state.getSite(assertName('site', name));
    if (!site) throw TributaryError.notFound(`site "${name}" does not exist`);
    return site;
  }

  /** Mints an invitation to `federations`, recording the principal that minted it. */
  async createInvitation(req: { federations: string[]; siteName: string; ttlSeconds: number; mintedBy: string }): Promise<{ token: string; record: InvitationRecord }> {
    const federations = await this.checkFederations(req.federations);
    if (federations.length === 0) throw TributaryError.invalidArgument('an invitation needs at least one federation');
    const siteName = req.siteName ? assertName('site', req.siteName) : '';
    const ttl = req.ttlSeconds || DEFAULT_INVITATION_TTL_SECONDS;
    if (ttl > MAX_INVITATION_TTL_SECONDS) throw TributaryError.invalidArgument(`ttl_seconds must be at most ${MAX_INVITATION_TTL_SECONDS}`);
    const token = `trib_inv_${randomBytes(24).toString('base64url')}`;
    const at = this.now();
    const tokenSha256 = sha256(token);
    const record: InvitationRecord = {
      tokenSha256,
      id: invitationIdOf({ tokenSha256 }),
      federations,
      siteName,
      expiresAtMs: at + ttl * 1000,
      createdAtMs: at,
      usedAtMs: 0,
      mintedBy: req.mintedBy,
    };
    await this.opts.state.write([{ kind: 'invitation', value: record }]);
    this.opts.logger.info({ id: record.id, federations, siteName, expiresAtMs: record.expiresAtMs, mintedBy: req.mintedBy }, 'invitation created');
    return { token, record };
  }

  /** Pending invitations (neither used, expired nor revoked), newest first; to `federation` only when given. */
  async pendingInvitations(federation?: string): Promise<InvitationRecord[]> {
    const now = this.now();
    return (await this.opts.state.listInvitations())
      .filter((i) => pending(i, now) && (federation === undefined || i.federations.includes(federation)))
      .sort((a, b) => b.createdAtMs - a.createdAtMs);
  }

  /** The invitation with public id `id`, whatever its state; NOT_FOUND if there is none. */
  async invitation(id: string): Promise<InvitationRecord> {
    const found = INVITATION_ID.test(id) ? (await this.opts.state.listInvitations()).find((i) => invitationIdOf(i) === id) : undefined;
    if (found === undefined) throw TributaryError.notFound(`invitation ${quoted(id)} does not exist`);
    return found;
  }

  /**
   * Revokes a pending invitation: its token no longer enrolls. A used or expired invitation can
   * no longer be used anyway and is refused FAILED_PRECONDITION; revoking twice changes nothing.
   */
  revokeInvitation(id: string, by: string): Promise<InvitationRecord> {
    return this.writes.run('catalog', async () => {
      const invitation = await this.invitation(id);
      if (invitation.revokedAtMs !== undefined) return invitation;
      if (invitation.usedAtMs !== 0) throw TributaryError.of(Reason.FAILED_PRECONDITION, `invitation ${id} was already used`);
      if (this.now() > invitation.expiresAtMs) throw TributaryError.of(Reason.FAILED_PRECONDITION, `invitation ${id} has already expired`);
      const revoked: InvitationRecord = { ...invitation, revokedAtMs: this.now(), revokedBy: by };
      await this.opts.state.write([{ kind: 'invitation', value: revoked }]);
      this.opts.logger.warn({ id, federations: invitation.federations, siteName: invitation.siteName, by }, 'invitation revoked');
      return revoked;
    });
  }

  /**
   * Redeems a one-time invitation: adds the site with its key, in one atomic write. Redemptions
   * run one at a time, so of concurrent calls with one token exactly one succeeds. `accepted`
   * runs once the invitation is found valid, before anything is written (the call's nonce is
   * recorded there, so a bogus enrollment leaves nothing behind).
   */
  enroll(req: { token: string; siteName: string; publicKey: Uint8Array; accepted?: () => void }): Promise<SiteRecord> {
    return this.writes.run('catalog', () => this.enrollNow(req));
  }

  private async enrollNow(req: { token: string; siteName: string; publicKey: Uint8Array; accepted?: () => void }): Promise<SiteRecord> {
    const invitation = req.token ? await this.opts.state.getInvitation(sha256(req.token)) : undefined;
    if (!invitation) throw TributaryError.of(Reason.INVITATION_INVALID, 'invitation token is not valid');
    if (invitation.usedAtMs !== 0) throw TributaryError.of(Reason.INVITATION_INVALID, 'invitation token was already used');
    if (invitation.revokedAtMs !== undefined) throw TributaryError.of(Reason.INVITATION_INVALID, 'invitation token was revoked');
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
    req.accepted?.();
    const site: SiteRecord = {
      name,
      keyId,
      publicKey: formatPublicKey(req.publicKey),
      status: 'APPROVED',
      // A federation deleted since the invitation was minted is not joined.
      federations: await this.liveFederations(invitation.federations),
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

  private async liveFederations(names: readonly string[]): Promise<string[]> {
    const live: string[] = [];
    for (const name of names) if (await this.opts.state.getFederation(name)) live.push(name);
    return live;
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

/** Writes the streamed bytes to `path`, hashing as they come; their size and digest must be the declared ones. */
async function stageModel(path: string, model: StreamedModel): Promise<void> {
  const file = await open(path, 'wx', 0o600);
  const hash = createHash('sha256');
  let received = 0;
  try {
    for await (const chunk of model.chunks) {
      received += chunk.byteLength;
      if (received > model.size) throw TributaryError.of(Reason.SIZE_MISMATCH, `the initial weights run past their declared ${model.size} bytes`);
      hash.update(chunk);
      await file.write(chunk);
    }
  } finally {
    await file.close();
  }
  if (received !== model.size) throw TributaryError.of(Reason.SIZE_MISMATCH, `received ${received} bytes of initial weights; ${model.size} were declared`);
  if (hash.digest('hex') !== model.sha256) throw TributaryError.of(Reason.DIGEST_MISMATCH, 'the initial weights do not match initial_model_sha256');
}

/** The model spec an initial model's header declares. */
function specOf(entries: readonly SafetensorsEntry[]): TensorSpec__Output[] {
  return entries.map((e) => ({ name: e.name, dtype: e.dtype, shape: [...e.shape] }));
}

function pending(invitation: InvitationRecord, now: number): boolean {
  return invitation.usedAtMs === 0 && invitation.revokedAtMs === undefined && now <= invitation.expiresAtMs;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The fields an update changed, as `description` and `settings.<snake_case name>`. */
function changedFields(before: FederationRecord, after: FederationRecord): string[] {
  const changed = before.description === after.description ? [] : ['description'];
  const a = before.settings as unknown as Record<string, unknown>;
  const b = after.settings as unknown as Record<string, unknown>;
  for (const [snake, field] of settingsPatchFields()) {
    if (JSON.stringify(a[field]) !== JSON.stringify(b[field])) changed.push(`settings.${snake}`);
  }
  return changed;
}

function checkDescription(description: string): string {
  if (description.length > MAX_DESCRIPTION_CHARS) throw TributaryError.invalidArgument(`description must be at most ${MAX_DESCRIPTION_CHARS} characters`);
  return description;
}
