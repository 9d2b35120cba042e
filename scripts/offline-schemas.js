// Preloaded into `cdk8s import` (node -r) so that the Kubernetes schema is read
// from a local folder instead of cdk8s-cli's hard-coded GitHub address: the
// build machines have no internet. K8S_SCHEMA_DIR overrides the folder.
const path = require('path');
// cdk8s-cli's package exports hide lib/util, so load it by file path.
const util = require(path.join(__dirname, '..', 'node_modules', 'cdk8s-cli', 'lib', 'util.js'));

const schemaDir =
  process.env.K8S_SCHEMA_DIR ?? path.resolve(__dirname, '..', '..', 'shared', 'k8s-schemas');
const download = util.download;

util.download = async (url) => {
  const match = /\/kubernetes-schemas\/(v[^/]+)\/_definitions\.json$/.exec(url);
  if (!match) return download(url);
  const local = path.join(schemaDir, match[1], '_definitions.json');
  process.stderr.write(`offline-schemas: ${url} -> ${local}\n`);
  return download(local);
};
