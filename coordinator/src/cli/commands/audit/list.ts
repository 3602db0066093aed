import { defineCommand } from '../../command.js';
import { optInteger } from '../../input.js';
import { table } from '../../render.js';
import { auditFilterOptions, auditRecordJson, parseAuditFilter, type AuditFilterInput, type AuditRecordJson } from './filter.js';

/** Entries shown when `--limit` is not given: the newest. */
const DEFAULT_LIMIT = 1000;

export interface AuditListInput extends AuditFilterInput {
  readonly limit: number;
}

export default defineCommand({
  path: ['audit'],
  summary: 'Show the audit log: state-changing and denied calls, refused updates (newest 1000 by default)',
  connects: true,
  options(cmd) {
    auditFilterOptions(cmd);
    cmd.option('--limit <n>', `at most this many entries, the newest (default ${DEFAULT_LIMIT}, at most 100000)`);
  },
  parse(raw): AuditListInput {
    return { ...parseAuditFilter(raw), limit: optInteger(raw, 'limit', '--limit', 1, 100_000) ?? DEFAULT_LIMIT };
  },
  async run(input, ctx): Promise<AuditRecordJson[]> {
    const admin = await ctx.admin();
    const entries: AuditRecordJson[] = [];
    const stream = admin.auditEntries({
      ...(input.sinceMs === undefined ? {} : { sinceMs: input.sinceMs }),
      ...(input.principal === undefined ? {} : { principal: input.principal }),
      ...(input.federation === undefined ? {} : { federation: input.federation }),
      limit: input.limit,
      signal: ctx.signal,
    });
    for await (const e of stream) entries.push(auditRecordJson(e));
    return entries;
  },
  render(entries) {
    if (entries.length === 0) return 'No audit entries.';
    return table(
      ['TIME (UTC)', 'OUTCOME', 'REASON', 'PRINCIPAL', 'METHOD', 'TARGET', 'PEER'],
      entries.map((e) => [
        e.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
        e.outcome,
        e.reason,
        e.principalName === '' ? e.keyId : `${e.principalName} (${e.keyId.slice(0, 8)})`,
        e.method.slice(e.method.lastIndexOf('/') + 1),
        [e.federation === '' ? '' : `federation:${e.federation}`, e.site === '' ? '' : `site:${e.site}`, e.runId === '' ? '' : `run:${e.runId}`].filter((t) => t !== '').join(' '),
        e.peer,
      ]),
    );
  },
});
