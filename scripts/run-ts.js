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

/** Blocks this thread for `ms` (startup is synchronous; there is nothing else to run). */
function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Whether the process that wrote `lock` (its pid) still builds. A build takes
 * well under a second, so a lock older than 30 s is stale even when its pid
 * now belongs to another process.
 */
function lockHolderAlive(lock) {
  const text = fs.readFileSync(lock, 'utf8');
  const age = Date.now() - fs.statSync(lock).mtimeMs;
  // Created, its pid not written yet; an empty lock older than that is a dead one's.
  if (text === '') return age < 5000;
  if (age > 30_000) return false;
  const pid = Number(text);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/**
 * The cached bundle, else a new one, built by one process at a time: runs
 * started together on a cold cache (the smoke test's pods) wait for the
 * first one's bundle instead of each building their own (13 cold starts took
 * 2.5 CPU-s, 13 warm ones 1.4). A lock left by a process that died is taken
 * over; after 10 s of waiting a run builds its own.
 */
function cachedOrBuilt() {
  const lock = `${cacheFile}.lock`;
  const deadline = Date.now() + 10_000;
  fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
  for (;;) {
    const code = cached();
    if (code !== undefined) return code;
    let fd;
    try {
      fd = fs.openSync(lock, 'wx');
    } catch (error) {
      if (error.code !== 'EEXIST' || Date.now() > deadline) return build();
      try {
        if (!lockHolderAlive(lock)) fs.rmSync(lock, { force: true });
      } catch {
        // The lock went away meanwhile: look again.
      }
      sleep(20);
      continue;
    }
    try {
      fs.writeSync(fd, String(process.pid));
      return build();
    } finally {
      fs.closeSync(fd);
      fs.rmSync(lock, { force: true });
    }
  }
}

const code = cachedOrBuilt();
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
