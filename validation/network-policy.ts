// NetworkPolicy semantics (networking.k8s.io/v1), as the Kubernetes
// documentation and API define them, for one connection at a time:
//  - a pod is isolated for a direction once any policy of its namespace
//    selects it (podSelector) and lists that direction in policyTypes;
//    policyTypes defaults to Ingress, plus Egress when `egress` has rules;
//  - an isolated pod's connection is allowed when a rule of any of those
//    policies allows it: a rule without `from`/`to` (or with an empty list)
//    allows every peer, one without `ports` every port;
//  - a peer is an ipBlock (cidr minus except), or pods: podSelector alone
//    means pods of the policy's namespace, namespaceSelector alone every pod
//    of the matching namespaces, both in one peer their intersection;
//  - a port is a number (with endPort, a range) or a name, looked up among the
//    destination pod's container ports; protocol defaults to TCP.
// Pods are never matched by ipBlocks and addresses never by selectors: which
// pod IPs an ipBlock matches depends on the network plugin, so this check
// proves a connection only with what every implementation guarantees.
import { AddressSet, parseCidr } from '../lib/cidr';
import { parseSelector, selectorMatches, selectsAll, type Selector } from './label-selector';
import { namespaceOf, obj, objs, str, type LoadedDoc, type Obj } from './util';

export type Direction = 'Ingress' | 'Egress';

/** Pods with these labels (or any pod, `labels` undefined) in a namespace. */
export interface PodEndpoint {
  readonly kind: 'pods';
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>> | undefined;
  /** The namespace's labels, `kubernetes.io/metadata.name` included. */
  readonly namespaceLabels: Readonly<Record<string, string>>;
  /** The pod's containers, when the folder defines it: named ports resolve on them. */
  readonly containers: readonly Obj[] | undefined;
  readonly display: string;
}

/** Every address of a set: an external service, the API server, a range. */
export interface AddressEndpoint {
  readonly kind: 'addresses';
  readonly addresses: AddressSet;
  readonly display: string;
}

export type Endpoint = PodEndpoint | AddressEndpoint;

export interface Port {
  readonly port: number;
  readonly protocol: string;
}

interface PolicyPort {
  readonly protocol: string;
  /** Absent: every port of the protocol. */
  readonly port?: number | string;
  readonly endPort?: number;
}

interface Peer {
  readonly podSelector?: Selector;
  readonly namespaceSelector?: Selector;
  readonly ipBlock?: AddressSet;
}

interface Rule {
  /** Undefined: every peer. */
  readonly peers: readonly Peer[] | undefined;
  /** Undefined: every port. */
  readonly ports: readonly PolicyPort[] | undefined;
}

export interface Policy {
  readonly d: LoadedDoc;
  readonly name: string;
  readonly namespace: string;
  readonly podSelector: Selector;
  readonly types: ReadonlySet<Direction>;
  readonly rules: Readonly<Record<Direction, readonly Rule[]>>;
}

/** The NetworkPolicies among `docs`, with the API server's defaults applied. */
export function loadPolicies(docs: readonly LoadedDoc[]): Policy[] {
  const policies: Policy[] = [];
  for (const d of docs) {
    const o = obj(d.doc);
    if (str(o?.apiVersion) !== 'networking.k8s.io/v1' || str(o?.kind) !== 'NetworkPolicy') continue;
    const spec = obj(o?.spec) ?? {};
    const ingress = objs(spec.ingress).map((r) => parseRule(r, 'from'));
    const egress = objs(spec.egress).map((r) => parseRule(r, 'to'));
    const listed = Array.isArray(spec.policyTypes)
      ? spec.policyTypes.filter((t): t is Direction => t === 'Ingress' || t === 'Egress')
      : [];
    // SetDefaults_NetworkPolicySpec: Ingress always, Egress when it has rules.
    const types: Direction[] =
      Array.isArray(spec.policyTypes) && spec.policyTypes.length > 0
        ? listed
        : ['Ingress', ...(egress.length > 0 ? (['Egress'] as const) : [])];
    policies.push({
      d,
      name: str(obj(o?.metadata)?.name) ?? '?',
      namespace: namespaceOf(o),
      // A missing podSelector is rejected by the API; as {} it would select all.
      podSelector: parseSelector(spec.podSelector) ?? { matchLabels: {}, matchExpressions: [] },
      types: new Set(types),
      rules: { Ingress: ingress, Egress: egress },
    });
  }
  return policies;
}

function parseRule(rule: Obj, peersKey: 'from' | 'to'): Rule {
  const rawPeers = rule[peersKey];
  const rawPorts = rule.ports;
  return {
    peers:
      Array.isArray(rawPeers) && rawPeers.length > 0 ? objs(rawPeers).map(parsePeer) : undefined,
    ports:
      Array.isArray(rawPorts) && rawPorts.length > 0
        ? objs(rawPorts).map((p) => ({
            protocol: str(p.protocol) ?? 'TCP',
            port: typeof p.port === 'number' || typeof p.port === 'string' ? p.port : undefined,
            endPort: typeof p.endPort === 'number' ? p.endPort : undefined,
          }))
        : undefined,
  };
}

function parsePeer(peer: Obj): Peer {
  const block = obj(peer.ipBlock);
  if (block) {
    const cidr = parseCidr(block.cidr);
    const except = (Array.isArray(block.except) ? block.except : [])
      .map(parseCidr)
      .filter((c) => c !== undefined);
    return { ipBlock: cidr ? AddressSet.of(cidr, except) : AddressSet.EMPTY };
  }
  return {
    podSelector: parseSelector(peer.podSelector),
    namespaceSelector: parseSelector(peer.namespaceSelector),
  };
}

/** Whether a pod peer of a policy in `policyNamespace` matches the pods of `endpoint`. */
function peerMatchesPods(peer: Peer, policyNamespace: string, endpoint: PodEndpoint): boolean {
  if (peer.ipBlock) return false;
  if (!peer.podSelector && !peer.namespaceSelector) return false;
  const namespaceOk = peer.namespaceSelector
    ? selectorMatches(peer.namespaceSelector, endpoint.namespaceLabels)
    : endpoint.namespace === policyNamespace;
  if (!namespaceOk || !peer.podSelector) return namespaceOk;
  // "Any pod" is allowed only by a selector that selects every pod.
  return endpoint.labels === undefined
    ? selectsAll(peer.podSelector)
    : selectorMatches(peer.podSelector, endpoint.labels);
}

/** Whether a rule's ports let `port` through to `destination`. */
function portsMatch(
  ports: readonly PolicyPort[] | undefined,
  port: Port,
  destination: Endpoint,
): boolean {
  if (ports === undefined) return true;
  return ports.some((p) => {
    if (p.protocol !== port.protocol) return false;
    if (p.port === undefined) return true;
    if (typeof p.port === 'number') {
      return p.endPort !== undefined
        ? port.port >= p.port && port.port <= p.endPort
        : port.port === p.port;
    }
    return namedPort(destination, p.port, p.protocol) === port.port;
  });
}

/** The number of the container port called `name` on the destination, if it has one. */
export function namedPort(
  destination: Endpoint,
  name: string,
  protocol: string,
): number | undefined {
  if (destination.kind !== 'pods' || !destination.containers) return undefined;
  for (const c of destination.containers) {
    for (const p of objs(c.ports)) {
      if (p.name === name && (str(p.protocol) ?? 'TCP') === protocol) {
        return typeof p.containerPort === 'number' ? p.containerPort : undefined;
      }
    }
  }
  return undefined;
}

/** One side of a connection: the source's egress or the destination's ingress. */
export interface SideVerdict {
  readonly allowed: boolean;
  /** Policies that select the pod for this direction (empty: not isolated). */
  readonly isolatedBy: readonly string[];
  /** Policies whose rules allow the connection (for addresses: together cover them). */
  readonly allowedBy: readonly string[];
}

/**
 * Whether `subject`'s policies let the connection with `peer` through in
 * `direction`: Egress with `subject` as the source, Ingress as the
 * destination.
 */
export function evaluateSide(
  policies: readonly Policy[],
  direction: Direction,
  subject: PodEndpoint,
  peer: Endpoint,
  port: Port,
): SideVerdict {
  const labels = subject.labels ?? {};
  const selecting = policies.filter(
    (p) =>
      p.namespace === subject.namespace &&
      p.types.has(direction) &&
      selectorMatches(p.podSelector, labels),
  );
  if (selecting.length === 0) return { allowed: true, isolatedBy: [], allowedBy: [] };
  const destination = direction === 'Egress' ? peer : subject;
  const allowedBy: string[] = [];
  let covered = AddressSet.EMPTY;
  for (const policy of selecting) {
    let contributes = false;
    for (const rule of policy.rules[direction]) {
      if (!portsMatch(rule.ports, port, destination)) continue;
      if (peer.kind === 'pods') {
        if (!rule.peers || rule.peers.some((x) => peerMatchesPods(x, policy.namespace, peer))) {
          contributes = true;
        }
        continue;
      }
      // Addresses: the union of the rules' blocks must cover every one of them.
      const blocks =
        rule.peers === undefined
          ? [peer.addresses]
          : rule.peers.flatMap((x) => (x.ipBlock ? [x.ipBlock] : []));
      for (const block of blocks) {
        if (!block.intersects(peer.addresses)) continue;
        covered = covered.union(block);
        contributes = true;
      }
    }
    if (contributes) allowedBy.push(policy.name);
  }
  const allowed = peer.kind === 'pods' ? allowedBy.length > 0 : covered.covers(peer.addresses);
  return {
    allowed,
    isolatedBy: selecting.map((p) => p.name),
    allowedBy,
  };
}

/**
 * Whether a namespace is default-deny for `direction`: some policy selects
 * every pod (`podSelector: {}`) for it and allows nothing in it.
 */
export function defaultDenyPolicy(
  policies: readonly Policy[],
  namespace: string,
  direction: Direction,
): Policy | undefined {
  return policies.find(
    (p) =>
      p.namespace === namespace &&
      selectsAll(p.podSelector) &&
      p.types.has(direction) &&
      p.rules[direction].length === 0,
  );
}
