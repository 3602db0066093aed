import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Reason, TributaryError, isTributaryError } from '@tributary/proto';

/** How long a script has to exit after SIGTERM before it gets SIGKILL. */
export const KILL_GRACE_MS = 5_000;
/** How often metrics.jsonl is read while the script runs. */
const METRICS_POLL_MS = 250;
/** Longest metrics line read; longer ones are skipped. */
const MAX_METRICS_LINE_BYTES = 64 * 1024;

export interface ScriptRunOptions {
  command: readonly string[];
  cwd?: string;
  env: Record<string, string>;
  /** Aborts the script: SIGTERM, then SIGKILL after `killGraceMs`. */
  signal: AbortSignal;
  /** Each line the script prints, with its stream. */
  onOutput: (line: string, stream: 'stdout' | 'stderr') => void;
  /** The metrics file to tail, and where its points go. */
  metrics: { path: string; onPoint: (metrics: Record<string, number>, step: number | undefined) => void; onBadLine: (why: string) => void };
  killGraceMs?: number;
}

/**
 * Runs a site's training script to completion, tailing its metrics file. Resolves when it exits
 * with 0; rejects with SCRIPT_FAILED for another exit, or with the signal's reason when aborted.
 */
export async function runScript(opts: ScriptRunOptions): Promise<void> {
  const [file, ...args] = opts.command;
  if (file === undefined) throw TributaryError.invalidArgument('no command to run');
  opts.signal.throwIfAborted();
  const tail = new MetricsTail(opts.metrics.path, opts.metrics.onPoint, opts.metrics.onBadLine);
  const child = spawn(file, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of ['stdout', 'stderr'] as const) {
    createInterface({ input: child[stream], crlfDelay: Infinity }).on('line', (line) => opts.onOutput(line, stream));
  }
  let killTimer: NodeJS.Timeout | undefined;
  const stop = (): void => {
    child.kill('SIGTERM');
    killTimer = setTimeout(() => child.kill('SIGKILL'), opts.killGraceMs ?? KILL_GRACE_MS);
  };
  opts.signal.addEventListener('abort', stop, { once: true });
  const poll = setInterval(() => void tail.read(), METRICS_POLL_MS);
  try {
    const exit = await new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', (err) => reject(TributaryError.of(Reason.SCRIPT_FAILED, `cannot start ${file}: ${err.message}`)));
      child.once('close', (code, sig) => resolve({ code, sig }));
    });
    await tail.read();
    if (opts.signal.aborted) throw abortReason(opts.signal, exit);
    if (exit.code !== 0) {
      const how = exit.sig !== null ? `was killed by ${exit.sig}` : `exited with status ${exit.code}`;
      throw TributaryError.of(Reason.SCRIPT_FAILED, `the training script ${how}`);
    }
  } finally {
    clearInterval(poll);
    if (killTimer !== undefined) clearTimeout(killTimer);
    opts.signal.removeEventListener('abort', stop);
  }
}

function abortReason(signal: AbortSignal, exit: { code: number | null; sig: NodeJS.Signals | null }): TributaryError {
  const reason: unknown = signal.reason;
  const how = exit.sig !== null ? `stopped with ${exit.sig}` : `exited with status ${exit.code}`;
  if (isTributaryError(reason)) return TributaryError.of(reason.reason, `${reason.message}; script ${how}`, { code: reason.code, retryable: false });
  return TributaryError.of(Reason.CANCELLED, `cancelled; script ${how}`);
}

/** Reads the lines appended to a metrics file since the last read. */
class MetricsTail {
  #offset = 0;
  #partial = '';
  #reading: Promise<void> = Promise.resolve();

  constructor(
    private readonly path: string,
    private readonly onPoint: (metrics: Record<string, number>, step: number | undefined) => void,
    private readonly onBadLine: (why: string) => void,
  ) {}

  read(): Promise<void> {
    this.#reading = this.#reading.then(() => this.#readOnce()).catch((err: unknown) => this.onBadLine(String(err)));
    return this.#reading;
  }

  async #readOnce(): Promise<void> {
    const fh = await open(this.path, 'r').catch(() => undefined);
    if (fh === undefined) return;
    try {
      const { size } = await fh.stat();
      if (size <= this.#offset) return;
      const buf = Buffer.alloc(Math.min(size - this.#offset, 4 * 1024 * 1024));
      const { bytesRead } = await fh.read(buf, 0, buf.length, this.#offset);
      this.#offset += bytesRead;
      const lines = (this.#partial + buf.subarray(0, bytesRead).toString('utf8')).split('\n');
      this.#partial = lines.pop() ?? '';
      if (this.#partial.length > MAX_METRICS_LINE_BYTES) {
        this.onBadLine(`metrics line longer than ${MAX_METRICS_LINE_BYTES} bytes skipped`);
        this.#partial = '';
      }
      for (const line of lines) this.#line(line);
    } finally {
      await fh.close();
    }
  }

  #line(line: string): void {
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      this.onBadLine(`metrics line is not JSON: ${line.slice(0, 80)}`);
      return;
    }
    const point = metricPointOf(v);
    if (typeof point === 'string') this.onBadLine(point);
    else this.onPoint(point.metrics, point.step);
  }
}

/** A metrics line: `{"key":..,"value":..,"step":..}` or `{"metrics":{..},"step":..}`. */
export function metricPointOf(v: unknown): { metrics: Record<string, number>; step: number | undefined } | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'metrics line must be a JSON object';
  const o = v as Record<string, unknown>;
  const step = o['step'];
  if (step !== undefined && !(typeof step === 'number' && Number.isSafeInteger(step) && step >= 0)) return `metrics line step must be a non-negative integer, got ${JSON.stringify(step)}`;
  let metrics: Record<string, number>;
  if (typeof o['key'] === 'string') {
    metrics = { [o['key']]: o['value'] as number };
  } else if (typeof o['metrics'] === 'object' && o['metrics'] !== null && !Array.isArray(o['metrics'])) {
    metrics = { ...(o['metrics'] as Record<string, number>) };
  } else {
    return 'metrics line needs "key" and "value", or "metrics"';
  }
  for (const [k, x] of Object.entries(metrics)) {
    if (typeof x !== 'number' || !Number.isFinite(x)) return `metric "${k}" must be a finite number, got ${JSON.stringify(x)}`;
  }
  return { metrics, step: step as number | undefined };
}
