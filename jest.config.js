const os = require('os');
const path = require('path');
const { ESM_ONLY } = require('./scripts/esm-packages');

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
// An ESM-only package's entry file becomes one CommonJS bundle of the whole
// package (scripts/jest-esm-transform.js); its other files are never loaded.
// Each entry as a path below node_modules/, e.g. @kubernetes/client-node/dist/index.js.
function entryBelowNodeModules(name) {
  const packageDir = path.dirname(require.resolve(`${name}/package.json`));
  const entry = path.relative(packageDir, require.resolve(name)).split(path.sep).join('/');
  return escapeRegExp(`${name}/${entry}`);
}
const esmEntries = ESM_ONLY.map(entryBelowNodeModules);

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Type-checking happens once in `npm test` (tsc --noEmit); Jest only
    // strips the types, file by file (tsconfig's isolatedModules makes that safe).
    '^.+\\.ts$': '<rootDir>/test/esbuild-transform.js',
    ...Object.fromEntries(
      esmEntries.map((entry) => [
        `/node_modules/${entry}$`,
        '<rootDir>/scripts/jest-esm-transform.js',
      ]),
    ),
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmEntries.join('|')})$)`],
  // In the repo, not in the machine's shared /tmp/jest_*: a fresh clone starts
  // cold, as measured, and clones never share a stale cache.
  cacheDirectory: '<rootDir>/.build/jest',
  // One worker more than Jest's default (cores - 1, so one on 2 cores): the
  // smoke pods' worker mostly waits, and the other suites need a core.
  maxWorkers: Math.max(os.availableParallelism() - 1, 2) + 1,
  testSequencer: '<rootDir>/test/sequencer.js',
  snapshotResolver: '<rootDir>/test/snapshot-resolver.js',
  testTimeout: 30000,
};
