// Check 4: network reachability. Every workload may declare the connections
// its pods need (the `manifests.sophia.ai/connections` annotation, see
// lib/connections.ts); each is evaluated against the folder's
// NetworkPolicies (./network-policy), and one that they deny is an error
// naming both ends and the port. Every namespace that runs pods must also
// have a default deny for both directions. `--flows` prints every evaluated
// connection, allowed or not.
import { CONNECTIONS_ANNOTATION } from '../lib/connections';
import { AddressSet, parseCidr } from '../lib/cidr';
import {
  defaultDenyPolicy,
  evaluateSide,
  loadPolicies,
  namedPort,
  type Direction,
  type Endpoint,
  type PodEndpoint,
  type Policy,
  type SideVerdict,
} from './network-policy';
import {
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
} from './util';

const NAME_LABEL = 'kubernetes.io/metadata.name';
const PROTOCOLS = ['TCP', 'UDP', 'SCTP'];
const PORT_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;

interface Workload {
  readonly d: LoadedDoc;
  readonly name: string;
  readonly metadata: Obj;
  readonly endpoint: PodEndpoint;
}

/** One declared connection between two resolved ends. */
export interface Flow {
  readonly d: LoadedDoc;
  readonly source: Endpoint;
  readonly destination: Endpoint;
  readonly port: number;
  /** The port's name, when the declaration gave one. */
  readonly portName?: string;
  readonly protocol: string;
  readonly purpose: string;
  /** Undefined: the side is outside the folder (an address, or a namespace without policies here). */
  readonly egress?: SideVerdict;
  readonly ingress?: SideVerdict;
  readonly allowed: boolean;
}

/** The folder's namespaces and pod templates, as endpoints. */
class Network {
  readonly workloads: Workload[] = [];
  /** Namespaces the folder defines or runs pods in. */
  readonly namespaces = new Map<string, Record<string, string>>();
  readonly namespaceDocs = new Map<string, LoadedDoc>();

  constructor(docs: readonly LoadedDoc[]) {
    for (const d of docs) {
      const o = obj(d.doc);
      const name = str(obj(o?.metadata)?.name);
      if (o?.apiVersion === 'v1' && o.kind === 'Namespace' && name) {
        // The API server sets kubernetes.io/metadata.name on every namespace.
        this.namespaces.set(name, { ...stringMap(obj(o.metadata)?.labels), [NAME_LABEL]: name });
        this.namespaceDocs.set(name, d);
      }
    }
    for (const d of docs) {
      const pod = podTemplateOf(d.doc);
      const metadata = obj(obj(d.doc)?.metadata);
      if (!pod || !metadata) continue;
      const namespace = namespaceOf(d.doc);
      if (!this.namespaces.has(namespace))
        this.namespaces.set(namespace, { [NAME_LABEL]: namespace });
      const name = str(metadata.name) ?? '?';
      this.workloads.push({
        d,
        name,
        metadata,
        endpoint: {
          kind: 'pods',
          namespace,
          labels: stringMap(pod.metadata?.labels),
          namespaceLabels: this.namespaces.get(namespace)!,
          containers: [...objs(pod.spec.initContainers), ...objs(pod.spec.containers)],
          display: `${namespace}/${name}`,
        },
      });
    }
  }

  namespaceLabels(namespace: string): Record<string, string> {
    return this.namespaces.get(namespace) ?? { [NAME_LABEL]: namespace };
  }

  /** The endpoints an endpoint declaration stands for, or an error message. */
  resolve(value: unknown): Endpoint[] | string {
    const e = obj(value);
    if (!e) return 'an endpoint must be an object: { namespace, pods? } or { cidr, except? }';
    if (e.cidr !== undefined) {
      const cidr = parseCidr(e.cidr);
      const except = Array.isArray(e.except) ? e.except.map(parseCidr) : [];
      if (!cidr || except.some((x) => x === undefined)) {
        return `cidr ${JSON.stringify(e.cidr)} / except ${JSON.stringify(e.except ?? [])} must be IP blocks like "10.0.0.0/8"`;
      }
      const set = AddressSet.of(cidr, except as NonNullable<(typeof except)[number]>[]);
      const shown = `${str(e.cidr)}${Array.isArray(e.except) && e.except.length > 0 ? ` except ${e.except.join(',')}` : ''}`;
      return [{ kind: 'addresses', addresses: set, display: shown }];
    }
    const namespace = str(e.namespace);
    if (!namespace) return 'an endpoint needs a namespace (pods) or a cidr (addresses)';
    const labels = e.pods === undefined ? undefined : stringMap(e.pods);
    if (this.namespaces.has(namespace)) {
      const matching = this.workloads.filter(
        (w) =>
          w.endpoint.namespace === namespace &&
          Object.entries(labels ?? {}).every(([k, v]) => w.endpoint.labels?.[k] === v),
      );
      if (matching.length === 0) {
        return `no pod template in namespace "${namespace}" has the labels ${formatLabels(labels ?? {})}`;
      }
      return matching.map((w) => w.endpoint);
    }
    return [
      {
        kind: 'pods',
        namespace,
        labels,
        namespaceLabels: this.namespaceLabels(namespace),
        containers: undefined,
        display: `${namespace}/${labels ? `{${formatLabels(labels)}}` : '*'}`,
      },
    ];
  }
}

function formatLabels(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export interface NetworkCheck {
  readonly findings: Finding[];
  readonly flows: Flow[];
}

/** Checks one folder (a set of manifests applied together). */
export function checkNetwork(docs: readonly LoadedDoc[]): NetworkCheck {
  const network = new Network(docs);
  const policies = loadPolicies(docs);
  const findings: Finding[] = [...defaultDenyFindings(network, policies)];
  const flows: Flow[] = [];
  for (const w of network.workloads) {
    const raw = str(obj(w.metadata.annotations)?.[CONNECTIONS_ANNOTATION]);
    if (raw === undefined) continue;
    let declared: unknown;
    try {
      declared = JSON.parse(raw);
    } catch (error) {
      findings.push(
        finding(w.d, `${CONNECTIONS_ANNOTATION} is not JSON: ${(error as Error).message}`),
      );
      continue;
    }
    if (!Array.isArray(declared)) {
      findings.push(finding(w.d, `${CONNECTIONS_ANNOTATION} must be a JSON list of connections`));
      continue;
    }
    declared.forEach((entry: unknown, i: number) => {
      const result = evaluateDeclared(network, policies, w, obj(entry));
      if (typeof result === 'string') {
        findings.push(finding(w.d, `${CONNECTIONS_ANNOTATION}[${i}]: ${result}`));
        return;
      }
      for (const flow of result) {
        flows.push(flow);
        if (!flow.allowed) findings.push(finding(w.d, deniedMessage(flow)));
      }
    });
  }
  return { findings, flows };
}

function evaluateDeclared(
  network: Network,
  policies: readonly Policy[],
  w: Workload,
  entry: Obj | undefined,
): Flow[] | string {
  if (!entry || (entry.to === undefined) === (entry.from === undefined)) {
    return 'each connection needs exactly one of "to" and "from"';
  }
  const protocol = entry.protocol ?? 'TCP';
  if (typeof protocol !== 'string' || !PROTOCOLS.includes(protocol)) {
    return `protocol ${JSON.stringify(protocol)} must be one of ${PROTOCOLS.join(', ')}`;
  }
  const port = entry.port;
  const numeric = typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535;
  if (!numeric && !(typeof port === 'string' && PORT_NAME.test(port))) {
    return `port ${JSON.stringify(port)} must be a number from 1 to 65535 or a container port name`;
  }
  const others = network.resolve(entry.to ?? entry.from);
  if (typeof others === 'string') return others;
  const purpose = str(entry.purpose) ?? '';
  const flows: Flow[] = [];
  for (const other of others) {
    const [source, destination] =
      entry.to !== undefined ? [w.endpoint, other] : [other, w.endpoint];
    const number = numeric ? (port as number) : namedPort(destination, port as string, protocol);
    if (number === undefined) {
      return `port "${String(port)}" is not a ${protocol} container port of ${destination.display}${destination.kind === 'pods' && destination.containers ? '' : ' (name ports only of pods this folder defines)'}`;
    }
    const p = { port: number, protocol };
    const egress = side(network, policies, 'Egress', source, destination, p);
    const ingress = side(network, policies, 'Ingress', destination, source, p);
    flows.push({
      d: w.d,
      source,
      destination,
      port: number,
      portName: numeric ? undefined : (port as string),
      protocol,
      purpose,
      egress,
      ingress,
      allowed: (egress?.allowed ?? true) && (ingress?.allowed ?? true),
    });
  }
  return flows;
}

function side(
  network: Network,
  policies: readonly Policy[],
  direction: Direction,
  subject: Endpoint,
  peer: Endpoint,
  port: { port: number; protocol: string },
): SideVerdict | undefined {
  // Outside the folder there is nothing to check: its policies are not here.
  if (subject.kind !== 'pods') return undefined;
  const known =
    network.namespaces.has(subject.namespace) ||
    policies.some((p) => p.namespace === subject.namespace);
  if (!known) return undefined;
  return evaluateSide(policies, direction, subject, peer, port);
}

function defaultDenyFindings(network: Network, policies: readonly Policy[]): Finding[] {
  const findings: Finding[] = [];
  const namespaces = [...new Set(network.workloads.map((w) => w.endpoint.namespace))];
  for (const namespace of namespaces) {
    const missing = (['Ingress', 'Egress'] as const).filter(
      (direction) => !defaultDenyPolicy(policies, namespace, direction),
    );
    if (missing.length === 0) continue;
    const at =
      network.namespaceDocs.get(namespace) ??
      network.workloads.find((w) => w.endpoint.namespace === namespace)!.d;
    findings.push(
      finding(
        at,
        `namespace "${namespace}" runs pods but has no default-deny NetworkPolicy for ${missing.join(' and ')} (podSelector: {}, policyTypes: [${missing.join(', ')}], no rules): every pod there is open to every connection`,
      ),
    );
  }
  return findings;
}

function portText(flow: Flow): string {
  return `${flow.protocol}/${flow.port}${flow.portName ? ` (${flow.portName})` : ''}`;
}

function sideText(verdict: SideVerdict | undefined, what: string, end: Endpoint): string {
  if (!verdict)
    return `${what}: ${end.kind === 'pods' ? 'not in this folder' : 'addresses, no pod'}`;
  if (verdict.isolatedBy.length === 0) return `${what}: not isolated`;
  const names = (list: readonly string[]) => list.map((n) => `NetworkPolicy/${n}`).join(', ');
  if (verdict.allowed) return `${what}: ${names(verdict.allowedBy)}`;
  const partly = verdict.allowedBy.length > 0 ? ` (${names(verdict.allowedBy)} only partly)` : '';
  return `${what}: DENIED, isolated by ${names(verdict.isolatedBy)} and no rule allows it${partly}`;
}

/** `flow <src> -> <dst> <proto>/<port>: allowed|DENIED (egress: ...; ingress: ...) [purpose]`. */
export function flowMessage(flow: Flow): string {
  return `flow ${flow.source.display} -> ${flow.destination.display} ${portText(flow)}: ${
    flow.allowed ? 'allowed' : 'DENIED'
  } (${sideText(flow.egress, 'egress', flow.source)}; ${sideText(flow.ingress, 'ingress', flow.destination)})${
    flow.purpose ? ` [${flow.purpose}]` : ''
  }`;
}

function deniedMessage(flow: Flow): string {
  const sides = [
    flow.egress && !flow.egress.allowed ? sideText(flow.egress, 'egress', flow.source) : undefined,
    flow.ingress && !flow.ingress.allowed
      ? sideText(flow.ingress, 'ingress', flow.destination)
      : undefined,
  ].filter((s) => s !== undefined);
  return `needed connection ${flow.source.display} -> ${flow.destination.display} ${portText(flow)}${
    flow.purpose ? ` (${flow.purpose})` : ''
  } is denied: ${sides.join('; ')}`;
}

/** The flow lines of `--flows`, in finding format. */
export function flowFindings(flows: readonly Flow[]): Finding[] {
  return flows.map((f) => finding(f.d, flowMessage(f)));
}
