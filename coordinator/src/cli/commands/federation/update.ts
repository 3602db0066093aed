import type { Federation__Output, FederationSettings__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { UsageError } from '../../errors.js';
import { nameArg, optString } from '../../input.js';
import { enumLabel } from '../../render.js';
import { parseSettingsFlags, settingsOptions } from './settings.js';

/** One setting an update changed, as people read it. */
export interface SettingChange {
  readonly setting: string;
  readonly from: string;
  readonly to: string;
}

export interface FederationUpdated {
  readonly federation: Federation__Output;
  readonly changes: readonly SettingChange[];
}

/** Settings whose field name reads worse than the flag that sets them. */
const LABELS: Readonly<Record<string, string>> = {
  roundDeadlineSeconds: 'deadline',
  waitAfterQuorumSeconds: 'wait after quorum',
};

export default defineCommand({
  path: ['federation', 'update'],
  summary: 'Change a federation\'s settings between runs (the next run uses them)',
  args: [['<name>', 'federation name']],
  connects: true,
  options(cmd) {
    cmd.option('--description <text>', 'what the federation is for');
    settingsOptions(cmd, 'update');
  },
  parse(raw) {
    const settings = parseSettingsFlags(raw, 'update');
    const description = optString(raw, 'description');
    if (Object.keys(settings).length === 0 && description === undefined) {
      throw new UsageError('nothing to change: give the settings to change, with the flags of `tributary federation create` (e.g. --rounds 5)');
    }
    return { name: nameArg(raw, 0, 'federation'), settings, description };
  },
  async run(input, ctx): Promise<FederationUpdated> {
    const admin = await ctx.admin();
    const before = await admin.getFederation(input.name);
    const federation = await admin.updateFederation({ name: input.name, settings: input.settings, ...(input.description === undefined ? {} : { description: input.description }) });
    return { federation, changes: changesBetween(before, federation) };
  },
  render(r) {
    if (r.changes.length === 0) return `Federation "${r.federation.name}" already had these settings: nothing changed.`;
    const lines = r.changes.map((c) => `  ${c.setting}: ${c.from} -> ${c.to}`);
    return [`Updated federation "${r.federation.name}"; its next run uses:`, ...lines].join('\n');
  },
});

function changesBetween(before: Federation__Output, after: Federation__Output): SettingChange[] {
  const changes: SettingChange[] = [];
  if (before.description !== after.description) changes.push({ setting: 'description', from: JSON.stringify(before.description), to: JSON.stringify(after.description) });
  const a = (before.settings ?? {}) as Partial<FederationSettings__Output>;
  const b = (after.settings ?? {}) as Partial<FederationSettings__Output>;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof FederationSettings__Output>) {
    const from = shown(a[key]);
    const to = shown(b[key]);
    if (from !== to) changes.push({ setting: LABELS[key] ?? key.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`), from, to });
  }
  return changes;
}

function shown(value: unknown): string {
  if (typeof value === 'string') return enumLabel(value, 'ROUND_FAILURE_POLICY_').toLowerCase() || '""';
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value);
    return entries.length === 0 ? '(none)' : entries.map(([k, v]) => `${k}=${String(v)}`).join(', ');
  }
  return String(value);
}
