// Check 3: what the objects refer to exists in the output, and nothing is
// defined twice.
//  - Services select some pod template in their namespace, and each
//    targetPort (named or numeric, same protocol) is a port of a container of
//    every workload they select;
//  - ConfigMaps, Secrets and ServiceAccounts that pods use (volumes,
//    projected sources, envFrom, env valueFrom, imagePullSecrets,
//    serviceAccountName other than `default`) exist in the pod's namespace,
//    and so do the keys taken from them, unless the reference is optional or
//    the workload declares the Secret external (./external-secrets);
//  - probe ports (httpGet, tcpSocket, grpc) are ports the container declares;
//  - images are pinned: a tag other than `latest`, or a digest;
//  - no two objects share kind, namespace and name;
//  - RoleBindings refer to Roles that exist, and (Cluster)RoleBinding subjects
//    to ServiceAccounts that exist, when their namespace is in the output.
import { checkExternalSecrets, declaredExternalSecrets } from './external-secrets';
import { podNeeds } from './pod-needs';
import { isNamespaced } from './schema';
import {
  allContainers,
  apiGroup,
  finding,
  namespaceOf,
  obj,
  objs,
  podTemplateOf,
  str,
  stringMap,
  type Finding,
  type LoadedDoc,
  type Obj,
  type PodTemplate,
} from './util';

interface Indexed {
  d: LoadedDoc;
  o: Obj;
  apiVersion: string;
  kind: string;
  name: string;
  /** '' for cluster-scoped objects. */
  namespace: string;
}

interface Workload extends Indexed {
  pod: PodTemplate;
}

/** The objects of the output by kind and namespace, for look-ups. */
class Index {
  readonly objects: Indexed[] = [];
  readonly workloads: Workload[] = [];
  readonly namespaces = new Set<string>();

  constructor(docs: readonly LoadedDoc[]) {
    for (const d of docs) {
      const o = obj(d.doc);
      const apiVersion = str(o?.apiVersion);
      const kind = str(o?.kind);
      const name = str(obj(o?.metadata)?.name);
      if (!o || apiVersion === undefined || kind === undefined || name === undefined) continue;
      const namespace = isNamespaced(apiVersion, kind) ? namespaceOf(o) : '';
      const entry: Indexed = { d, o, apiVersion, kind, name, namespace };
      this.objects.push(entry);
      if (apiVersion === 'v1' && kind === 'Namespace') this.namespaces.add(name);
      const pod = podTemplateOf(o);
      if (pod) this.workloads.push({ ...entry, pod });
    }
  }

  /** A core (v1) object of `kind` named `name` in `namespace`. */
  find(kind: string, namespace: string, name: string): Indexed | undefined {
    return this.objects.find(
      (x) =>
        x.apiVersion === 'v1' && x.kind === kind && x.namespace === namespace && x.name === name,
    );
  }
}

function duplicates(index: Index): Finding[] {
  const findings: Finding[] = [];
  const first = new Map<string, Indexed>();
  for (const x of index.objects) {
    const key = JSON.stringify([apiGroup(x.apiVersion), x.kind, x.namespace, x.name]);
    const earlier = first.get(key);
    if (!earlier) {
      first.set(key, x);
      continue;
    }
    const where = x.namespace === '' ? '' : ` in namespace ${JSON.stringify(x.namespace)}`;
    findings.push(
      finding(
        x.d,
        `duplicate ${x.kind} ${JSON.stringify(x.name)}${where} (also ${earlier.d.file}#${earlier.d.index})`,
      ),
    );
  }
  return findings;
}

/** The ports traffic can reach: those of the regular containers and of restartable init (sidecar) containers. */
function servingPorts(spec: Obj): Obj[] {
  const sidecars = objs(spec.initContainers).filter((c) => str(c.restartPolicy) === 'Always');
  return [...sidecars, ...objs(spec.containers)].flatMap((c) => objs(c.ports));
}

function formatSelector(selector: Record<string, string>): string {
  return Object.entries(selector)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

function services(index: Index): Finding[] {
  const findings: Finding[] = [];
  for (const svc of index.objects) {
    if (svc.apiVersion !== 'v1' || svc.kind !== 'Service') continue;
    const spec = obj(svc.o.spec);
    const selector = stringMap(spec?.selector);
    // Without a selector the Service's endpoints are managed by hand; ExternalName has none.
    if (Object.keys(selector).length === 0 || str(spec?.type) === 'ExternalName') continue;
    const selected = index.workloads.filter((w) => {
      const labels = stringMap(w.pod.metadata?.labels);
      return (
        w.namespace === svc.namespace && Object.entries(selector).every(([k, v]) => labels[k] === v)
      );
    });
    if (selected.length === 0) {
      findings.push(
        finding(
          svc.d,
          `selector ${formatSelector(selector)} matches no pod template in namespace ${JSON.stringify(svc.namespace)}`,
        ),
      );
      continue;
    }
    for (const port of objs(spec?.ports)) {
      const target = port.targetPort ?? port.port;
      const protocol = str(port.protocol) ?? 'TCP';
      const label = str(port.name) ?? String(port.port);
      for (const w of selected) {
        const found = servingPorts(w.pod.spec).some(
          (p) =>
            (str(p.protocol) ?? 'TCP') === protocol &&
            (typeof target === 'string' ? p.name === target : p.containerPort === target),
        );
        if (!found) {
          findings.push(
            finding(
              svc.d,
              `port ${JSON.stringify(label)}: targetPort ${JSON.stringify(target)} (${protocol}) is not a container port of ${w.kind}/${w.name}`,
            ),
          );
        }
      }
    }
  }
  return findings;
}

/** The keys a ConfigMap or Secret defines. */
function keysOf(o: Obj): Set<string> {
  const fields = o.kind === 'Secret' ? ['data', 'stringData'] : ['data', 'binaryData'];
  return new Set(fields.flatMap((f) => Object.keys(obj(o[f]) ?? {})));
}

function podReferences(index: Index): Finding[] {
  const findings: Finding[] = [];
  for (const w of index.workloads) {
    const external = declaredExternalSecrets(w.o);
    for (const need of podNeeds(w.pod.spec)) {
      if (need.optional) continue;
      const target = index.find(need.kind, w.namespace, need.name);
      if (!target && need.kind === 'Secret' && external.includes(need.name)) continue;
      const what = `${need.kind} ${JSON.stringify(need.name)}`;
      if (!target) {
        findings.push(
          finding(
            w.d,
            `${need.from}: ${what} is not defined in namespace ${JSON.stringify(w.namespace)}`,
          ),
        );
        continue;
      }
      const keys = keysOf(target.o);
      for (const key of need.keys.filter((k) => !keys.has(k))) {
        findings.push(finding(w.d, `${need.from}: ${what} has no key ${JSON.stringify(key)}`));
      }
    }
  }
  return findings;
}

const PROBES = ['livenessProbe', 'readinessProbe', 'startupProbe'] as const;

function probePorts(index: Index): Finding[] {
  const findings: Finding[] = [];
  for (const w of index.workloads) {
    for (const c of allContainers(w.pod.spec)) {
      const ports = objs(c.ports);
      for (const probe of PROBES) {
        const p = obj(c[probe]);
        for (const handler of ['httpGet', 'tcpSocket', 'grpc'] as const) {
          const port = obj(p?.[handler])?.port;
          if (port === undefined) continue;
          const declared =
            typeof port === 'string'
              ? ports.some((q) => q.name === port)
              : ports.some((q) => q.containerPort === port);
          if (!declared) {
            findings.push(
              finding(
                w.d,
                `container ${JSON.stringify(str(c.name) ?? '')} ${probe}.${handler}.port ${JSON.stringify(port)} is not a port the container declares`,
              ),
            );
          }
        }
      }
    }
  }
  return findings;
}

/** `repo/name:tag@sha256:…` → its tag and digest, if any. */
export function imageReference(image: string): { tag?: string; digest?: string } {
  const at = image.indexOf('@');
  const digest = at >= 0 ? image.slice(at + 1) : undefined;
  const name = at >= 0 ? image.slice(0, at) : image;
  const colon = name.lastIndexOf(':');
  const tag = colon > name.lastIndexOf('/') ? name.slice(colon + 1) : undefined;
  return { tag, digest };
}

function images(index: Index): Finding[] {
  const findings: Finding[] = [];
  for (const w of index.workloads) {
    for (const c of allContainers(w.pod.spec)) {
      const container = `container ${JSON.stringify(str(c.name) ?? '')}`;
      const image = str(c.image);
      if (image === undefined || image === '') {
        findings.push(finding(w.d, `${container} has no image`));
        continue;
      }
      const { tag, digest } = imageReference(image);
      if (digest !== undefined) continue;
      if (tag === undefined) {
        findings.push(
          finding(
            w.d,
            `${container} image ${JSON.stringify(image)} has no tag (it would pull :latest)`,
          ),
        );
      } else if (tag === 'latest') {
        findings.push(
          finding(
            w.d,
            `${container} image ${JSON.stringify(image)} uses the mutable tag "latest"; pin a version or a digest`,
          ),
        );
      }
    }
  }
  return findings;
}

function rbac(index: Index): Finding[] {
  const findings: Finding[] = [];
  for (const b of index.objects) {
    if (b.apiVersion !== 'rbac.authorization.k8s.io/v1') continue;
    if (b.kind !== 'RoleBinding' && b.kind !== 'ClusterRoleBinding') continue;
    const roleRef = obj(b.o.roleRef);
    if (b.kind === 'RoleBinding' && str(roleRef?.kind) === 'Role') {
      const role = str(roleRef?.name) ?? '';
      const exists = index.objects.some(
        (x) =>
          x.apiVersion === 'rbac.authorization.k8s.io/v1' &&
          x.kind === 'Role' &&
          x.namespace === b.namespace &&
          x.name === role,
      );
      if (!exists) {
        findings.push(
          finding(
            b.d,
            `roleRef: Role ${JSON.stringify(role)} is not defined in namespace ${JSON.stringify(b.namespace)}`,
          ),
        );
      }
    }
    for (const s of objs(b.o.subjects)) {
      if (str(s.kind) !== 'ServiceAccount') continue;
      const name = str(s.name) ?? '';
      const namespace = str(s.namespace) ?? b.namespace;
      if (name === 'default' || !index.namespaces.has(namespace)) continue;
      if (!index.find('ServiceAccount', namespace, name)) {
        findings.push(
          finding(
            b.d,
            `subject ServiceAccount ${JSON.stringify(name)} is not defined in namespace ${JSON.stringify(namespace)}`,
          ),
        );
      }
    }
  }
  return findings;
}

/** Reference findings for the whole output. */
export function checkReferences(docs: readonly LoadedDoc[]): Finding[] {
  const index = new Index(docs);
  return [
    ...duplicates(index),
    ...services(index),
    ...podReferences(index),
    ...checkExternalSecrets(docs),
    ...probePorts(index),
    ...images(index),
    ...rbac(index),
  ];
}
