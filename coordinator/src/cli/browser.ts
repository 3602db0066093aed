import { spawn } from 'node:child_process';

/** A program that opens a URL in the user's browser, as argv (the URL goes in as one argument, never through a shell). */
export interface BrowserOpener {
  readonly command: string;
  readonly args: readonly string[];
}

/** Longest `$BROWSER` value taken; longer ones are ignored as garbage. */
const MAX_BROWSER_CHARS = 1024;

/**
 * The platform's way to open `url`: `$BROWSER` if set (the first of its `:`-separated commands,
 * `%s` replaced by the URL or the URL appended), else `open` on macOS, `start` on Windows, and
 * `xdg-open` elsewhere when a display is there. A string says why there is none.
 */
export function browserOpener(url: string, env: Readonly<Record<string, string | undefined>>, platform: NodeJS.Platform = process.platform): BrowserOpener | string {
  const browser = env['BROWSER']?.trim() ?? '';
  if (browser !== '' && browser.length <= MAX_BROWSER_CHARS) {
    const [command, ...rest] = (browser.split(':')[0] ?? '').trim().split(/\s+/);
    if (command !== undefined && command !== '') {
      const args = rest.some((a) => a.includes('%s')) ? rest.map((a) => a.replaceAll('%s', url)) : [...rest, url];
      return { command, args };
    }
  }
  if (platform === 'darwin') return { command: 'open', args: [url] };
  // `start` is a cmd built-in; its first quoted argument is a window title.
  if (platform === 'win32') return { command: 'cmd', args: ['/c', 'start', '""', url] };
  if (!env['DISPLAY'] && !env['WAYLAND_DISPLAY']) return 'no display (neither DISPLAY nor WAYLAND_DISPLAY is set, and BROWSER is not)';
  return { command: 'xdg-open', args: [url] };
}

/**
 * Starts `opener` detached, without waiting for the browser to close. Resolves once it has
 * started, or with why it could not (not installed, not executable).
 */
export function openInBrowser(opener: BrowserOpener): Promise<{ ok: true } | { ok: false; why: string }> {
  return new Promise((resolve) => {
    const child = spawn(opener.command, opener.args, { detached: true, stdio: 'ignore', windowsVerbatimArguments: opener.command === 'cmd' });
    child.once('error', (err) => resolve({ ok: false, why: `${opener.command} could not be started (${err.message})` }));
    child.once('spawn', () => {
      child.unref();
      resolve({ ok: true });
    });
  });
}
