/**
 * The API resources the fake serves, and their discovery documents
 * (`GET /api/v1`, `GET /apis/<group>/<version>`), shaped as a real API
 * server's APIResourceList.
 */
export interface Resource {
  group: string;
  version: string;
  /** Plural, lower case: `deployments`. */
  name: string;
  singularName: string;
  kind: string;
  namespaced: boolean;
  /** Objects with a spec whose changes bump metadata.generation. */
  generation?: boolean;
}

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

const r = (
  group: string,
  version: string,
  kind: string,
  name: string,
  namespaced = true,
  generation = false,
): Resource => ({
  group,
  version,
  kind,
  name,
  singularName: kind.toLowerCase(),
  namespaced,
  generation,
});

export const CORE_RESOURCES: Resource[] = [
  r('', 'v1', 'Namespace', 'namespaces', false),
  r('', 'v1', 'ConfigMap', 'configmaps'),
  r('', 'v1', 'Secret', 'secrets'),
  r('', 'v1', 'Service', 'services'),
  r('', 'v1', 'ServiceAccount', 'serviceaccounts'),
  r('', 'v1', 'Pod', 'pods'),
  r('', 'v1', 'Event', 'events'),
  r('', 'v1', 'PersistentVolumeClaim', 'persistentvolumeclaims'),
  r('', 'v1', 'Node', 'nodes', false),
  r('apps', 'v1', 'Deployment', 'deployments', true, true),
  r('apps', 'v1', 'ReplicaSet', 'replicasets', true, true),
  r('apps', 'v1', 'DaemonSet', 'daemonsets', true, true),
  r('apps', 'v1', 'StatefulSet', 'statefulsets', true, true),
  r('batch', 'v1', 'Job', 'jobs', true, true),
  r('policy', 'v1', 'PodDisruptionBudget', 'poddisruptionbudgets', true, true),
  r('networking.k8s.io', 'v1', 'NetworkPolicy', 'networkpolicies'),
  r('rbac.authorization.k8s.io', 'v1', 'Role', 'roles'),
  r('rbac.authorization.k8s.io', 'v1', 'RoleBinding', 'rolebindings'),
  r('rbac.authorization.k8s.io', 'v1', 'ClusterRole', 'clusterroles', false),
  r('rbac.authorization.k8s.io', 'v1', 'ClusterRoleBinding', 'clusterrolebindings', false),
  r('node.k8s.io', 'v1', 'RuntimeClass', 'runtimeclasses', false),
];

/** Served only when the fake is told Argo CD is installed. */
export const ARGO_CD_RESOURCES: Resource[] = [
  r('argoproj.io', 'v1alpha1', 'Application', 'applications', true, true),
  r('argoproj.io', 'v1alpha1', 'AppProject', 'appprojects', true, true),
];

export function groupVersion(res: Resource): string {
  return res.group ? `${res.group}/${res.version}` : res.version;
}

/** Subresources served beside their resource, as discovery lists them. */
const SUBRESOURCES: Record<string, { name: string; kind: string; verbs: string[] }[]> = {
  pods: [{ name: 'pods/log', kind: 'Pod', verbs: ['get'] }],
  services: [
    {
      name: 'services/proxy',
      kind: 'ServiceProxyOptions',
      verbs: ['create', 'delete', 'get', 'patch', 'update'],
    },
  ],
  deployments: [
    { name: 'deployments/status', kind: 'Deployment', verbs: ['get', 'patch', 'update'] },
  ],
};

export function discovery(resources: readonly Resource[], gv: string): object | undefined {
  const served = resources.filter((res) => groupVersion(res) === gv);
  if (served.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: gv,
    resources: served.flatMap((res) => [
      {
        name: res.name,
        singularName: res.singularName,
        namespaced: res.namespaced,
        kind: res.kind,
        verbs: VERBS,
        storageVersionHash: Buffer.from(res.kind).toString('base64').slice(0, 11),
      },
      ...(SUBRESOURCES[res.name] ?? []).map((sub) => ({
        name: sub.name,
        singularName: '',
        namespaced: res.namespaced,
        kind: sub.kind,
        verbs: sub.verbs,
      })),
    ]),
  };
}
