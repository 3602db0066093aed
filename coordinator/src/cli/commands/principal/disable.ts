import type { Principal__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { nameArg } from '../../input.js';

export default defineCommand({
  path: ['principal', 'disable'],
  summary: "Disable a principal: its calls are refused from the next one on",
  args: [['<name>', 'principal name']],
  connects: true,
  parse(raw) {
    return { name: nameArg(raw, 0, 'principal') };
  },
  async run(input, ctx): Promise<Principal__Output> {
    return (await ctx.admin()).disablePrincipal(input.name);
  },
  render(p) {
    return `Disabled principal "${p.name}" (key id ${p.keyId}).`;
  },
});
