/**
 * The kubelet's own rules, as pure functions: which uid a container gets,
 * when it refuses to create it, its environment and command line. Messages
 * are the kubelet's, so the smoke run reads like `kubectl describe pod`.
 */
import { ManifestSet, Workload } from './manifest';
import { ContainerSpec, PodSpec } from './pod-spec';
import { ImageConfig } from './image';

/** A container the kubelet refuses to create: CreateContainerConfigError. */
export class ContainerConfigError extends Error {}

/** The pod as the kubelet would name it: `format.Pod` is `name_namespace(uid)`. */
export interface PodIdentity {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly ip: string;
}

export function formatPod(pod: PodIdentity): string {
  return `${pod.name}_${pod.namespace}(${pod.uid})`;
}

/** What the container process runs as. */
export interface ProcessIdentity {
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups: fsGroup and supplementalGroups. */
  readonly groups: readonly number[];
  /** Capability names without CAP_, lower case (setpriv's spelling). */
  readonly capabilities: readonly string[];
  readonly noNewPrivs: boolean;
  readonly readOnlyRootFilesystem: boolean;
}

/** containerd's default capability set for a non-privileged container. */
export const DEFAULT_CAPABILITIES = [
  'chown',
  'dac_override',
  'fsetid',
  'fowner',
  'mknod',
  'net_raw',
  'setgid',
  'setuid',
  'setfcap',
  'setpcap',
  'net_bind_service',
  'sys_chroot',
  'kill',
  'audit_write',
];

/**
 * The container's effective identity: container fields override the pod's,
 * and what neither sets comes from the image (python:3.11-slim: root). Throws
 * ContainerConfigError where the kubelet's verifyRunAsNonRoot does.
 */
export function processIdentity(
  pod: PodSpec,
  container: ContainerSpec,
  image: ImageConfig,
  identity: PodIdentity,
): ProcessIdentity {
  const sc = container.securityContext;
  const psc = pod.securityContext;
  const runAsUser = sc?.runAsUser ?? psc.runAsUser;
  const runAsGroup = sc?.runAsGroup ?? psc.runAsGroup;
  const runAsNonRoot = sc?.runAsNonRoot ?? psc.runAsNonRoot;
  if (runAsNonRoot === true) {
    const where = `(pod: "${formatPod(identity)}", container: ${container.name})`;
    if (runAsUser === 0) {
      throw new ContainerConfigError(`container's runAsUser breaks non-root policy ${where}`);
    }
    if (runAsUser === undefined && image.user.uid === 0) {
      throw new ContainerConfigError(
        `container has runAsNonRoot and image will run as root ${where}`,
      );
    }
  }
  const uid = runAsUser ?? image.user.uid;
  // A uid without a group: the runtime takes the user's group from the
  // image's /etc/passwd, and 0 when the image does not know the uid.
  const gid = runAsGroup ?? (runAsUser === undefined ? image.user.gid : image.groupOf(uid));
  const groups = [...(psc.fsGroup !== undefined ? [psc.fsGroup] : []), ...psc.supplementalGroups];
  return {
    uid,
    gid,
    groups: [...new Set(groups)],
    capabilities: capabilities(sc?.privileged === true, sc?.capabilities),
    // The runtime sets no_new_privs exactly when allowPrivilegeEscalation is false.
    noNewPrivs: sc?.allowPrivilegeEscalation === false,
    readOnlyRootFilesystem: sc?.readOnlyRootFilesystem === true,
  };
}

function capName(cap: string): string {
  return cap.toLowerCase().replace(/^cap_/, '');
}

/** containerd's rule: drop ALL empties the default set, then add, then drop the named ones. */
export function capabilities(
  privileged: boolean,
  caps: { readonly add: readonly string[]; readonly drop: readonly string[] } | undefined,
): string[] {
  if (privileged) return ['all'];
  const add = (caps?.add ?? []).map(capName);
  const drop = (caps?.drop ?? []).map(capName);
  if (add.includes('all')) return ['all'];
  const set = new Set(drop.includes('all') ? [] : DEFAULT_CAPABILITIES);
  for (const cap of add) set.add(cap);
  for (const cap of drop) if (!add.includes(cap)) set.delete(cap);
  return [...set];
}

/**
 * Kubernetes' `$(VAR)` expansion, used for env values, command and args:
 * `$$` is a literal `$`, an unknown `$(VAR)` stays as written.
 */
export function expand(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (c === '$' && i + 1 < input.length) {
      const next = input[i + 1];
      if (next === '$') {
        out += '$';
        i++;
        continue;
      }
      if (next === '(') {
        const close = input.indexOf(')', i + 2);
        if (close !== -1) {
          const name = input.slice(i + 2, close);
          out += lookup(name) ?? `$(${name})`;
          i = close;
          continue;
        }
      }
    }
    out += c;
  }
  return out;
}

/** The API server's Service for the cluster (k3s' default ClusterIP), injected into every pod. */
const KUBERNETES_SERVICE_ENV: readonly [string, string][] = [
  ['KUBERNETES_SERVICE_HOST', '10.43.0.1'],
  ['KUBERNETES_SERVICE_PORT', '443'],
  ['KUBERNETES_SERVICE_PORT_HTTPS', '443'],
  ['KUBERNETES_PORT', 'tcp://10.43.0.1:443'],
  ['KUBERNETES_PORT_443_TCP', 'tcp://10.43.0.1:443'],
  ['KUBERNETES_PORT_443_TCP_PROTO', 'tcp'],
  ['KUBERNETES_PORT_443_TCP_PORT', '443'],
  ['KUBERNETES_PORT_443_TCP_ADDR', '10.43.0.1'],
];

/**
 * The environment the kubelet hands the runtime (envFrom, then env, each
 * value expanded against what came before), without the image's own.
 */
export function containerEnv(
  workload: Workload,
  container: ContainerSpec,
  manifests: ManifestSet,
  identity: PodIdentity,
): Map<string, string> {
  const env = new Map<string, string>(KUBERNETES_SERVICE_ENV);
  const ns = workload.namespace;
  const lookupObject = (type: 'configMap' | 'secret', name: string) =>
    (type === 'configMap' ? manifests.configMaps : manifests.secrets).get(`${ns}/${name}`);
  const label = (type: 'configMap' | 'secret') => (type === 'configMap' ? 'configmap' : 'secret');
  for (const from of container.envFrom) {
    const data = lookupObject(from.type, from.name);
    if (data === undefined) {
      if (from.optional) continue;
      throw new ContainerConfigError(`${label(from.type)} "${from.name}" not found`);
    }
    for (const [key, value] of data) env.set(`${from.prefix}${key}`, value.toString('utf8'));
  }
  for (const e of container.env) {
    let value: string | undefined;
    if (e.value !== undefined) {
      value = expand(e.value, (name) => env.get(name));
    } else if (e.fieldRef !== undefined) {
      value = fieldRef(e.fieldRef, workload, identity);
    } else if (e.configMapKeyRef !== undefined || e.secretKeyRef !== undefined) {
      const type = e.configMapKeyRef !== undefined ? 'configMap' : 'secret';
      const ref = (e.configMapKeyRef ?? e.secretKeyRef)!;
      const data = lookupObject(type, ref.name);
      if (data === undefined) {
        if (ref.optional) continue;
        throw new ContainerConfigError(`${label(type)} "${ref.name}" not found`);
      }
      const bytes = data.get(ref.key);
      if (bytes === undefined) {
        if (ref.optional) continue;
        const kind = type === 'configMap' ? 'ConfigMap' : 'Secret';
        throw new ContainerConfigError(`couldn't find key ${ref.key} in ${kind} ${ns}/${ref.name}`);
      }
      value = bytes.toString('utf8');
    } else {
      throw new ContainerConfigError(
        `env ${e.name}: valueFrom.${e.unsupported} is not emulated by the smoke run`,
      );
    }
    env.set(e.name, value);
  }
  return env;
}

function fieldRef(fieldPath: string, workload: Workload, identity: PodIdentity): string {
  const label = /^metadata\.labels\['(.+)'\]$/.exec(fieldPath);
  if (label) return workload.labels[label[1]] ?? '';
  switch (fieldPath) {
    case 'metadata.name':
      return identity.name;
    case 'metadata.namespace':
      return identity.namespace;
    case 'metadata.uid':
      return identity.uid;
    case 'status.podIP':
    case 'status.podIPs':
      return identity.ip;
    case 'status.hostIP':
    case 'status.hostIPs':
      return '127.0.0.1';
    case 'spec.nodeName':
      return 'smoke-node';
    case 'spec.serviceAccountName':
      return 'default';
    default:
      throw new ContainerConfigError(`env fieldRef ${fieldPath} is not emulated by the smoke run`);
  }
}

/**
 * The argv the runtime execs: `command` replaces the image's ENTRYPOINT,
 * `args` its CMD (and a `command` without `args` drops the CMD), both
 * expanded against the container's environment.
 */
export function containerArgv(
  container: ContainerSpec,
  image: ImageConfig,
  env: ReadonlyMap<string, string>,
): string[] {
  const argv =
    container.command !== undefined
      ? [...container.command, ...(container.args ?? [])]
      : [...image.entrypoint, ...(container.args ?? image.cmd)];
  const expanded = argv.map((arg) => expand(arg, (name) => env.get(name)));
  if (expanded.length === 0) {
    throw new ContainerConfigError('no command specified');
  }
  return expanded;
}

/** A probe's port: a number, or the name of one of the container's ports. */
export function resolvePort(container: ContainerSpec, port: number | string): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const found = container.ports.find((p) => p.name === port);
  if (found === undefined) {
    throw new Error(`port "${port}" is not among the container's named ports`);
  }
  return found.containerPort;
}
