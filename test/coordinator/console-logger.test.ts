import { describe, expect, it } from 'vitest';
import { createConsoleLogger } from '../../coordinator/src/observability/logger.js';

function capture(): { lines: string[]; out: { write(s: string): boolean } } {
  const lines: string[] = [];
  return { lines, out: { write: (s: string) => lines.push(s) > 0 } };
}

describe("the dev console's logger", () => {
  it('writes a short line with the time, the level, the message and the fields, not JSON', () => {
    const { lines, out } = capture();
    createConsoleLogger('info', out).info({ federation: 'iris', round: 2 }, 'round committed');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d INFO {2}round committed federation=iris round=2\n$/);
  });

  it('shows the time to the millisecond at debug level', () => {
    const { lines, out } = capture();
    createConsoleLogger('debug', out).debug({ updateId: 'abc' }, 'payload digest verified');
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} DEBUG payload digest verified updateId=abc\n$/);
  });

  it('shows an error by its message, without its stack', () => {
    const { lines, out } = capture();
    createConsoleLogger('warn', out).warn({ err: new Error('nats went away') }, 'ingest paused');
    expect(lines[0]).toContain('WARN  ingest paused err="nats went away"');
    expect(lines[0]).not.toContain('    at ');
  });

  it('writes nothing below its level', () => {
    const { lines, out } = capture();
    createConsoleLogger('warn', out).info('quiet');
    expect(lines).toEqual([]);
  });
});
