import { browserOpener, openInBrowser } from '../browser.js';
import { defineCommand } from '../command.js';

export interface DashboardResult {
  /** Open it once, within a minute: the token is exchanged for a session cookie. */
  readonly url: string;
  readonly expiresAtMs: number;
  /** The program that opened `url` in a browser; absent when it was printed instead. */
  readonly openedWith?: string;
  /** Why the URL was printed rather than opened, when a browser was wanted. */
  readonly note?: string;
}

export default defineCommand({
  path: ['dashboard'],
  summary: "Open the coordinator's read-only web dashboard in a browser, logged in once",
  connects: true,
  options(cmd) {
    cmd.option('--no-open', 'print the one-time login URL instead of opening it in a browser');
    cmd.addHelpText(
      'after',
      '\nThe coordinator serves the dashboard when started with --http-port (tributary dev does).\n' +
        'The browser is $BROWSER if set, else xdg-open (Linux), open (macOS) or start (Windows); with --json,\n' +
        '--no-open or no display the URL is printed. It logs in once; the session lasts 30 minutes.',
    );
  },
  parse(raw) {
    // Commander sets open to false for --no-open.
    return { open: raw.opts['open'] !== false };
  },
  async run(input, ctx): Promise<DashboardResult> {
    const login = await (await ctx.admin()).createDashboardSession();
    const grpcAddress = ctx.clientConfig().coordinator;
    const host = grpcAddress.slice(0, grpcAddress.lastIndexOf(':'));
    const url = `${login.https ? 'https' : 'http'}://${host}:${login.httpPort}${login.loginPath}`;
    const printed = { url, expiresAtMs: login.expiresAtMs };
    // A script reading --json wants the URL, not a browser window.
    if (!input.open || ctx.json) return printed;
    const opener = browserOpener(url, ctx.env);
    if (typeof opener === 'string') return { ...printed, note: opener };
    const opened = await openInBrowser(opener);
    return opened.ok ? { ...printed, openedWith: opener.command } : { ...printed, note: opened.why };
  },
  render(result) {
    if (result.openedWith !== undefined) return `Opened the dashboard in a browser (${result.openedWith}); the login in it works once, within a minute.`;
    const note = result.note === undefined ? '' : `\n(Not opened in a browser: ${result.note}.)`;
    return `Open this URL (once, within a minute) to log in to the dashboard:\n  ${result.url}${note}`;
  },
});
