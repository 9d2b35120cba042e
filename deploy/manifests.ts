/**
 * The folder being deployed: its objects (the synthesized YAML, as kubectl
 * reads it), their identity, the order they are applied in, and the facts the
 * command needs about the backend (variant, Service, health path).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { parseYaml, validateDir, yamlFiles, type Finding } from '../validation';

/** A manifest as plain JSON. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

/** The annotation that names a Deployment's variant (lib/fixed-python-app.ts). */
export const VARIANT_ANNOTATION = 'manifests.sophia.ai/security-mode';
export const VARIANTS = ['hardened', 'root-debug'] as const;

export function refOf(object: K8sObject): ObjectRef {
  const { apiVersion, kind } = object;
  const { name, namespace } = object.metadata;
  return namespace === undefined
    ? { apiVersion, kind, name }
    : { apiVersion, kind, name, namespace };
}

function group(apiVersion: string): string {
  return apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
}

/** Identity across API versions: group, kind, namespace, name. */
export function refKey(ref: ObjectRef): string {
  return [group(ref.apiVersion), ref.kind, ref.namespace ?? '', ref.name].join('/');
}

/** `Deployment sophia-ai-prod/sophia-backend`, `Namespace sophia-ai-prod`. */
export function describeRef(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}

/** The skeleton the API needs to address an object. */
export function skeleton(ref: ObjectRef): K8sObject {
  const metadata: K8sObject['metadata'] = { name: ref.name };
  if (ref.namespace !== undefined) metadata.namespace = ref.namespace;
  return { apiVersion: ref.apiVersion, kind: ref.kind, metadata };
}

/** Never deleted by a prune: deleting them deletes data or everything inside. */
export const NEVER_PRUNED = new Set([
  'Namespace',
  'PersistentVolumeClaim',
  'CustomResourceDefinition',
]);

// Apply stages, as the issue orders them (and as Argo CD's sync waves and
// Helm's install order do): cluster foundations, identity and policy,
// configuration and networking, then workloads.
const STAGE_OF_KIND: Record<string, number> = {
  Namespace: 0,
  CustomResourceDefinition: 0,
  RuntimeClass: 0,
  PriorityClass: 0,
  StorageClass: 0,
  PersistentVolume: 0,
  IngressClass: 0,
  ServiceAccount: 1,
  ClusterRole: 1,
  ClusterRoleBinding: 1,
  Role: 1,
  RoleBinding: 1,
  NetworkPolicy: 1,
  ResourceQuota: 1,
  LimitRange: 1,
  DaemonSet: 3,
  Deployment: 3,
  StatefulSet: 3,
  ReplicaSet: 3,
  Pod: 3,
  Job: 3,
  CronJob: 3,
  HorizontalPodAutoscaler: 3,
};
const KIND_ORDER = Object.keys(STAGE_OF_KIND);

function stageOf(object: K8sObject): number {
  const stage = STAGE_OF_KIND[object.kind];
  if (stage !== undefined) return stage;
  // Unknown cluster-scoped kinds are foundations; namespaced ones configuration.
  return object.metadata.namespace === undefined ? 0 : 2;
}

function syncWave(object: K8sObject): number {
  const wave = Number(object.metadata.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0);
  return Number.isInteger(wave) ? wave : 0;
}

/** Argo CD PostSync hooks run after everything else, as Argo CD runs them. */
function phase(object: K8sObject): number {
  const hook = object.metadata.annotations?.['argocd.argoproj.io/hook'] ?? '';
  return hook.split(',').includes('PostSync') ? 1 : 0;
}

function orderKey(object: K8sObject): number[] {
  const kindIndex = KIND_ORDER.indexOf(object.kind);
  return [
    phase(object),
    syncWave(object),
    stageOf(object),
    kindIndex < 0 ? KIND_ORDER.length : kindIndex,
  ];
}

/**
 * The objects in apply order, grouped: the objects of one group do not
 * depend on each other and are applied together; groups go one after another.
 */
export function applyGroups(objects: readonly K8sObject[]): K8sObject[][] {
  const keyed = objects.map((object) => ({ object, key: orderKey(object) }));
  keyed.sort((a, b) => {
    for (let i = 0; i < a.key.length; i++) if (a.key[i] !== b.key[i]) return a.key[i] - b.key[i];
    return refKey(refOf(a.object)).localeCompare(refKey(refOf(b.object)));
  });
  const groups: K8sObject[][] = [];
  let last = '';
  for (const { object, key } of keyed) {
    // Same phase, wave and stage: one group.
    const id = key.slice(0, 3).join(',');
    if (id !== last || groups.length === 0) groups.push([]);
    groups[groups.length - 1].push(object);
    last = id;
  }
  return groups;
}

export class FolderError extends Error {}

/** A path as the user knows it: relative below `cwd`, else absolute. */
export function shownPath(cwd: string, dir: string): string {
  const relative = path.relative(cwd, dir);
  return relative === '' ? '.' : relative.startsWith('..') ? path.resolve(dir) : relative;
}

export interface Folder {
  dir: string;
  objects: K8sObject[];
  findings: Finding[];
}

/** Folders read in this process, by their path and the bytes of their files. */
const readBefore = new Map<string, { objects: K8sObject[]; findings: Finding[] }>();

/**
 * Reads every YAML document below `dir` and runs `npm run validate`'s checks
 * on them (schema, Pod Security, references). Both depend on the files'
 * bytes only, so a folder read again unchanged (a rollback's, or the tests'
 * and the benchmark's many runs in one process) is not parsed and
 * validated again.
 */
export function readFolder(dir: string, cwd: string): Folder {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new FolderError(`${shownPath(cwd, dir)} is not a folder (run npm run synth?)`);
  }
  const files = yamlFiles(dir).map((file) => ({ file, text: fs.readFileSync(file, 'utf8') }));
  const hash = createHash('sha256').update(path.resolve(dir)).update(shownPath(cwd, dir));
  for (const { file, text } of files) hash.update(`\0${file}\0${text}`);
  const key = hash.digest('hex');
  let read = readBefore.get(key);
  if (!read) {
    const { findings } = validateDir(dir, cwd);
    const objects = files.flatMap(({ file, text }) =>
      parseYaml(file, text).docs.map((d) => d.doc as K8sObject),
    );
    read = { objects, findings };
    readBefore.set(key, read);
  }
  if (read.objects.length === 0 && read.findings.length === 0) {
    throw new FolderError(`no YAML documents below ${shownPath(cwd, dir)}`);
  }
  return { dir, objects: structuredClone(read.objects), findings: read.findings };
}

/** What `verify` GETs: the backend's health path through its Service. */
export interface HealthTarget {
  namespace: string;
  service: string;
  /** The Service port's name (or number), as the proxy path wants it. */
  port: string;
  path: string;
}

export interface Backend {
  deployment: K8sObject;
  namespace: string;
  name: string;
  variant?: string;
  health?: HealthTarget;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are reached into by path */
function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function healthTarget(
  deployment: K8sObject,
  objects: readonly K8sObject[],
): HealthTarget | undefined {
  const namespace = deployment.metadata.namespace ?? 'default';
  const pod = (deployment as any).spec?.template;
  const labels: Record<string, string> = pod?.metadata?.labels ?? {};
  for (const container of pod?.spec?.containers ?? []) {
    const probe = [container.readinessProbe, container.startupProbe, container.livenessProbe].find(
      (p: any) => p?.httpGet?.path !== undefined,
    );
    if (!probe) continue;
    const probePort = probe.httpGet.port;
    const containerPort = (container.ports ?? []).find(
      (p: any) => p.name === probePort || p.containerPort === probePort,
    );
    for (const service of objects) {
      if (service.kind !== 'Service' || (service.metadata.namespace ?? 'default') !== namespace)
        continue;
      const spec = (service as any).spec ?? {};
      if (!spec.selector || !matches(spec.selector, labels)) continue;
      const port = (spec.ports ?? []).find((p: any) => {
        const target = p.targetPort ?? p.port;
        return (
          target === probePort ||
          (containerPort &&
            (target === containerPort.name || target === containerPort.containerPort))
        );
      });
      if (port) {
        return {
          namespace,
          service: service.metadata.name,
          port: String(port.name ?? port.port),
          path: probe.httpGet.path,
        };
      }
    }
  }
  return undefined;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** The backend: the Deployment that carries the variant annotation. */
export function findBackend(objects: readonly K8sObject[]): Backend | undefined {
  const deployment = objects.find(
    (o) => o.kind === 'Deployment' && o.metadata.annotations?.[VARIANT_ANNOTATION] !== undefined,
  );
  if (!deployment) return undefined;
  return {
    deployment,
    namespace: deployment.metadata.namespace ?? 'default',
    name: deployment.metadata.name,
    variant: deployment.metadata.annotations?.[VARIANT_ANNOTATION],
    health: healthTarget(deployment, objects),
  };
}

/** Every namespace the objects live in, and the Namespaces they create. */
export function namespacesOf(objects: readonly K8sObject[]): {
  used: string[];
  created: Set<string>;
} {
  const used = new Set<string>();
  const created = new Set<string>();
  for (const o of objects) {
    if (o.metadata.namespace) used.add(o.metadata.namespace);
    if (o.kind === 'Namespace' && o.apiVersion === 'v1') {
      used.add(o.metadata.name);
      created.add(o.metadata.name);
    }
  }
  return { used: [...used].sort(), created };
}
