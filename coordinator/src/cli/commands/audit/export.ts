import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { defineCommand } from '../../command.js';
import { optString } from '../../input.js';
import { auditFilterOptions, auditRecordJson, parseAuditFilter, type AuditFilterInput } from './filter.js';

export interface AuditExportResult {
  /** Absolute path of the JSON-lines file written. */
  readonly file: string;
  readonly entries: number;
  /** Hash of the last entry exported (each line carries its own), empty when none. */
  readonly lastHash: string;
}

export default defineCommand({
  path: ['audit', 'export'],
  summary: 'Write audit entries to a JSON-lines file for a SIEM (one entry a line, oldest first)',
  connects: true,
  options(cmd) {
    auditFilterOptions(cmd);
    cmd.requiredOption('--out <file>', 'where to write the .jsonl file (mode 0600)');
  },
  parse(raw): AuditFilterInput & { out: string } {
    return { ...parseAuditFilter(raw), out: optString(raw, 'out') ?? '' };
  },
  async run(input, ctx): Promise<AuditExportResult> {
    const admin = await ctx.admin();
    const file = resolve(ctx.cwd, input.out);
    await mkdir(dirname(file), { recursive: true });
    // Written beside the target, then renamed: a reader never sees half an export.
    const partial = `${file}.${randomBytes(4).toString('hex')}.partial`;
    const out = await open(partial, 'w', 0o600);
    let entries = 0;
    let lastHash = '';
    try {
      const stream = admin.auditEntries({
        ...(input.sinceMs === undefined ? {} : { sinceMs: input.sinceMs }),
        ...(input.principal === undefined ? {} : { principal: input.principal }),
        ...(input.federation === undefined ? {} : { federation: input.federation }),
        signal: ctx.signal,
      });
      for await (const e of stream) {
        await out.write(`${JSON.stringify(auditRecordJson(e))}\n`);
        entries += 1;
        lastHash = e.hash;
      }
      await out.sync();
      await out.close();
      await rename(partial, file);
    } catch (err) {
      await out.close().catch(() => undefined);
      await rm(partial, { force: true });
      throw err;
    }
    return { file, entries, lastHash };
  },
  render(r) {
    return `Wrote ${r.entries} audit ${r.entries === 1 ? 'entry' : 'entries'} to ${r.file}.`;
  },
});
