// Snapshots live in the top-level __snapshots__/ folder, named after the test file.
const path = require('path');

const root = path.resolve(__dirname, '..');
const snapshotDir = path.join(root, '__snapshots__');

module.exports = {
  resolveSnapshotPath: (testPath, extension) =>
    path.join(snapshotDir, path.basename(testPath) + extension),
  resolveTestPath: (snapshotPath, extension) =>
    path.join(root, 'test', path.basename(snapshotPath).slice(0, -extension.length)),
  testPathForConsistencyCheck: path.join(root, 'test', 'example.test.ts'),
};
