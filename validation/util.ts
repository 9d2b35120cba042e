// Small helpers shared by the checks. Manifests arrive as `unknown` (parsed
// YAML that may or may not match its schema), so every read goes through
// these narrowing accessors instead of casts: a check on a malformed object
// sees "absent" where the data has the wrong shape, and never throws.

/** A plain JSON object. */
export type Obj = Record<string, unknown>;

/** One YAML document of the output, as the checks receive it. */
export interface LoadedDoc {
  /** Path of the file, as it is printed in findings. */
  file: string;
  /** 0-based index of the document in its file. */
  index: number;
  /** The parsed document (after YAML parsing; null/absent documents are skipped by the loader). */
  doc: unknown;
}

/** One problem with one document. */
export interface Finding {
  file: string;
  index: number;
  kind: string;
  name: string;
  message: string;
}

export function obj(value: unknown): Obj | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Obj)
    : undefined;
}

/** The plain-object elements of `value` when it is an array, else none. */
export function objs(value: unknown): Obj[] {
  return Array.isArray(value) ? value.map(obj).filter((o): o is Obj => o !== undefined) : [];
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** The string elements of `value` when it is an array, else none. */
export function strs(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** A string-to-string map (labels, selectors); other values are left out. */
export function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(value) ?? {})) {
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}

/** `"a"`, `"a", "b"`: Go's %q of each, joined like the PSA messages do. */
export function joinQuote(items: readonly string[]): string {
  return items.map((s) => JSON.stringify(s)).join(', ');
}

export function pluralize(singular: string, plural: string, count: number): string {
  return count === 1 ? singular : plural;
}

/** Sorted, de-duplicated copy (Go's sets.String.List()). */
export function sortedSet(items: Iterable<string>): string[] {
  return [...new Set(items)].sort();
}

/** Identity of a document for the `<Kind>/<name>` part of a finding line. */
export function describe(doc: unknown): { kind: string; name: string } {
  const o = obj(doc);
  return {
    kind: str(o?.kind) ?? '?',
    name: str(obj(o?.metadata)?.name) ?? '?',
  };
}

/** The API group of an apiVersion: `apps/v1` → `apps`, `v1` → `` (core). */
export function apiGroup(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

export function finding(d: LoadedDoc, message: string): Finding {
  return { file: d.file, index: d.index, ...describe(d.doc), message };
}

/** The namespace a namespaced object is created in: kubectl's default is `default`. */
export function namespaceOf(doc: unknown): string {
  return str(obj(obj(doc)?.metadata)?.namespace) || 'default';
}

/** A pod template: the pod part of a Pod or of a workload that creates pods. */
export interface PodTemplate {
  metadata: Obj | undefined;
  spec: Obj;
}

/**
 * The pod template of a pod-bearing object (the kinds Pod Security Admission
 * extracts pods from), or undefined for any other object.
 */
export function podTemplateOf(doc: unknown): PodTemplate | undefined {
  const o = obj(doc);
  const group = apiGroup(str(o?.apiVersion) ?? '');
  let template: Obj | undefined;
  switch (group === '' || group === 'apps' || group === 'batch' ? str(o?.kind) : undefined) {
    case 'Pod':
      template = o;
      break;
    case 'PodTemplate':
      template = obj(o?.template);
      break;
    case 'ReplicationController':
    case 'ReplicaSet':
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'Job':
      template = obj(obj(o?.spec)?.template);
      break;
    case 'CronJob':
      template = obj(obj(obj(obj(o?.spec)?.jobTemplate)?.spec)?.template);
      break;
    default:
      return undefined;
  }
  const spec = obj(template?.spec);
  return spec ? { metadata: obj(template?.metadata), spec } : undefined;
}

/** A pod's containers in the order Kubernetes visits them: init, regular, ephemeral. */
export function allContainers(spec: Obj): Obj[] {
  return [
    ...objs(spec.initContainers),
    ...objs(spec.containers),
    ...objs(spec.ephemeralContainers),
  ];
}
