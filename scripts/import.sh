#!/bin/sh
# Regenerates imports/ (or the folder given as $1) offline: `cdk8s import` of
# every entry in cdk8s.yaml, the Kubernetes 1.28 schema and the CRD files in
# ../shared (or SHARED_DIR), with scripts/offline-schemas.js preloaded (see
# there why). The data files themselves never enter the repo; only the
# generated TypeScript does. --no-save: cdk8s.yaml lists what is imported, an
# import never adds to it.
set -eu
cd "$(dirname "$0")/.."
out=${1:-imports}
echo "import: every source in cdk8s.yaml into $out/"
node -r ./scripts/offline-schemas.js node_modules/cdk8s-cli/bin/cdk8s import \
  --output "$out" --no-save --no-check-upgrade
