/**
 * Cluster facts: the one place where names, namespaces, images and nodes are
 * written down. main.ts only wires them to constructs.
 */
import { ClusterConfig, SecurityMode, SyncMode } from './lib';

export const cluster: ClusterConfig = {
  namespace: 'sophia-ai-prod',
  backend: {
    name: 'sophia-backend',
    sourceDir: 'app',
    entrypoint: 'app.py',
    image: 'python:3.11-slim',
    port: 8000,
    packages: ['fastapi', 'uvicorn'],
    // Two pods on two nodes; the emergency variant runs one (pip at every start).
    replicas: { [SecurityMode.HARDENED]: 2, [SecurityMode.ROOT_DEBUG]: 1 },
  },
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
  },
};

/** The variants synthesized side by side, each into dist/<mode>/. */
export const variants: readonly SecurityMode[] = [SecurityMode.HARDENED, SecurityMode.ROOT_DEBUG];
