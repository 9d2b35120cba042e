#!/usr/bin/env node
// Runs a TypeScript entry point without type-checking it: esbuild bundles our
// own sources (node_modules stay external) in memory in a few tens of
// milliseconds, then Node runs the bundle in this process. Type-checking is
// the test command's job (tsc --noEmit); synth must stay fast.
//
// The bundle is compiled as if it lived at .build/<entry>.js: one level below
// the repo root, like lib/ and scripts/, so `path.resolve(__dirname, '..')`
// is the repo root both here and under Jest. Nothing is written to disk, so
// parallel runs cannot trip over each other.
const Module = require('module');
const path = require('path');
const esbuild = require('esbuild');

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  process.stderr.write('usage: node scripts/run-ts.js <entry.ts> [args...]\n');
  process.exit(2);
}

const root = path.resolve(__dirname, '..');
const filename = path.join(root, '.build', path.basename(entry).replace(/\.ts$/, '.js'));

const { outputFiles } = esbuild.buildSync({
  entryPoints: [path.resolve(entry)],
  outfile: filename,
  write: false,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  logLevel: 'warning',
});

process.argv = [process.argv[0], filename, ...args];
const bundle = new Module(filename, module);
bundle.filename = filename;
bundle.paths = Module._nodeModulePaths(path.dirname(filename));
bundle._compile(outputFiles[0].text, filename);
