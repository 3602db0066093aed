#!/usr/bin/env node
// The `tributary` command. The compiled CLI lives in dist/ (built by `npm run build`); this
// file exists from install time on, so npm can link it as the package's bin.
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    console.error('Error (NOT_BUILT): the tributary CLI is not built yet\nHint: run `npm run build` first');
    process.exit(1);
  }
  throw err;
});
