#!/usr/bin/env node
// The `parascan` command: the compiled CLI lives in dist/ (built by `tsc`).
import('../dist/main.js').then((m) => m.main(process.argv.slice(2))).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`parascan: ${err && err.message ? err.message : String(err)}\n`); process.exitCode = 1; },
);
