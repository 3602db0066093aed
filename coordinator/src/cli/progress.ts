/** Live progress lines: redrawn in place on a terminal, one line per update otherwise. */
export interface Progress {
  /** Output is a terminal: the live line is redrawn in place. */
  readonly tty: boolean;
  /** Replaces the live line (a new line when not on a terminal). */
  update(text: string): void;
  /** Prints a line that stays, above the live line. */
  line(text: string): void;
  /** Ends the live line so later output starts on a fresh line. */
  done(): void;
}

export const silentProgress: Progress = { tty: false, update() {}, line() {}, done() {} };

export function streamProgress(out: NodeJS.WritableStream, tty: boolean): Progress {
  let live = false;
  const clear = (): void => {
    if (live) out.write('\r\x1b[2K');
    live = false;
  };
  return {
    tty,
    update(text) {
      if (!tty) {
        out.write(`${text}\n`);
        return;
      }
      clear();
      out.write(text);
      live = true;
    },
    line(text) {
      clear();
      out.write(`${text}\n`);
    },
    done() {
      if (live) out.write('\n');
      live = false;
    },
  };
}
