const os = require('os');

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Type-checking happens once in `npm test` (tsc --noEmit); Jest only
    // strips the types, file by file (tsconfig's isolatedModules makes that safe).
    '^.+\\.ts$': '<rootDir>/test/esbuild-transform.js',
  },
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
