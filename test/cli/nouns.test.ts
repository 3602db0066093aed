import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../coordinator/src/cli/commands/index.js';
import { runCli } from '../../coordinator/src/cli/runner.js';

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (text: string) => void) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        append(chunk.toString());
        done();
      },
    });
  const code = await runCli(args, COMMANDS, {
    stdout: sink((t) => (stdout += t)),
    stderr: sink((t) => (stderr += t)),
    env: {},
    cwd: process.cwd(),
    signals: new EventEmitter(),
  });
  return { code, stdout, stderr };
}

const FORMER_SPELLINGS: Array<[former: string, current: string]> = [
  ['rounds list', 'round list'],
  ['runs search', 'run search'],
  ['model versions', 'model list'],
  ['metrics tail', 'metric tail'],
  ['metrics show', 'metric show'],
];

describe('CLI command names', () => {
  it('are a singular noun and a verb, or one word', () => {
    const nouns = new Set(['site', 'federation', 'run', 'round', 'model', 'metric', 'principal', 'nats', 'audit', 'tls']);
    for (const command of COMMANDS) {
      if (command.path.length === 1) continue;
      expect(command.path).toHaveLength(2);
      expect(nouns, command.path.join(' ')).toContain(command.path[0]);
    }
  });

  it('list only the current spellings in help', async () => {
    const help = (await cli(['--help'])).stdout;
    for (const noun of ['site', 'federation', 'run', 'round', 'model', 'metric']) expect(help).toMatch(new RegExp(`^  ${noun} `, 'm'));
    for (const former of ['rounds', 'runs', 'metrics']) expect(help).not.toMatch(new RegExp(`^  ${former} `, 'm'));
    expect((await cli(['model', '--help'])).stdout).not.toMatch(/^ {2}versions /m);
  });

  it.each(FORMER_SPELLINGS)('still accept "%s" as "%s"', async (former, current) => {
    const before = await cli([...former.split(' '), '--help']);
    const now = await cli([...current.split(' '), '--help']);
    expect(before.code).toBe(0);
    expect(before.stdout.replace(former, current)).toBe(now.stdout);
  });

  it('say on stderr what a former spelling is now called', async () => {
    const { code, stderr } = await cli(['metrics', 'show', 'churn']);
    expect(code).toBe(2); // --metric is missing, as with the current spelling
    expect(stderr).toContain('Note: "tributary metrics show" is now "tributary metric show"');
  });

  it('keep stdout to the envelope and stderr quiet for a former spelling with --json', async () => {
    const { stdout, stderr } = await cli(['metrics', 'show', 'churn', '--json']);
    expect(JSON.parse(stdout)).toMatchObject({ ok: false, error: { code: 'USAGE' } });
    expect(stderr).toBe('');
  });
});
