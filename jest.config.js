/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Type-checking happens once in `npm test` (tsc --noEmit); tsconfig's
    // isolatedModules makes ts-jest transpile file by file, which keeps Jest fast.
    '^.+\\.ts$': 'ts-jest',
  },
  snapshotResolver: '<rootDir>/test/snapshot-resolver.js',
  testTimeout: 30000,
};
