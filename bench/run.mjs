// `npm run bench`: every case; `npm run bench -- <case> [options]`: one case;
// `npm run bench -- quick`: every case at small sizes (a smoke run, a couple of minutes).
// Each case prints a table and one `BENCH {json}` line per measurement, with a `ratio` to a
// limit measured in the same run, its `target` and whether it was `met`. Benchmarks never fail
// on time: they fail only when something breaks (an update refused, a point lost).
import { setMaxListeners } from 'node:events';

// Hundreds of sites in one process listen on shared abort signals.
setMaxListeners(0);

const cases = {
  fold: () => import('./fold.mjs'),
  accumulation: () => import('./accumulation.mjs'),
  verify: () => import('./verify.mjs'),
  decode: () => import('./decode.mjs'),
  ingest: () => import('./ingest.mjs'),
  small: () => import('./small.mjs'),
  events: () => import('./events.mjs'),
  rounds: () => import('./rounds.mjs'),
  round: () => import('./round.mjs'),
  downloads: () => import('./downloads.mjs'),
  large: () => import('./large.mjs'),
  metrics: () => import('./metrics.mjs'),
  state: () => import('./state.mjs'),
  presence: () => import('./presence.mjs'),
};
const [name, ...args] = process.argv.slice(2);
const quick = name === 'quick';
const selected = name === undefined || quick ? Object.keys(cases) : [name];
for (const c of selected) {
  const load = cases[c];
  if (!load) {
    console.error(`Error (INVALID_ARGUMENT): unknown benchmark "${c}"\nHint: one of quick, ${Object.keys(cases).join(', ')}`);
    process.exit(2);
  }
}
for (const c of selected) {
  console.log(`\n== ${c}${quick ? ' (quick)' : ''}`);
  const { run } = await cases[c]();
  await run(selected.length === 1 ? args : [], { quick });
}
process.exit(0);
