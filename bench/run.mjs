// `npm run bench -- <name> [options]`: runs one benchmark and prints its figures.
const benches = {
  rounds: () => import('./rounds.mjs'),
  metrics: () => import('./metrics.mjs'),
};
const [name = 'rounds', ...args] = process.argv.slice(2);
const load = benches[name];
if (!load) {
  console.error(`Error (INVALID_ARGUMENT): unknown benchmark "${name}"\nHint: one of ${Object.keys(benches).join(', ')}`);
  process.exit(2);
}
const { run } = await load();
await run(args);
process.exit(0);
