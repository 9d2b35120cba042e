// Packages published as ES modules only, which this CommonJS project bundles
// into CommonJS with esbuild instead of require()-ing them: require() of an ES
// module needs Node 20.19 or later, and Jest (without its experimental ESM
// mode) cannot load one at all. Bundled, @kubernetes/client-node also loads in
// about a fifth of the time its 900 separate module files take.
//
// Used by scripts/run-ts.js (the runner's bundles) and by
// scripts/jest-esm-transform.js (Jest), so that both run the same code.
const ESM_ONLY = ['@kubernetes/client-node'];

function isEsmOnly(specifier) {
  return ESM_ONLY.some((name) => specifier === name || specifier.startsWith(`${name}/`));
}

/**
 * esbuild's `external` list for the project's own code: every declared
 * dependency stays external (required at run time from node_modules), except
 * the ESM-only ones, which are bundled together with everything they import.
 * (buildSync takes no plugins, hence a list rather than a resolver.)
 */
function externalPackages() {
  const { dependencies = {}, devDependencies = {} } = require('../package.json');
  return Object.keys({ ...dependencies, ...devDependencies }).filter((name) => !isEsmOnly(name));
}

/** esbuild options shared by both bundlers for an ESM-only package's code. */
const bundleOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // Whitespace and syntax only: identifiers keep their names in stack traces.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
};

module.exports = { ESM_ONLY, isEsmOnly, externalPackages, bundleOptions };
