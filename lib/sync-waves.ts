import { ApiObject } from 'cdk8s';
import { IConstruct } from 'constructs';

export const SYNC_WAVE_ANNOTATION = 'argocd.argoproj.io/sync-wave';

/**
 * Argo CD applies lower waves first and waits for them to be healthy: the
 * namespace and cluster-wide prerequisites, then the identities pods run
 * as, then everything else (wave 0, Argo CD's default, left unannotated).
 */
const WAVES: Readonly<Record<string, number>> = {
  Namespace: -2,
  RuntimeClass: -2,
  PriorityClass: -2,
  ServiceAccount: -1,
  Role: -1,
  RoleBinding: -1,
  ClusterRole: -1,
  ClusterRoleBinding: -1,
};

/** Annotates every API object below `scope` with its Argo CD sync wave. */
export function addSyncWaves(scope: IConstruct): void {
  for (const child of scope.node.findAll()) {
    if (!ApiObject.isApiObject(child)) continue;
    const wave = WAVES[child.kind];
    if (wave !== undefined) child.metadata.addAnnotation(SYNC_WAVE_ANNOTATION, String(wave));
  }
}
