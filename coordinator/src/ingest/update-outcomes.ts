import {
  STREAM_PAYLOADS,
  TributaryError,
  UPDATE_ID_PATTERN,
  signVerdict,
  subjects,
  type Refusal,
  type SigningKey,
  type UpdateManifest__Output,
  type UpdateState__Output,
  type UpdateSubject,
} from '@tributary/proto';
import type { JetStreamManager, NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.js';
import type { CoordinatorMetrics } from '../observability/metrics.js';
import type { UpdateAdmission } from '../rounds/admission.js';
import type { SiteRecord, StateStore, UpdateRecord } from '../state/index.js';
import { refusedRecord } from '../rounds/update-records.js';

/** The payload digest and size an acceptance names. */
type VerifiedPayload = { readonly payloadSha256: string; readonly payloadSize: number };

/** What is known about a manifest being processed, growing as its checks pass. */
export interface Delivery {
  readonly subject: string;
  /** Subject tokens; unauthenticated. */
  readonly parsed: UpdateSubject | undefined;
  /** Stream sequence of the message on TRIB_UPDATES. */
  readonly seq: number;
  /** Update id read from an unverified body, only for the log. */
  claimedUpdateId?: string;
  /** The signing key's site, once the key is known. */
  site?: SiteRecord;
  /** Set once the signature verified and the body decoded. */
  manifest?: UpdateManifest__Output;
  /**
   * Set once the manifest's signer is the site its subject names and a member of its federation:
   * only then is anything recorded under its update id.
   */
  attributable?: boolean;
}

export interface UpdateOutcomesOptions {
  nc: NatsConnection;
  jsm: JetStreamManager;
  state: StateStore;
  admission: UpdateAdmission;
  metrics: CoordinatorMetrics;
  logger: Logger;
  /** The coordinator's key: every verdict is a SignedEnvelope of kind "verdict" made with it. */
  verdictKey: SigningKey;
  /** Records refusals of updates whose signing key is known, before they are answered. */
  audit?: Pick<AuditLog, 'append'>;
}

/** The method an update's audit entries name: updates arrive over NATS, not as a gRPC call. */
export const UPDATE_AUDIT_METHOD = 'nats:update';

/** Chunk purges running at once; the rest wait in order (see `nextPurges`). */
const PURGE_CONCURRENCY = 4;

/**
 * How an update's processing ends: refusals counted and logged; for attributable manifests only,
 * the refusal recorded (the update id's record and its round's list), the verdict signed and
 * published on the site's verdict subject, and the update's payload chunks purged. A manifest
 * that cannot be attributed answers nobody: its subject and claimed update id are not to be
 * trusted, so a verdict there could tell a site something about an update it never sent.
 */
export class UpdateOutcomes {
  /** Chunk purges running after their verdicts; awaited on stop. */
  private readonly cleanups = new Set<Promise<unknown>>();
  /** Payload subjects whose purge waits for its turn, oldest verdict first. */
  private readonly purgeQueue: string[] = [];
  /** Payload subjects queued or being purged. */
  private readonly purging = new Set<string>();
  private purgesRunning = 0;

  constructor(private readonly opts: UpdateOutcomesOptions) {}

  /** Records a refusal and answers the site. Refusals of unattributable manifests are only counted and logged. */
  async refuse(d: Delivery, r: Refusal): Promise<void> {
    const manifest = d.attributable ? d.manifest : undefined;
    const site = d.site?.name ?? d.parsed?.site;
    this.opts.metrics.updatesRefused.inc({ reason: r.reason });
    this.opts.logger.warn({ subject: d.subject, site, updateId: manifest?.updateId ?? d.claimedUpdateId, reason: r.reason }, `update refused: ${r.message}`);
    if (manifest !== undefined) {
      // Only new, well-formed ids are recorded: an id keeps its first verdict.
      if (UPDATE_ID_PATTERN.test(manifest.updateId) && !(await this.opts.state.getUpdate(manifest.updateId))) {
        await this.opts.state.write([{ kind: 'update', value: refusedRecord(manifest, r.reason, r.message, Date.now(), d.seq) }]);
      }
      await this.opts.admission.noteRefusal(manifest, r);
    }
    await this.audit(d, r);
    this.answer(d, 'UPDATE_STATE_REFUSED', r.reason, r.message);
  }

  /**
   * Appends the refusal to the audit log once the signing key is known: a stranger's manifest is
   * only counted, so it cannot fill the disk. The refusal itself is already in the state store,
   * so a failed append is logged rather than holding the verdict back.
   */
  private async audit(d: Delivery, r: Refusal): Promise<void> {
    const site = d.site;
    if (site === undefined || this.opts.audit === undefined) return;
    const m = d.attributable ? d.manifest : undefined;
    await this.opts.audit
      .append({
        atMs: Date.now(),
        keyId: site.keyId,
        name: site.name,
        peer: 'nats',
        method: UPDATE_AUDIT_METHOD,
        federation: m?.federation ?? d.parsed?.federation ?? '',
        site: m?.site ?? d.parsed?.site ?? site.name,
        runId: m?.runId ?? d.parsed?.runId ?? '',
        outcome: 'refused',
        reason: r.reason,
      })
      .catch((err: unknown) => this.opts.logger.error({ err: TributaryError.from(err).message, updateId: m?.updateId, reason: r.reason }, 'update refusal not recorded in the audit log'));
  }

  /**
   * A replay: a copy of an envelope whose update id is being verified or was already decided.
   * Anyone who saw the signed bytes can send them again, so a replay costs one count and one log
   * line: nothing is recorded, no run event is emitted, and no chunks are purged (the original's
   * may still be in use). A copy of a decided update is answered with its first verdict, which a
   * site that missed it can use; one in flight gets its verdict when verification ends.
   */
  replayed(d: Delivery, r: Refusal, prior?: UpdateRecord): void {
    this.opts.metrics.updatesRefused.inc({ reason: r.reason });
    this.opts.logger.warn({ subject: d.subject, site: d.site?.name, updateId: d.manifest?.updateId, reason: r.reason }, `update refused: ${r.message}`);
    if (prior !== undefined) this.verdict(d, prior.state === 'ACCEPTED' ? 'UPDATE_STATE_ACCEPTED' : 'UPDATE_STATE_REFUSED', prior.reason, prior.message, prior.summary);
  }

  /** Answers an accepted update, naming the payload digest and size it was verified against. */
  accepted(d: Delivery, opts: { keepPayload?: boolean } = {}): void {
    if (opts.keepPayload) this.verdict(d, 'UPDATE_STATE_ACCEPTED', '', '');
    else this.answer(d, 'UPDATE_STATE_ACCEPTED', '', '');
  }

  /** A redelivered manifest whose verdict was already recorded: answer it again, change nothing. */
  repeat(d: Delivery, prior: UpdateRecord): void {
    this.opts.logger.debug({ updateId: prior.updateId, state: prior.state }, 'redelivered manifest already decided');
    this.answer(d, prior.state === 'ACCEPTED' ? 'UPDATE_STATE_ACCEPTED' : 'UPDATE_STATE_REFUSED', prior.reason, prior.message, prior.summary);
  }

  /** Waits for the chunk purges queued or running. */
  async settled(): Promise<void> {
    while (this.cleanups.size > 0) await Promise.allSettled([...this.cleanups]);
  }

  /** Publishes the signed verdict on the site's verdict subject and purges the update's chunks: attributable manifests only. */
  private answer(d: Delivery, state: UpdateState__Output, reason: string, message: string, recorded?: VerifiedPayload): void {
    this.verdict(d, state, reason, message, recorded);
    this.purge(d);
  }

  /**
   * Publishes the signed verdict on the site's verdict subject: attributable manifests only. An
   * acceptance names the payload digest and size that were verified (the manifest's, which the
   * bytes matched; for a repeat, the recorded ones); a refusal names none.
   */
  private verdict(d: Delivery, state: UpdateState__Output, reason: string, message: string, recorded?: VerifiedPayload): void {
    const manifest = d.attributable ? d.manifest : undefined;
    if (manifest === undefined) return;
    const verified = state !== 'UPDATE_STATE_ACCEPTED' ? undefined : (recorded ?? manifest);
    const verdict = signVerdict(
      {
        updateId: manifest.updateId,
        state,
        reason,
        message,
        federation: manifest.federation,
        runId: manifest.runId,
        round: manifest.round,
        site: manifest.site,
        payloadSha256: verified?.payloadSha256 ?? '',
        payloadSize: verified?.payloadSize ?? 0,
      },
      this.opts.verdictKey,
    );
    this.opts.nc.publish(subjects.verdict(manifest.federation, manifest.site), verdict);
  }

  /** Purges the update's payload chunks, off the critical path: attributable manifests only. */
  private purge(d: Delivery): void {
    const manifest = d.attributable ? d.manifest : undefined;
    if (manifest === undefined) return;
    // Only an attributable manifest may clear chunks: a forged one could otherwise delete a
    // pending update's payload.
    if (UPDATE_ID_PATTERN.test(manifest.updateId)) {
      const subject = subjects.sitePayload(manifest.federation, manifest.site, manifest.updateId);
      if (this.purging.has(subject)) return;
      this.purging.add(subject);
      this.purgeQueue.push(subject);
      this.nextPurges();
    }
  }

  /** True while the chunks of `subject` wait for their purge or are being purged. */
  purgePending(subject: string): boolean {
    return this.purging.has(subject);
  }

  /**
   * Runs queued purges, PURGE_CONCURRENCY at a time. Off the critical path: the verdict does not
   * wait for the purge (30-80 ms); bounded, because nats-server answers the JetStream API (the
   * payload reads' direct gets among it) in turn, and a verdict per small update would otherwise
   * put hundreds of purges in front of the next updates' reads.
   */
  private nextPurges(): void {
    while (this.purgesRunning < PURGE_CONCURRENCY && this.purgeQueue.length > 0) {
      const subject = this.purgeQueue.shift() as string;
      this.purgesRunning += 1;
      const purge = this.opts.jsm.streams
        .purge(STREAM_PAYLOADS, { filter: subject })
        .catch((err: unknown) => this.opts.logger.warn({ err, subject }, 'could not purge payload chunks'))
        .finally(() => {
          this.cleanups.delete(purge);
          this.purging.delete(subject);
          this.purgesRunning -= 1;
          this.nextPurges();
        });
      this.cleanups.add(purge);
    }
  }

}
