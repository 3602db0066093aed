import { defineCommand } from '../command.js';

export interface DashboardResult {
  /** Open it once, within a minute: the token is exchanged for a session cookie. */
  readonly url: string;
  readonly expiresAtMs: number;
}

export default defineCommand({
  path: ['dashboard'],
  summary: "Print a one-time login URL for the coordinator's read-only web dashboard",
  connects: true,
  options(cmd) {
    cmd.addHelpText(
      'after',
      '\nThe coordinator serves the dashboard when started with --http-port (tributary dev does).\nThe URL logs in once; the session lasts 30 minutes.',
    );
  },
  parse() {
    return {};
  },
  async run(_input, ctx): Promise<DashboardResult> {
    const login = await (await ctx.admin()).createDashboardSession();
    const grpcAddress = ctx.clientConfig().coordinator;
    const host = grpcAddress.slice(0, grpcAddress.lastIndexOf(':'));
    return { url: `${login.https ? 'https' : 'http'}://${host}:${login.httpPort}${login.loginPath}`, expiresAtMs: login.expiresAtMs };
  },
  render(result) {
    return `Open this URL (once, within a minute) to log in to the dashboard:\n  ${result.url}`;
  },
});
