#!/usr/bin/env node
// Runs a TypeScript entry point without type-checking it: esbuild bundles our
// own sources (node_modules stay external, except the ESM-only packages of
// scripts/esm-packages.js, bundled as CommonJS), then Node runs the bundle in
// this process. Type-checking is the test command's job (tsc --noEmit); synth must
// stay fast.
//
// Bundling costs about 130 ms (mostly parsing imports/k8s.ts), more than the
// synth itself, so the bundle is cached in .build/ next to the list of its
// inputs and their content hashes; it is rebuilt when any input changes.
//
// The bundle runs as if it lived at .build/<entry>.js: one level below the
// repo root, like lib/ and scripts/, so `path.resolve(__dirname, '..')` is the
// repo root both here and under Jest.
const { createHash } = require('crypto');
const fs = require('fs');
const Module = require('module');
const path = require('path');
const vm = require('vm');

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  process.stderr.write('usage: node scripts/run-ts.js <entry.ts> [args...]\n');
  process.exit(2);
}

const root = path.resolve(__dirname, '..');
const entryPath = path.resolve(entry);
const name = path.basename(entry).replace(/\.ts$/, '');
const filename = path.join(root, '.build', `${name}.js`);
const cacheKey = createHash('sha256').update(entryPath).digest('hex').slice(0, 12);
const cacheFile = path.join(root, '.build', 'bundles', `${name}-${cacheKey}.json`);

function hashFile(file) {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function cached() {
  try {
    const cache = JSON.parse(fs.readFileSync(cacheFile, 'utf8'));
    for (const [file, hash] of Object.entries(cache.inputs)) {
      if (hashFile(path.resolve(root, file)) !== hash) return undefined;
    }
    return cache.code;
  } catch {
    return undefined;
  }
}

function build() {
  const esbuild = require('esbuild');
  const { externalPackages } = require('./esm-packages');
  const result = esbuild.buildSync({
    entryPoints: [entryPath],
    outfile: filename,
    write: false,
    bundle: true,
    metafile: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: externalPackages(),
    // import() becomes require(): the bundle runs from a vm.Script, which
    // has no module loader for import() once V8's code cache is used.
    supported: { 'dynamic-import': false },
    logLevel: 'warning',
  });
  const code = result.outputFiles[0].text;
  const inputs = {};
  for (const input of Object.keys(result.metafile.inputs)) {
    const file = path.resolve(process.cwd(), input);
    inputs[path.relative(root, file)] = hashFile(file);
  }
  // Write then rename, so that parallel runs never read half a cache file.
  fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
  const temp = `${cacheFile}.${process.pid}`;
  fs.writeFileSync(temp, JSON.stringify({ inputs, code }));
  fs.renameSync(temp, cacheFile);
  return code;
}

const code = cached() ?? build();
process.argv = [process.argv[0], filename, ...args];
const bundle = new Module(filename, module);
bundle.filename = filename;
bundle.paths = Module._nodeModulePaths(path.dirname(filename));

// V8's code cache for the bundle, beside it: compiling 200 KB of JavaScript
// is a tenth of a synth. A stale or foreign cache is rejected by V8 itself.
const codeCacheFile = cacheFile.replace(/\.json$/, '.v8');
let cachedData;
try {
  cachedData = fs.readFileSync(codeCacheFile);
} catch {
  cachedData = undefined;
}
const script = new vm.Script(Module.wrap(code), { filename, cachedData });
script
  .runInThisContext()
  .call(
    bundle.exports,
    bundle.exports,
    Module.createRequire(filename),
    bundle,
    filename,
    path.dirname(filename),
  );
if (cachedData === undefined || script.cachedDataRejected) {
  const temp = `${codeCacheFile}.${process.pid}`;
  fs.writeFileSync(temp, script.createCachedData());
  fs.renameSync(temp, codeCacheFile);
}
