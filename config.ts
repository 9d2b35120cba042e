/**
 * Cluster facts: the one place where names, namespaces, images and nodes are
 * written down. main.ts only wires them to constructs.
 */
import { ClusterConfig, CpuArchitecture, NodeRole, SecurityMode, SyncMode } from './lib';

export const cluster: ClusterConfig = {
  namespace: 'sophia-ai-prod',
  backend: {
    name: 'sophia-backend',
    sourceDir: 'app',
    entrypoint: 'app.py',
    image: 'python:3.11-slim',
    port: 8000,
    // pip installs app/requirements.txt (every version pinned).
    // Created by hand in the cluster, never in dist/:
    //   kubectl -n sophia-ai-prod create secret generic sophia-backend-secrets \
    //     --from-literal=openai-api-key=...
    // Optional: the backend starts without it and reports the key missing.
    secretEnv: {
      OPENAI_API_KEY: {
        secretName: 'sophia-backend-secrets',
        key: 'openai-api-key',
        optional: true,
      },
    },
    // Two pods on two nodes; the emergency variant runs one (pip at every start).
    replicas: { [SecurityMode.HARDENED]: 2, [SecurityMode.ROOT_DEBUG]: 1 },
    // Requests reach it through k3s' Traefik ingress controller (and the
    // monitor, which allows itself). It opens DNS and pip's index only.
    ingressFrom: [{ namespace: 'kube-system', podLabels: { 'app.kubernetes.io/name': 'traefik' } }],
    egressTo: [],
  },
  // Prometheus (kube-prometheus-stack) scrapes the monitor's metrics.
  monitor: { scrapeFrom: [{ namespace: 'monitoring' }] },
  // k3s' own ranges, stated so that the servers' configs and the
  // NetworkPolicies agree: pods, Services (the `kubernetes` Service is the
  // first address, 10.43.0.1). Fixed once the cluster exists.
  k3s: { clusterCidr: '10.42.0.0/16', serviceCidr: '10.43.0.0/16' },
  gitops: {
    repoURL: 'https://github.com/sophia-ai/sophia-manifests.git',
    revision: 'main',
    project: 'sophia',
    argoNamespace: 'argocd',
    // root-debug is an emergency switch: nobody syncs it by accident.
    sync: {
      [SecurityMode.HARDENED]: SyncMode.AUTOMATED,
      [SecurityMode.ROOT_DEBUG]: SyncMode.MANUAL,
    },
    // The alerts follow whichever variant runs: they are always wanted.
    monitoringSync: SyncMode.AUTOMATED,
  },
  monitoring: {
    // kube-prometheus-stack's Prometheus selects ServiceMonitors and rules
    // labelled with its Helm release (installed as kube-prometheus-stack in
    // the namespace monitoring).
    labels: { release: 'kube-prometheus-stack' },
    scrape: { interval: '15s' },
    alerts: {
      alertPrefix: 'Sophia',
      groupName: 'sophia-backend',
      downFor: '2m',
      slowSeconds: 1,
      slowFor: '10m',
      monitorDownFor: '5m',
    },
  },
  // The primary (GH200, arm64) is the k3s server with cluster-init; the
  // others join it as agents. The primary and the production-services node
  // stay untainted: they run the backend's two replicas and the cluster's
  // own pods. The rest are kept for workloads that ask for their GPUs.
  gpuPools: [
    {
      id: 'gh200',
      gpuProduct: 'GH200',
      architecture: CpuArchitecture.ARM64,
      taint: false,
      nodes: [{ name: 'sophia-primary', address: '192.222.58.232', role: NodeRole.SERVER }],
    },
    {
      id: 'rtx6000',
      gpuProduct: 'RTX 6000',
      taint: false,
      nodes: [{ name: 'production-services', address: '104.171.202.103' }],
    },
    {
      id: 'a6000',
      gpuProduct: 'A6000',
      nodes: [{ name: 'mcp-orchestrator', address: '104.171.202.117' }],
    },
    {
      id: 'a100',
      gpuProduct: 'A100',
      nodes: [{ name: 'data-pipeline', address: '104.171.202.134' }],
    },
    { id: 'a10', gpuProduct: 'A10', nodes: [{ name: 'development', address: '155.248.194.183' }] },
  ],
};

/** The variants synthesized side by side, each into dist/<mode>/. */
export const variants: readonly SecurityMode[] = [SecurityMode.HARDENED, SecurityMode.ROOT_DEBUG];
