#!/bin/sh
# Regenerates imports/ offline from the reference data in ../shared (or
# SHARED_DIR): the Kubernetes 1.28 schema and the Argo CD CRDs. The data files
# themselves never enter the repo; only the generated TypeScript does.
set -eu
cd "$(dirname "$0")/.."
shared=${SHARED_DIR:-../shared}
cdk8s="node_modules/cdk8s-cli/bin/cdk8s"

echo "import: Kubernetes 1.28 from $shared/k8s-schemas"
K8S_SCHEMA_DIR="$shared/k8s-schemas" node -r ./scripts/offline-schemas.js "$cdk8s" import k8s@1.28.0 \
  --language typescript --output imports --no-check-upgrade

# Both Argo CD kinds share the group argoproj.io, and cdk8s writes one file per
# group: import them from one multi-document file so neither overwrites the other.
crds=$(mktemp --suffix=.yaml)
trap 'rm -f "$crds"' EXIT
cat "$shared/crds/argo-cd/application-crd.yaml" > "$crds"
printf '\n---\n' >> "$crds"
cat "$shared/crds/argo-cd/appproject-crd.yaml" >> "$crds"
echo "import: Argo CD Application and AppProject from $shared/crds/argo-cd"
node "$cdk8s" import "$crds" --language typescript --output imports --no-check-upgrade
