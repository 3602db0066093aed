import { join, resolve } from 'node:path';
import { keyIdOf } from '@tributary/proto';
import type { AuditBreak, AuditVerification } from '../../../audit/verify.js';
import { readPublicKey } from '../../../config/public-key.js';
import { defineCommand } from '../../command.js';
import { optString } from '../../input.js';

export interface AuditVerifyInput {
  /** Verify this data directory's copy of the log instead of asking the coordinator. */
  readonly dataDir: string | undefined;
  /** The coordinator's public key (base64 or a key file); default `<data-dir>/coordinator.key`. */
  readonly coordinatorKey: string | undefined;
}

/** What `audit verify` found: the verifier's figures, where it checked, and with which key. */
export type AuditVerifyResult = Omit<AuditVerification, 'broken'> & {
  /** `coordinator` (VerifyAuditLog), or the audit directory checked here. */
  readonly checked: string;
  readonly coordinatorKeyId: string;
  readonly broken?: Omit<AuditBreak, 'kind'> & { readonly kind: string };
};

export default defineCommand({
  path: ['audit', 'verify'],
  summary: 'Check the audit log: hash chain, signed heads and seals; name the first broken entry (exit 1 if any)',
  connects: true,
  options(cmd) {
    cmd
      .option('--data-dir <dir>', "check this coordinator data directory's copy of the log here, without calling the coordinator")
      .option('--coordinator-key <key>', "with --data-dir: the coordinator's public key (base64 or key file; default <data-dir>/coordinator.key)");
  },
  parse(raw): AuditVerifyInput {
    return { dataDir: optString(raw, 'dataDir'), coordinatorKey: optString(raw, 'coordinatorKey') };
  },
  async run(input, ctx): Promise<AuditVerifyResult> {
    if (input.dataDir === undefined) {
      const { broken, ...v } = await (await ctx.admin()).verifyAuditLog();
      return { ...v, checked: 'coordinator', ...(broken === null ? {} : { broken }) };
    }
    const dataDir = resolve(ctx.cwd, input.dataDir);
    const publicKey = await readPublicKey(input.coordinatorKey ?? join(dataDir, 'coordinator.key'), '--coordinator-key', ctx.cwd);
    // Loaded on demand: the verifier is the coordinator's own code, read-only over the files.
    const { verifyAuditLog } = await import('../../../audit/verify.js');
    const dir = join(dataDir, 'audit');
    const v = await verifyAuditLog(dir, publicKey);
    return { ...v, checked: dir, coordinatorKeyId: keyIdOf(publicKey) };
  },
  render(r) {
    const where = r.checked === 'coordinator' ? "the coordinator's audit log" : r.checked;
    if (r.broken !== undefined) {
      return `Audit log BROKEN (${where}): segment ${r.broken.segment}, index ${r.broken.index} (${r.broken.kind}): ${r.broken.message}.`;
    }
    const unsigned = r.unsignedEntries === 0 ? '' : `, ${r.unsignedEntries} after the last signed head`;
    return `Audit log intact (${where}): ${r.entries} entries in ${r.segments} segment(s) from segment ${r.firstSegment}, ${r.signatures} signatures by coordinator key ${r.coordinatorKeyId}${unsigned}; head ${r.headHash}.`;
  },
  exitCode(r) {
    return r.ok ? 0 : 1;
  },
});
