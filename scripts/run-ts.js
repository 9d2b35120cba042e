#!/usr/bin/env node
// Runs a TypeScript entry point without type-checking it: esbuild bundles our
// own sources (node_modules stay external) into .build/ in a few tens of
// milliseconds, then Node runs the bundle in this process. Type-checking is
// the test command's job (tsc --noEmit); synth must stay fast.
const path = require('path');
const esbuild = require('esbuild');

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  process.stderr.write('usage: node scripts/run-ts.js <entry.ts> [args...]\n');
  process.exit(2);
}

const root = path.resolve(__dirname, '..');
const outfile = path.join(root, '.build', path.basename(entry).replace(/\.ts$/, '.js'));

esbuild.buildSync({
  entryPoints: [path.resolve(entry)],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  logLevel: 'warning',
});

process.argv = [process.argv[0], outfile, ...args];
require(outfile);
