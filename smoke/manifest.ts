/**
 * Reads synthesized manifests from a folder: the YAML is what the cluster
 * gets, so the smoke run never looks at the TypeScript objects. Only the part
 * of the Kubernetes API a kubelet needs to start a pod is modelled.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';
import {
  intOrString,
  isObject,
  JsonObject,
  list,
  ManifestError,
  object,
  optBool,
  optInt,
  optObject,
  optStr,
  str,
  strList,
  strMap,
} from './read';

export interface KeyToPath {
  readonly key: string;
  readonly path: string;
  readonly mode?: number;
}

/** A ConfigMap or Secret volume: the kubelet writes its keys as files. */
export interface DataVolumeSource {
  readonly type: 'configMap' | 'secret';
  readonly objectName: string;
  readonly items?: readonly KeyToPath[];
  readonly defaultMode: number;
  readonly optional: boolean;
}

export interface EmptyDirSource {
  readonly type: 'emptyDir';
  readonly medium?: string;
  readonly sizeLimit?: string;
}

export interface UnsupportedSource {
  readonly type: 'unsupported';
  /** The volume type as written in the YAML, e.g. "hostPath". */
  readonly kind: string;
}

export interface VolumeSpec {
  readonly name: string;
  readonly source: DataVolumeSource | EmptyDirSource | UnsupportedSource;
}

export interface VolumeMountSpec {
  readonly name: string;
  readonly mountPath: string;
  readonly readOnly: boolean;
  readonly subPath?: string;
}

export interface KeyRef {
  readonly name: string;
  readonly key: string;
  readonly optional: boolean;
}

export interface EnvVarSpec {
  readonly name: string;
  readonly value?: string;
  readonly fieldRef?: string;
  readonly configMapKeyRef?: KeyRef;
  readonly secretKeyRef?: KeyRef;
  /** Any other valueFrom (resourceFieldRef...): not emulated. */
  readonly unsupported?: string;
}

export interface EnvFromSpec {
  readonly type: 'configMap' | 'secret';
  readonly name: string;
  readonly prefix: string;
  readonly optional: boolean;
}

export interface HttpGetAction {
  readonly type: 'httpGet';
  readonly path: string;
  readonly port: number | string;
  readonly scheme: 'HTTP' | 'HTTPS';
  readonly host?: string;
  readonly headers: readonly { readonly name: string; readonly value: string }[];
}

export interface TcpSocketAction {
  readonly type: 'tcpSocket';
  readonly port: number | string;
  readonly host?: string;
}

export interface UnsupportedAction {
  readonly type: 'exec' | 'grpc' | 'none';
}

export interface ProbeSpec {
  readonly action: HttpGetAction | TcpSocketAction | UnsupportedAction;
  readonly initialDelaySeconds: number;
  readonly periodSeconds: number;
  readonly timeoutSeconds: number;
  readonly successThreshold: number;
  readonly failureThreshold: number;
}

export interface SecurityContextSpec {
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  readonly runAsNonRoot?: boolean;
  readonly readOnlyRootFilesystem?: boolean;
  readonly allowPrivilegeEscalation?: boolean;
  readonly privileged?: boolean;
  readonly capabilities: { readonly add: readonly string[]; readonly drop: readonly string[] };
}

export interface PodSecurityContextSpec {
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  readonly runAsNonRoot?: boolean;
  readonly fsGroup?: number;
  readonly supplementalGroups: readonly number[];
}

export interface ContainerPortSpec {
  readonly name?: string;
  readonly containerPort: number;
}

export interface ContainerSpec {
  readonly name: string;
  readonly image: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly workingDir?: string;
  readonly env: readonly EnvVarSpec[];
  readonly envFrom: readonly EnvFromSpec[];
  readonly ports: readonly ContainerPortSpec[];
  readonly volumeMounts: readonly VolumeMountSpec[];
  readonly securityContext?: SecurityContextSpec;
  readonly startupProbe?: ProbeSpec;
  readonly readinessProbe?: ProbeSpec;
  readonly livenessProbe?: ProbeSpec;
}

export interface PodSpec {
  readonly initContainers: readonly ContainerSpec[];
  readonly containers: readonly ContainerSpec[];
  readonly volumes: readonly VolumeSpec[];
  readonly securityContext: PodSecurityContextSpec;
  readonly hostname?: string;
}

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

function readPodSpec(value: unknown, where: string): PodSpec {
  const spec = object(value, where);
  const containers = list(spec.containers, `${where}.containers`).map((c, i) =>
    readContainer(c, `${where}.containers[${i}]`),
  );
  if (containers.length === 0) throw new ManifestError(`${where}.containers: no container`);
  const sc = optObject(spec.securityContext, `${where}.securityContext`) ?? {};
  const scWhere = `${where}.securityContext`;
  return {
    initContainers: list(spec.initContainers, `${where}.initContainers`).map((c, i) =>
      readContainer(c, `${where}.initContainers[${i}]`),
    ),
    containers,
    volumes: list(spec.volumes, `${where}.volumes`).map((v, i) =>
      readVolume(v, `${where}.volumes[${i}]`),
    ),
    securityContext: {
      runAsUser: optInt(sc.runAsUser, `${scWhere}.runAsUser`),
      runAsGroup: optInt(sc.runAsGroup, `${scWhere}.runAsGroup`),
      runAsNonRoot: optBool(sc.runAsNonRoot, `${scWhere}.runAsNonRoot`),
      fsGroup: optInt(sc.fsGroup, `${scWhere}.fsGroup`),
      supplementalGroups: list(sc.supplementalGroups, `${scWhere}.supplementalGroups`).map(
        (g, i) => optInt(g, `${scWhere}.supplementalGroups[${i}]`) ?? 0,
      ),
    },
    hostname: optStr(spec.hostname, `${where}.hostname`),
  };
}

function readVolume(value: unknown, where: string): VolumeSpec {
  const volume = object(value, where);
  const name = str(volume.name, `${where}.name`);
  const kinds = Object.keys(volume).filter((k) => k !== 'name');
  if (volume.configMap !== undefined || volume.secret !== undefined) {
    const type = volume.configMap !== undefined ? 'configMap' : 'secret';
    const src = object(volume[type], `${where}.${type}`);
    const nameKey = type === 'configMap' ? 'name' : 'secretName';
    const items = src.items === undefined ? undefined : readItems(src.items, `${where}.${type}`);
    return {
      name,
      source: {
        type,
        objectName: str(src[nameKey], `${where}.${type}.${nameKey}`),
        items,
        // The API server's defaults: 0644 for both.
        defaultMode: optInt(src.defaultMode, `${where}.${type}.defaultMode`) ?? 0o644,
        optional: optBool(src.optional, `${where}.${type}.optional`) ?? false,
      },
    };
  }
  if (volume.emptyDir !== undefined) {
    const src = optObject(volume.emptyDir, `${where}.emptyDir`) ?? {};
    return {
      name,
      source: {
        type: 'emptyDir',
        medium: optStr(src.medium, `${where}.emptyDir.medium`),
        sizeLimit:
          src.sizeLimit === undefined || src.sizeLimit === null ? undefined : String(src.sizeLimit),
      },
    };
  }
  return { name, source: { type: 'unsupported', kind: kinds[0] ?? 'none' } };
}

function readItems(value: unknown, where: string): KeyToPath[] {
  return list(value, `${where}.items`).map((raw, i) => {
    const item = object(raw, `${where}.items[${i}]`);
    return {
      key: str(item.key, `${where}.items[${i}].key`),
      path: str(item.path, `${where}.items[${i}].path`),
      mode: optInt(item.mode, `${where}.items[${i}].mode`),
    };
  });
}

function readContainer(value: unknown, where: string): ContainerSpec {
  const c = object(value, where);
  const optList = (key: string) =>
    c[key] === undefined ? undefined : strList(c[key], `${where}.${key}`);
  return {
    name: str(c.name, `${where}.name`),
    image: str(c.image, `${where}.image`),
    command: optList('command'),
    args: optList('args'),
    workingDir: optStr(c.workingDir, `${where}.workingDir`),
    env: list(c.env, `${where}.env`).map((e, i) => readEnvVar(e, `${where}.env[${i}]`)),
    envFrom: list(c.envFrom, `${where}.envFrom`).map((e, i) =>
      readEnvFrom(e, `${where}.envFrom[${i}]`),
    ),
    ports: list(c.ports, `${where}.ports`).map((raw, i) => {
      const port = object(raw, `${where}.ports[${i}]`);
      const containerPort = optInt(port.containerPort, `${where}.ports[${i}].containerPort`);
      if (containerPort === undefined) {
        throw new ManifestError(`${where}.ports[${i}].containerPort: required`);
      }
      return { name: optStr(port.name, `${where}.ports[${i}].name`), containerPort };
    }),
    volumeMounts: list(c.volumeMounts, `${where}.volumeMounts`).map((raw, i) => {
      const m = object(raw, `${where}.volumeMounts[${i}]`);
      return {
        name: str(m.name, `${where}.volumeMounts[${i}].name`),
        mountPath: str(m.mountPath, `${where}.volumeMounts[${i}].mountPath`),
        readOnly: optBool(m.readOnly, `${where}.volumeMounts[${i}].readOnly`) ?? false,
        subPath: optStr(m.subPath, `${where}.volumeMounts[${i}].subPath`) || undefined,
      };
    }),
    securityContext: readSecurityContext(c.securityContext, `${where}.securityContext`),
    startupProbe: readProbe(c.startupProbe, `${where}.startupProbe`),
    readinessProbe: readProbe(c.readinessProbe, `${where}.readinessProbe`),
    livenessProbe: readProbe(c.livenessProbe, `${where}.livenessProbe`),
  };
}

function readKeyRef(value: JsonObject, where: string): KeyRef {
  return {
    name: str(value.name, `${where}.name`),
    key: str(value.key, `${where}.key`),
    optional: optBool(value.optional, `${where}.optional`) ?? false,
  };
}

function readEnvVar(value: unknown, where: string): EnvVarSpec {
  const e = object(value, where);
  const name = str(e.name, `${where}.name`);
  const from = optObject(e.valueFrom, `${where}.valueFrom`);
  if (from === undefined) return { name, value: optStr(e.value, `${where}.value`) ?? '' };
  if (from.fieldRef !== undefined) {
    const ref = object(from.fieldRef, `${where}.valueFrom.fieldRef`);
    return { name, fieldRef: str(ref.fieldPath, `${where}.valueFrom.fieldRef.fieldPath`) };
  }
  if (from.configMapKeyRef !== undefined) {
    const ref = object(from.configMapKeyRef, `${where}.valueFrom.configMapKeyRef`);
    return { name, configMapKeyRef: readKeyRef(ref, `${where}.valueFrom.configMapKeyRef`) };
  }
  if (from.secretKeyRef !== undefined) {
    const ref = object(from.secretKeyRef, `${where}.valueFrom.secretKeyRef`);
    return { name, secretKeyRef: readKeyRef(ref, `${where}.valueFrom.secretKeyRef`) };
  }
  return { name, unsupported: Object.keys(from)[0] ?? 'valueFrom' };
}

function readEnvFrom(value: unknown, where: string): EnvFromSpec {
  const e = object(value, where);
  const prefix = optStr(e.prefix, `${where}.prefix`) ?? '';
  const type = e.configMapRef !== undefined ? 'configMap' : 'secret';
  const ref = object(e[`${type}Ref`], `${where}.${type}Ref`);
  return {
    type,
    prefix,
    name: str(ref.name, `${where}.${type}Ref.name`),
    optional: optBool(ref.optional, `${where}.${type}Ref.optional`) ?? false,
  };
}

function readSecurityContext(value: unknown, where: string): SecurityContextSpec | undefined {
  const sc = optObject(value, where);
  if (sc === undefined) return undefined;
  const caps = optObject(sc.capabilities, `${where}.capabilities`) ?? {};
  return {
    runAsUser: optInt(sc.runAsUser, `${where}.runAsUser`),
    runAsGroup: optInt(sc.runAsGroup, `${where}.runAsGroup`),
    runAsNonRoot: optBool(sc.runAsNonRoot, `${where}.runAsNonRoot`),
    readOnlyRootFilesystem: optBool(sc.readOnlyRootFilesystem, `${where}.readOnlyRootFilesystem`),
    allowPrivilegeEscalation: optBool(
      sc.allowPrivilegeEscalation,
      `${where}.allowPrivilegeEscalation`,
    ),
    privileged: optBool(sc.privileged, `${where}.privileged`),
    capabilities: {
      add: strList(caps.add, `${where}.capabilities.add`),
      drop: strList(caps.drop, `${where}.capabilities.drop`),
    },
  };
}

function readProbe(value: unknown, where: string): ProbeSpec | undefined {
  const p = optObject(value, where);
  if (p === undefined) return undefined;
  let action: ProbeSpec['action'] = { type: 'none' };
  if (p.httpGet !== undefined) {
    const h = object(p.httpGet, `${where}.httpGet`);
    const scheme = optStr(h.scheme, `${where}.httpGet.scheme`) ?? 'HTTP';
    if (scheme !== 'HTTP' && scheme !== 'HTTPS') {
      throw new ManifestError(`${where}.httpGet.scheme: expected HTTP or HTTPS, got ${scheme}`);
    }
    action = {
      type: 'httpGet',
      path: optStr(h.path, `${where}.httpGet.path`) ?? '/',
      port: intOrString(h.port, `${where}.httpGet.port`),
      scheme,
      host: optStr(h.host, `${where}.httpGet.host`),
      headers: list(h.httpHeaders, `${where}.httpGet.httpHeaders`).map((raw, i) => {
        const header = object(raw, `${where}.httpGet.httpHeaders[${i}]`);
        return {
          name: str(header.name, `${where}.httpGet.httpHeaders[${i}].name`),
          value: str(header.value, `${where}.httpGet.httpHeaders[${i}].value`),
        };
      }),
    };
  } else if (p.tcpSocket !== undefined) {
    const t = object(p.tcpSocket, `${where}.tcpSocket`);
    action = {
      type: 'tcpSocket',
      port: intOrString(t.port, `${where}.tcpSocket.port`),
      host: optStr(t.host, `${where}.tcpSocket.host`),
    };
  } else if (p.exec !== undefined) {
    action = { type: 'exec' };
  } else if (p.grpc !== undefined) {
    action = { type: 'grpc' };
  }
  // The API server's defaults for omitted fields.
  return {
    action,
    initialDelaySeconds: optInt(p.initialDelaySeconds, `${where}.initialDelaySeconds`) ?? 0,
    periodSeconds: optInt(p.periodSeconds, `${where}.periodSeconds`) ?? 10,
    timeoutSeconds: optInt(p.timeoutSeconds, `${where}.timeoutSeconds`) ?? 1,
    successThreshold: optInt(p.successThreshold, `${where}.successThreshold`) ?? 1,
    failureThreshold: optInt(p.failureThreshold, `${where}.failureThreshold`) ?? 3,
  };
}
