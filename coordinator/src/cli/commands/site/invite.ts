import { assertName } from '@tributary/proto';
import type { Invitation__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { UsageError } from '../../errors.js';
import { collect, federationNames, optDurationMs, optString, UINT32_MAX } from '../../input.js';
import { invalidValue } from '../../../config/values.js';
import { fields, formatTime, list } from '../../render.js';

export default defineCommand({
  path: ['site', 'invite'],
  summary: 'Mint a one-time, expiring enrollment token for a new site',
  connects: true,
  options(cmd) {
    cmd
      .option('--federation <name>', 'federation the site joins; repeatable', collect)
      .option('--name <site>', 'name the site must enroll under (default: its choice)')
      .option('--ttl <duration>', 'lifetime of the token, e.g. 30m, 24h', '24h');
  },
  parse(raw) {
    const federations = federationNames(raw);
    if (federations.length === 0) throw new UsageError('at least one --federation is required');
    const name = optString(raw, 'name');
    const ttlMs = optDurationMs(raw, 'ttl', '--ttl') ?? 86_400_000;
    const ttlSeconds = Math.ceil(ttlMs / 1000);
    if (ttlSeconds < 1 || ttlSeconds > UINT32_MAX) throw invalidValue('--ttl', optString(raw, 'ttl'), 'must be at least one second');
    return { federations, siteName: name === undefined ? undefined : assertName('site', name), ttlSeconds };
  },
  async run(input, ctx): Promise<Invitation__Output> {
    return (await ctx.admin()).createInvitation({
      federations: input.federations,
      ttlSeconds: input.ttlSeconds,
      ...(input.siteName === undefined ? {} : { siteName: input.siteName }),
    });
  },
  render(inv) {
    return [
      'Invitation token (hand it to the site out of band; it works once):',
      `  ${inv.token}`,
      fields([
        ['federations', list(inv.federations)],
        ['site name', inv.siteName === '' ? '(chosen by the site)' : inv.siteName],
        ['expires', formatTime(inv.expiresAtMs)],
        ['minted by', inv.mintedBy],
      ]),
    ].join('\n');
  },
  quiet: (inv) => inv.token,
});
