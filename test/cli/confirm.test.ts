import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { generateSigningKey, writeKeyFile } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../coordinator/src/cli/commands/index.js';
import { runCli } from '../../coordinator/src/cli/runner.js';

/** `tributary <args>` in process, at a terminal that answers `answer`. */
async function atTerminal(args: string[], answer: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (text: string) => void) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        append(chunk.toString());
        done();
      },
    });
  const stdin = Object.assign(new PassThrough(), { isTTY: true });
  stdin.end(answer);
  const code = await runCli(args, COMMANDS, {
    stdout: sink((t) => (stdout += t)),
    stderr: sink((t) => (stderr += t)),
    env: {},
    cwd: process.cwd(),
    signals: new EventEmitter(),
    stdin,
  });
  return { code, stdout, stderr };
}

describe('federation delete at a terminal', () => {
  let dir: string;
  let args: string[];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-confirm-'));
    await writeKeyFile(join(dir, 'admin.key'), generateSigningKey('admin'));
    // No coordinator listens there: a delete that gets past the question fails to reach it.
    args = ['federation', 'delete', 'churn', '--key', join(dir, 'admin.key'), '--coordinator', '127.0.0.1:1', '--timeout', '2s'];
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('asks first, and deletes nothing when the answer is no', async () => {
    const r = await atTerminal(args, 'n\n');
    expect(r.stderr).toContain('Delete federation "churn"? Its name cannot be used again. [y/N]');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Error (USAGE): federation "churn" was not deleted');
  });

  it('goes on to the coordinator when the answer is yes', async () => {
    const r = await atTerminal(args, 'y\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Error (UNAVAILABLE): cannot reach the coordinator at 127.0.0.1:1');
  });
});
