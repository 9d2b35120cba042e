// Jest transform for the entry file of an ESM-only package (see
// scripts/esm-packages.js): returns that package bundled into one CommonJS
// module, dependencies included. Jest caches the result on disk, keyed by
// getCacheKey, so the bundle is built once per installed dependency tree.
const { createHash } = require('crypto');
const fs = require('fs');
const path = require('path');
const { bundleOptions } = require('./esm-packages');

const root = path.resolve(__dirname, '..');

function fileOrEmpty(file) {
  try {
    return fs.readFileSync(file);
  } catch {
    return '';
  }
}

module.exports = {
  process(_sourceText, sourcePath) {
    const esbuild = require('esbuild');
    const result = esbuild.buildSync({
      ...bundleOptions,
      entryPoints: [sourcePath],
      write: false,
      outfile: 'bundle.js',
    });
    return { code: result.outputFiles[0].text };
  },
  getCacheKey(sourceText, sourcePath) {
    // The package's dependencies are bundled too: any change in the installed
    // tree (the lockfile) or in this transform rebuilds it.
    return createHash('sha256')
      .update(sourceText)
      .update(sourcePath)
      .update(fileOrEmpty(path.join(root, 'package-lock.json')))
      .update(fs.readFileSync(__filename))
      .update(fs.readFileSync(path.join(__dirname, 'esm-packages.js')))
      .update(require('esbuild/package.json').version)
      .digest('hex');
  },
};
