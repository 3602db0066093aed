#!/usr/bin/env node
// The `tributary-site` command. The compiled program lives in dist/ (built by `npm run build`);
// this file exists from install time on, so npm can link it as the package's bin.
const entry = process.argv[2] === 'simulate' ? '../dist/simulation/cli.js' : '../dist/site-agent/cli.js';
import(entry).catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes(entry.slice(3))) {
    console.error('Error (NOT_BUILT): tributary-site is not built yet\nHint: run `npm run build` first');
    process.exit(1);
  }
  throw err;
});
