// Preloaded into `cdk8s import` (node -r, or NODE_OPTIONS=--require=...) so
// that it works offline and reproduces imports/ from cdk8s.yaml's list alone:
//
// - The Kubernetes schema is read from a local folder instead of cdk8s-cli's
//   hard-coded GitHub address: the build machines have no internet.
//   K8S_SCHEMA_DIR overrides the folder (default ../shared/k8s-schemas, or
//   $SHARED_DIR/k8s-schemas).
// - A source under ../shared/ is read from SHARED_DIR when that is set.
// - cdk8s writes one file per API group and imports the listed sources one by
//   one, so the second CRD file of a group (Argo CD's AppProject after its
//   Application) would overwrite the first: the local CRD files are imported
//   as one multi-document manifest instead, each group into one file.
const fs = require('fs');
const path = require('path');

// cdk8s-cli's package exports hide lib/, so load its modules by file path.
const cli = path.join(__dirname, '..', 'node_modules', 'cdk8s-cli', 'lib');
const util = require(path.join(cli, 'util.js'));
const dispatch = require(path.join(cli, 'import', 'dispatch.js'));
const { ImportCustomResourceDefinition } = require(path.join(cli, 'import', 'crd.js'));
const { addImportToConfig } = require(path.join(cli, 'config.js'));

const shared = process.env.SHARED_DIR;
const schemaDir =
  process.env.K8S_SCHEMA_DIR ??
  (shared !== undefined
    ? path.join(shared, 'k8s-schemas')
    : path.resolve(__dirname, '..', '..', 'shared', 'k8s-schemas'));

/** Where the preload reads the schema of Kubernetes `version` (e.g. `1.28.0`). */
function k8sSchemaFile(version) {
  return path.join(schemaDir, `v${version}`, '_definitions.json');
}

/** A source as cdk8s.yaml spells it, with ../shared/ moved to SHARED_DIR if set. */
function localSource(source) {
  const prefix = `..${path.sep}shared${path.sep}`;
  const normal = path.normalize(source);
  return shared !== undefined && normal.startsWith(prefix)
    ? path.join(shared, normal.slice(prefix.length))
    : source;
}

const download = util.download;
util.download = async (url) => {
  const match = /\/kubernetes-schemas\/v([^/]+)\/_definitions\.json$/.exec(url);
  if (!match) return download(localSource(url));
  const local = k8sSchemaFile(match[1]);
  process.stderr.write(`offline-schemas: ${url} -> ${local}\n`);
  return download(local);
};

const isLocalFile = (source) => {
  try {
    return fs.statSync(localSource(source)).isFile();
  } catch {
    return false;
  }
};

const importDispatch = dispatch.importDispatch;
dispatch.importDispatch = async (imports, argv, options) => {
  const files = imports.filter((spec) => !spec.moduleNamePrefix && isLocalFile(spec.source));
  if (files.length < 2) return importDispatch(imports, argv, options);
  await importDispatch(
    imports.filter((spec) => !files.includes(spec)),
    argv,
    options,
  );
  const manifests = await Promise.all(files.map((spec) => util.download(spec.source)));
  process.stderr.write(
    `offline-schemas: ${files.map((s) => s.source).join(', ')} as one manifest\n`,
  );
  const importer = new ImportCustomResourceDefinition(manifests.join('\n---\n'));
  await importer.import(options);
  if (options.save ?? true) {
    for (const spec of files) await addImportToConfig(spec.source);
  }
};

module.exports = { k8sSchemaFile, localSource };
