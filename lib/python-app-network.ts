import { Construct } from 'constructs';
import { AddressSet, parseCidr } from './cidr';
import { ClusterNetwork, resolveClusterNetwork } from './cluster-network';
import { InvalidPropError } from './errors';
import { EgressRule, NetworkPeer, NetworkPort, resolvePeer, resolvePorts } from './network-peer';
import { FixedPythonAppProps } from './python-app-props';

/** One egress need of the app: peers, ports and why. */
export interface AppEgress {
  readonly peers: readonly NetworkPeer[];
  readonly ports: readonly NetworkPort[];
  readonly purpose: string;
}

/** FixedPythonApp's network props, validated, and the connections derived from them. */
export interface AppNetworkSpec {
  readonly cluster: ClusterNetwork;
  /** Who may connect to the app's port, besides constructs that add themselves (the monitor). */
  readonly ingressFrom: readonly NetworkPeer[];
  /** DNS, the package index (unless an egressTo rule is it), then egressTo. */
  readonly egress: readonly AppEgress[];
}

// `<service>.<namespace>.svc[.cluster.local]`: an in-cluster Service name.
const SERVICE_HOST =
  /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(\.cluster\.local)?$/;

/**
 * Validates `ingressFrom`, `egressTo` and `clusterNetwork`, and works out
 * where pip's index is: outside the cluster (any address but the pod and
 * Service ranges, on the URL's port or 443 and 80), or, for an in-cluster
 * `pipIndexUrl`, the pods an `egressTo` rule must name.
 */
export function resolveAppNetwork(
  scope: Construct,
  props: FixedPythonAppProps,
  namespace: string,
): AppNetworkSpec {
  const cluster = resolveClusterNetwork(scope, 'clusterNetwork', props.clusterNetwork);
  const ingressFrom = props.ingressFrom ?? [];
  if (!Array.isArray(ingressFrom)) {
    throw new InvalidPropError(scope, 'ingressFrom', ingressFrom, 'a list of NetworkPeers');
  }
  ingressFrom.forEach((peer, i) => resolvePeer(scope, `ingressFrom[${i}]`, peer, namespace));
  const egressTo: readonly EgressRule[] = props.egressTo ?? [];
  if (!Array.isArray(egressTo)) {
    throw new InvalidPropError(scope, 'egressTo', egressTo, 'a list of { peer, ports, purpose? }');
  }
  const extra = egressTo.map((rule, i): AppEgress => {
    const peer = resolvePeer(scope, `egressTo[${i}].peer`, rule?.peer, namespace);
    resolvePorts(scope, `egressTo[${i}].ports`, rule.ports);
    if (rule.purpose !== undefined && (typeof rule.purpose !== 'string' || rule.purpose === '')) {
      throw new InvalidPropError(scope, `egressTo[${i}].purpose`, rule.purpose, 'a short text');
    }
    return {
      peers: [
        peer.kind === 'pods' ? { namespace: peer.namespace, podLabels: peer.podLabels } : rule.peer,
      ],
      ports: rule.ports,
      purpose: rule.purpose ?? 'egressTo',
    };
  });

  const index = packageIndex(scope, props.pipIndexUrl, namespace, cluster, extra);
  return {
    cluster,
    ingressFrom,
    egress: [
      {
        peers: [cluster.dns],
        ports: [
          { port: 53, protocol: 'UDP' },
          { port: 53, protocol: 'TCP' },
        ],
        purpose: 'DNS lookups',
      },
      ...(index ? [index] : []),
      ...extra,
    ],
  };
}

function packageIndex(
  scope: Construct,
  pipIndexUrl: string | undefined,
  namespace: string,
  cluster: ClusterNetwork,
  egressTo: readonly AppEgress[],
): AppEgress | undefined {
  const url = new URL(pipIndexUrl ?? 'https://pypi.org/simple/');
  const host = url.hostname.replace(/\.$/, '');
  const service = SERVICE_HOST.exec(host);
  const inClusterNamespace = service ? service[2] : host.includes('.') ? undefined : namespace;
  if (inClusterNamespace !== undefined) {
    // A Service's port is not what a NetworkPolicy sees (it sees the pod's),
    // and its pods' labels are not in the URL: egressTo must name them.
    const named = egressTo.some((rule) =>
      rule.peers.some(
        (p) => p.cidr === undefined && (p.namespace ?? namespace) === inClusterNamespace,
      ),
    );
    if (!named) {
      throw new InvalidPropError(
        scope,
        'egressTo',
        egressTo,
        `a rule for the pods behind the in-cluster pipIndexUrl ${pipIndexUrl}: { peer: { namespace: '${inClusterNamespace}', podLabels: { ... } }, ports: [{ port: <their container port> }] }`,
      );
    }
    return undefined;
  }
  const address = parseCidr(host.replace(/^\[|\]$/g, ''));
  const own = AddressSet.of(parseCidr(cluster.podCidr)!).union(
    AddressSet.of(parseCidr(cluster.serviceCidr)!),
  );
  if (address && own.intersects(AddressSet.of(address))) {
    throw new InvalidPropError(
      scope,
      'pipIndexUrl',
      pipIndexUrl,
      'an in-cluster index by its Service name (<service>.<namespace>.svc), not a pod or Service address',
    );
  }
  const v4 = parseCidr(cluster.podCidr)!.family === 4;
  const everywhere = v4 ? '0.0.0.0/0' : '::/0';
  // Link-local holds the cloud's instance metadata service (169.254.169.254),
  // which hands out the node's credentials: pip never needs it.
  const linkLocal = v4 ? '169.254.0.0/16' : 'fe80::/10';
  const ports = url.port !== '' ? [{ port: Number(url.port) }] : [{ port: 443 }, { port: 80 }];
  return {
    peers: [{ cidr: everywhere, except: [cluster.podCidr, cluster.serviceCidr, linkLocal] }],
    ports,
    purpose: `pip: the package index ${url.host}`,
  };
}
