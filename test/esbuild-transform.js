// Jest's TypeScript transformer: esbuild strips the types, file by file, like
// scripts/run-ts.js does for synth. Type-checking is `npm test`'s tsc step;
// ts-jest (TypeScript's own transpiler) cost about 3 s of CPU per Jest worker
// on a cold cache, mostly for imports/k8s.ts, esbuild about 0.1 s.
const { createHash } = require('crypto');
const fs = require('fs');
const path = require('path');
const esbuild = require('esbuild');

// The compiler options that change emitted code (useDefineForClassFields
// follows the target, as in tsc) come from the same tsconfig.json as tsc's.
const tsconfig = fs.readFileSync(path.join(__dirname, '..', 'tsconfig.json'), 'utf8');
const tsconfigRaw = { compilerOptions: JSON.parse(tsconfig).compilerOptions };
const self = createHash('sha256')
  .update(fs.readFileSync(__filename))
  .update(tsconfig)
  .update(require('esbuild/package.json').version)
  .digest('hex');

module.exports = {
  getCacheKey(source, filename, options) {
    return createHash('sha256')
      .update(self)
      .update(options.instrument ? '\0instrument\0' : '\0')
      .update(filename)
      .update('\0')
      .update(source)
      .digest('hex');
  },
  process(source, filename) {
    const { code } = esbuild.transformSync(source, {
      loader: 'ts',
      format: 'cjs',
      target: 'node20',
      // import() becomes a require(), as tsc emits it for CommonJS: Jest's
      // module loader serves no import() without --experimental-vm-modules.
      supported: { 'dynamic-import': false },
      sourcemap: 'inline',
      sourcefile: filename,
      tsconfigRaw,
      logLevel: 'silent',
    });
    return { code };
  },
};
