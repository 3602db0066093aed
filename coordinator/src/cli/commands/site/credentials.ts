import { resolve } from 'node:path';
import { fmtCreds } from '@nats-io/jwt';
import { createUser } from '@nats-io/nkeys';
import { invalidValue } from '../../../config/values.js';
import { writePrivateFile } from '../../../config/private-file.js';
import { defineCommand } from '../../command.js';
import { UsageError } from '../../errors.js';
import { nameArg, optDurationMs, optString, UINT32_MAX } from '../../input.js';
import { fields, formatTime, list } from '../../render.js';

export interface SiteCredentialsResult {
  readonly site: string;
  /** The `.creds` file written (mode 0600): the user JWT and the nkey seed. */
  readonly credsFile: string;
  /** The user's public nkey: what a revocation names. */
  readonly userPublicKey: string;
  /** The inbox prefix the site must connect with. */
  readonly inboxPrefix: string;
  readonly federations: readonly string[];
  readonly expiresAtMs: number;
}

export default defineCommand({
  path: ['site', 'credentials'],
  summary: 'Write a NATS .creds file for a site that does not use the Tributary SDK (the key is made here; the coordinator signs its JWT)',
  args: [['<site>', 'site name']],
  connects: true,
  options(cmd) {
    cmd
      .requiredOption('--out <file>', 'where to write the .creds file (mode 0600)')
      .option('--ttl <duration>', "lifetime of the credentials, e.g. 1h (default: the coordinator's site credential ttl)");
  },
  parse(raw) {
    const out = optString(raw, 'out');
    if (out === undefined) throw new UsageError('--out <file> is required');
    const ttlMs = optDurationMs(raw, 'ttl', '--ttl');
    const ttlSeconds = ttlMs === undefined ? 0 : Math.ceil(ttlMs / 1000);
    if (ttlMs !== undefined && (ttlSeconds < 1 || ttlSeconds > UINT32_MAX)) throw invalidValue('--ttl', optString(raw, 'ttl'), 'must be at least one second');
    return { site: nameArg(raw, 0, 'site'), out, ttlSeconds };
  },
  async run(input, ctx): Promise<SiteCredentialsResult> {
    // The seed is made here and never leaves this machine; the coordinator sees the public key only.
    const user = createUser();
    const issued = await (await ctx.admin()).issueSiteNatsCredentials({ site: input.site, userPublicKey: user.getPublicKey(), ttlSeconds: input.ttlSeconds });
    const credsFile = resolve(ctx.cwd, input.out);
    await writePrivateFile(credsFile, fmtCreds(issued.jwt, user));
    return {
      site: input.site,
      credsFile,
      userPublicKey: user.getPublicKey(),
      inboxPrefix: issued.inboxPrefix,
      federations: issued.federations,
      expiresAtMs: issued.expiresAtMs,
    };
  },
  render(r) {
    return [
      `Wrote NATS credentials of site "${r.site}" to ${r.credsFile} (mode 0600).`,
      fields([
        ['user', r.userPublicKey],
        ['inbox prefix', `${r.inboxPrefix} (connect with it: the site may subscribe there only)`],
        ['federations', list(r.federations)],
        ['expires', formatTime(r.expiresAtMs)],
      ]),
      'Hand the file to the site over a private channel; run this again before it expires.',
    ].join('\n');
  },
});
