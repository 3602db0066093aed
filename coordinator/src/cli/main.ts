#!/usr/bin/env node
import { COMMANDS } from './commands/index.js';
import { runCli } from './runner.js';

const code = await runCli(process.argv.slice(2), COMMANDS);
// Servers and channels may hold the event loop; the command is done, so leave now, once
// stdout and stderr have drained.
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
process.exit(code);
