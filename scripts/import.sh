#!/bin/sh
# Regenerates imports/ offline from the reference data in ../shared (or
# SHARED_DIR): the Kubernetes 1.28 schema, the Argo CD CRDs and the Prometheus
# Operator's PrometheusRule and ServiceMonitor CRDs. The data files
# themselves never enter the repo; only the generated TypeScript does.
set -eu
cd "$(dirname "$0")/.."
shared=${SHARED_DIR:-../shared}
cdk8s="node_modules/cdk8s-cli/bin/cdk8s"

echo "import: Kubernetes 1.28 from $shared/k8s-schemas"
K8S_SCHEMA_DIR="$shared/k8s-schemas" node -r ./scripts/offline-schemas.js "$cdk8s" import k8s@1.28.0 \
  --language typescript --output imports --no-check-upgrade

# The kinds of one API group share a file (cdk8s writes one file per group):
# import each group from one multi-document file so neither kind overwrites
# the other.
crds=$(mktemp --suffix=.yaml)
trap 'rm -f "$crds"' EXIT
import_group() {
  description=$1
  shift
  : > "$crds"
  for file in "$@"; do
    cat "$file" >> "$crds"
    printf '\n---\n' >> "$crds"
  done
  echo "import: $description"
  node "$cdk8s" import "$crds" --language typescript --output imports --no-check-upgrade
}
import_group "Argo CD Application and AppProject from $shared/crds/argo-cd" \
  "$shared/crds/argo-cd/application-crd.yaml" "$shared/crds/argo-cd/appproject-crd.yaml"
import_group "PrometheusRule and ServiceMonitor from $shared/crds/prometheus-operator" \
  "$shared/crds/prometheus-operator/prometheusrule-crd.yaml" \
  "$shared/crds/prometheus-operator/servicemonitor-crd.yaml"
