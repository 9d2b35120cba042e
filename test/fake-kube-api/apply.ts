/**
 * Server-side apply as the API server does it, at the fake's granularity:
 * each field manager owns the leaf fields it applied (lists are atomic, as
 * `x-kubernetes-list-type: atomic` lists are); a new apply sets its fields,
 * removes the ones it applied before and no longer does, and conflicts with
 * fields another manager owns unless forced. Ownership is written to
 * metadata.managedFields in the FieldsV1 format. Then the registry's
 * defaults and immutability checks run, as they do after a real merge.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- objects are JSON */
import { canonical, clone, now, type Obj } from './store';

type Path = string[];

const IDENTITY = new Set(['apiVersion', 'kind', 'metadata.name', 'metadata.namespace']);

function leaves(value: any, prefix: Path = []): Path[] {
  if (
    value &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.keys(value).length > 0
  ) {
    return Object.keys(value).flatMap((k) => leaves(value[k], [...prefix, k]));
  }
  return [prefix];
}

function get(object: any, path: Path): any {
  return path.reduce((v, k) => (v && typeof v === 'object' ? v[k] : undefined), object);
}

function set(object: any, path: Path, value: any): void {
  let node = object;
  for (const k of path.slice(0, -1)) {
    if (!node[k] || typeof node[k] !== 'object' || Array.isArray(node[k])) node[k] = {};
    node = node[k];
  }
  node[path[path.length - 1]] = clone(value);
}

function remove(object: any, path: Path): void {
  const parents: any[] = [];
  let node = object;
  for (const k of path.slice(0, -1)) {
    if (!node || typeof node !== 'object') return;
    parents.push(node);
    node = node[k];
  }
  if (!node || typeof node !== 'object') return;
  delete node[path[path.length - 1]];
  // Empty maps left behind go too.
  for (let i = path.length - 2; i >= 0; i--) {
    const parent = parents[i];
    const child = parent[path[i]];
    if (
      child &&
      typeof child === 'object' &&
      !Array.isArray(child) &&
      Object.keys(child).length === 0
    )
      delete parent[path[i]];
    else break;
  }
}

function toFieldsV1(paths: Path[]): object {
  const root: any = {};
  for (const path of paths) {
    let node = root;
    for (const k of path) node = node[`f:${k}`] ??= {};
  }
  return root;
}

function fromFieldsV1(fields: any, prefix: Path = []): Path[] {
  const keys = Object.keys(fields ?? {}).filter((k) => k.startsWith('f:'));
  if (keys.length === 0) return prefix.length > 0 ? [prefix] : [];
  return keys.flatMap((k) => fromFieldsV1(fields[k], [...prefix, k.slice(2)]));
}

export class ApplyConflictError extends Error {
  constructor(readonly conflicts: { manager: string; path: string }[]) {
    const list = conflicts.map((c) => `conflict with "${c.manager}": .${c.path}`).join('\n');
    super(
      `Apply failed with ${conflicts.length} conflict${conflicts.length === 1 ? '' : 's'}: ${list}`,
    );
  }
}

/** The object after `manager` applies `applied` to `live` (undefined: a create). */
export function serverSideApply(
  live: Obj | undefined,
  applied: Obj,
  manager: string,
  force: boolean,
): Obj {
  const body = clone(applied);
  delete body.status;
  const paths = leaves(body).filter((p) => !IDENTITY.has(p.join('.')) && p[0] !== 'status');
  const managed: any[] = clone(live?.metadata.managedFields ?? []);
  const owned = new Map<string, Path[]>(managed.map((m) => [m.manager, fromFieldsV1(m.fieldsV1)]));
  const mine = owned.get(manager) ?? [];
  const key = (p: Path) => p.join('.');
  const wanted = new Set(paths.map(key));
  const conflicts: { manager: string; path: string }[] = [];
  for (const [other, otherPaths] of owned) {
    if (other === manager) continue;
    for (const p of otherPaths) {
      if (wanted.has(key(p)) && canonical(get(live, p)) !== canonical(get(body, p))) {
        conflicts.push({ manager: other, path: key(p) });
      }
    }
  }
  if (conflicts.length > 0 && !force) throw new ApplyConflictError(conflicts);
  const result: Obj = live
    ? clone(live)
    : { apiVersion: body.apiVersion, kind: body.kind, metadata: { name: body.metadata.name } };
  if (!live && body.metadata.namespace !== undefined)
    result.metadata.namespace = body.metadata.namespace;
  const sharedWithOthers = (p: Path) =>
    [...owned].some(([m, ps]) => m !== manager && ps.some((q) => key(q) === key(p)));
  for (const p of mine) if (!wanted.has(key(p)) && !sharedWithOthers(p)) remove(result, p);
  for (const p of paths) set(result, p, get(body, p));
  // Forced: the fields move to this manager.
  const entries = managed
    .map((m) => ({
      ...m,
      fieldsV1: toFieldsV1(
        (owned.get(m.manager) ?? []).filter((p) => m.manager === manager || !wanted.has(key(p))),
      ),
    }))
    .filter((m) => m.manager !== manager && Object.keys(m.fieldsV1).length > 0);
  const before = managed.find((m) => m.manager === manager);
  const unchanged =
    before &&
    JSON.stringify(fromFieldsV1(before.fieldsV1).map(key).sort()) ===
      JSON.stringify([...wanted].sort()) &&
    // live is stored with sorted keys and result starts as its copy: equal JSON means equal.
    JSON.stringify({ ...result, metadata: { ...result.metadata, managedFields: undefined } }) ===
      JSON.stringify({ ...live, metadata: { ...live?.metadata, managedFields: undefined } });
  entries.push(
    unchanged
      ? before
      : {
          manager,
          operation: 'Apply',
          apiVersion: body.apiVersion,
          time: now(),
          fieldsType: 'FieldsV1',
          fieldsV1: toFieldsV1(paths),
        },
  );
  result.metadata.managedFields = entries;
  return result;
}

let clusterIp = 10;

/** Registry defaults, as the real API server fills them in on create and update. */
export function applyDefaults(object: Obj, live: Obj | undefined): void {
  const spec = object.spec;
  switch (object.kind) {
    case 'Namespace':
      object.spec = { finalizers: ['kubernetes'] };
      object.status = { phase: 'Active' };
      object.metadata.labels = {
        ...object.metadata.labels,
        'kubernetes.io/metadata.name': object.metadata.name,
      };
      break;
    case 'Deployment':
      spec.progressDeadlineSeconds ??= 600;
      spec.revisionHistoryLimit ??= 10;
      spec.replicas ??= 1;
      spec.template.spec.restartPolicy ??= 'Always';
      spec.template.spec.dnsPolicy ??= 'ClusterFirst';
      spec.template.spec.terminationGracePeriodSeconds ??= 30;
      break;
    case 'Service':
      spec.clusterIP ??= live?.spec?.clusterIP ?? `10.43.0.${clusterIp++}`;
      spec.clusterIPs ??= [spec.clusterIP];
      spec.sessionAffinity ??= 'None';
      spec.ipFamilies ??= ['IPv4'];
      spec.ipFamilyPolicy ??= 'SingleStack';
      break;
    case 'Job': {
      const uid = object.metadata.uid as string;
      spec.backoffLimit ??= 6;
      spec.completions ??= 1;
      spec.parallelism ??= 1;
      spec.selector ??= live?.spec?.selector ?? {
        matchLabels: { 'batch.kubernetes.io/controller-uid': uid },
      };
      const labels = (spec.template.metadata ??= {}).labels ?? {};
      spec.template.metadata.labels = {
        ...labels,
        'batch.kubernetes.io/controller-uid':
          spec.selector.matchLabels['batch.kubernetes.io/controller-uid'],
        'batch.kubernetes.io/job-name': object.metadata.name,
        'controller-uid': spec.selector.matchLabels['batch.kubernetes.io/controller-uid'],
        'job-name': object.metadata.name,
      };
      break;
    }
    case 'Secret':
      object.type ??= 'Opaque';
      break;
    default:
      break;
  }
}

export class InvalidError extends Error {
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(detail);
  }
}

/** Fields the registry forbids changing. */
export function checkImmutable(object: Obj, live: Obj | undefined): void {
  if (!live) return;
  const same = (path: string) =>
    canonical(get(object, path.split('.'))) === canonical(get(live, path.split('.')));
  const fields: Record<string, string[]> = {
    Job: ['spec.template', 'spec.selector'],
    Deployment: ['spec.selector'],
    DaemonSet: ['spec.selector'],
  };
  for (const field of fields[object.kind] ?? []) {
    if (!same(field)) {
      const value = JSON.stringify(get(object, field.split('.'))).slice(0, 80);
      throw new InvalidError(field, `Invalid value: ${value}: field is immutable`);
    }
  }
}
