/**
 * Reads synthesized manifests from a folder: the YAML is what the cluster
 * gets, so the smoke run never looks at the TypeScript objects. Only the part
 * of the Kubernetes API a kubelet needs to start a pod is modelled
 * (pod-spec.ts, read by read-pod-spec.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';
import { PodSpec } from './pod-spec';
import { readPodSpec } from './read-pod-spec';
import { isObject, JsonObject, ManifestError, object, optStr, str, strMap } from './read';

/** A pod-bearing object: a Deployment, StatefulSet, DaemonSet, Job, ReplicaSet or a bare Pod. */
export interface Workload {
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly file: string;
  readonly pod: PodSpec;
}

/** The data of a ConfigMap or Secret, as the bytes the kubelet writes. */
export type DataObject = ReadonlyMap<string, Buffer>;

/** A workload found in the files; its pod spec is read only when it is the one to run. */
export type WorkloadRef = Omit<Workload, 'pod'> & { readonly readPod: () => PodSpec };

export interface ManifestSet {
  readonly files: readonly string[];
  readonly workloads: readonly WorkloadRef[];
  /** Keyed by `namespace/name`. */
  readonly configMaps: ReadonlyMap<string, DataObject>;
  readonly secrets: ReadonlyMap<string, DataObject>;
}

const TEMPLATE_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);

/** Reads every `*.yaml`/`*.yml` file under `dir` (recursively, in name order). */
export function loadManifests(dir: string): ManifestSet {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new ManifestError(`${dir}: not a folder (run \`npm run synth\` first?)`);
  }
  const files = yamlFiles(dir);
  if (files.length === 0) throw new ManifestError(`${dir}: no .yaml or .yml files`);
  const workloads: WorkloadRef[] = [];
  const configMaps = new Map<string, DataObject>();
  const secrets = new Map<string, DataObject>();
  for (const file of files) {
    const docs = parseAllDocuments(fs.readFileSync(file, 'utf8'));
    if (!Array.isArray(docs)) throw new ManifestError(`${file}: not a YAML stream`);
    docs.forEach((doc, index) => {
      if (doc.errors.length > 0) {
        throw new ManifestError(`${file}: YAML error: ${doc.errors[0].message}`);
      }
      const value: unknown = doc.toJS();
      if (!isObject(value)) return;
      const where = `${path.relative(process.cwd(), file) || file} (document ${index + 1})`;
      const kind = str(value.kind, `${where}: kind`);
      const meta = object(value.metadata, `${where}: metadata`);
      const name = str(meta.name, `${where}: metadata.name`);
      const namespace = optStr(meta.namespace, `${where}: metadata.namespace`) ?? 'default';
      const key = `${namespace}/${name}`;
      if (kind === 'ConfigMap') {
        configMaps.set(key, readData(value, where, false));
      } else if (kind === 'Secret') {
        secrets.set(key, readData(value, where, true));
      } else if (kind === 'Pod' || TEMPLATE_KINDS.has(kind)) {
        const podSpec =
          kind === 'Pod'
            ? value.spec
            : object(object(value.spec, `${where}: spec`).template, `${where}: spec.template`).spec;
        const specPath = kind === 'Pod' ? 'spec' : 'spec.template.spec';
        workloads.push({
          kind,
          name,
          namespace,
          labels: strMap(meta.labels, `${where}: metadata.labels`),
          file,
          // Other workloads of the variant (a monitor, GPU jobs) may use what the
          // smoke run does not model: only the selected one is read.
          readPod: () => readPodSpec(podSpec, `${where}: ${specPath}`),
        });
      }
    });
  }
  return { files, workloads, configMaps, secrets };
}

/**
 * The workload to run: the one named, else the only one, else the only one
 * labelled as the backend component (a variant may also hold side workloads
 * such as a monitor).
 */
export function selectWorkload(set: ManifestSet, app: string | undefined): Workload {
  const { readPod, ...ref } = findWorkload(set, app);
  return { ...ref, pod: readPod() };
}

function findWorkload(set: ManifestSet, app: string | undefined): WorkloadRef {
  const names = set.workloads.map((w) => `${w.kind}/${w.name}`).join(', ') || 'none';
  if (app !== undefined) {
    const found = set.workloads.filter((w) => w.name === app);
    if (found.length === 1) return found[0];
    throw new ManifestError(
      found.length === 0
        ? `no workload named "${app}" (found: ${names})`
        : `${found.length} workloads are named "${app}": ${names}`,
    );
  }
  if (set.workloads.length === 1) return set.workloads[0];
  const backends = set.workloads.filter(
    (w) => w.labels['app.kubernetes.io/component'] === 'backend',
  );
  if (backends.length === 1) return backends[0];
  throw new ManifestError(`pick a workload with --app NAME (found: ${names})`);
}

function yamlFiles(dir: string): string[] {
  const result: string[] = [];
  for (const entry of fs
    .readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) result.push(...yamlFiles(full));
    else if (/\.ya?ml$/.test(entry.name)) result.push(full);
  }
  return result;
}

function readData(value: JsonObject, where: string, base64: boolean): DataObject {
  const data = new Map<string, Buffer>();
  for (const [key, item] of Object.entries(strMap(value.data, `${where}: data`))) {
    data.set(key, base64 ? Buffer.from(item, 'base64') : Buffer.from(item, 'utf8'));
  }
  const extra = base64 ? value.stringData : value.binaryData;
  for (const [key, item] of Object.entries(strMap(extra, `${where}: extra data`))) {
    data.set(key, base64 ? Buffer.from(item, 'utf8') : Buffer.from(item, 'base64'));
  }
  return data;
}
