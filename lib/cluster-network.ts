import { IConstruct } from 'constructs';
import { AddressSet, nthAddress, parseCidr } from './cidr';
import { canonicalAddress } from './cluster-nodes';
import { InvalidPropError } from './errors';
import { NetworkPeer, resolveCidr } from './network-peer';

/** k3s' default `cluster-cidr`: the pods' addresses. */
export const K3S_DEFAULT_CLUSTER_CIDR = '10.42.0.0/16';
/** k3s' default `service-cidr`: the Services' ClusterIPs. */
export const K3S_DEFAULT_SERVICE_CIDR = '10.43.0.0/16';
/** CoreDNS as k3s deploys it: the `kube-dns` Service's pods. */
export const K3S_DNS: NetworkPeer = {
  namespace: 'kube-system',
  podLabels: { 'k8s-app': 'kube-dns' },
};

/**
 * What NetworkPolicies need to know about the cluster's network: which
 * addresses are the cluster's own, where DNS and the Kubernetes API are.
 * {@link K3sCluster.network} gives the facts of the k3s cluster it configures.
 */
export interface ClusterNetwork {
  /** The pods' addresses (k3s `cluster-cidr`). */
  readonly podCidr: string;
  /** The Services' ClusterIPs (k3s `service-cidr`). */
  readonly serviceCidr: string;
  /**
   * The `kubernetes` Service's ClusterIP: the API server always takes the
   * first address of the service range (10.43.0.1 on k3s).
   */
  readonly kubernetesServiceIp: string;
  /**
   * The API servers' own addresses: the k3s servers' node addresses. Traffic to
   * the `kubernetes` Service is rewritten to them before k3s' policy
   * controller sees it, so a policy must allow them too.
   */
  readonly apiServerAddresses: readonly string[];
  /** The API servers' port (6443 on k3s). */
  readonly apiServerPort: number;
  /** The cluster DNS pods (UDP and TCP 53). */
  readonly dns: NetworkPeer;
}

/** k3s' network with the given ranges; the API servers only when known. */
export function k3sNetwork(
  options: {
    podCidr?: string;
    serviceCidr?: string;
    apiServerAddresses?: readonly string[];
    apiServerPort?: number;
  } = {},
): ClusterNetwork {
  const serviceCidr = options.serviceCidr ?? K3S_DEFAULT_SERVICE_CIDR;
  return {
    podCidr: options.podCidr ?? K3S_DEFAULT_CLUSTER_CIDR,
    serviceCidr,
    kubernetesServiceIp: nthAddress(parseCidr(serviceCidr)!, 1),
    apiServerAddresses: [...(options.apiServerAddresses ?? [])],
    apiServerPort: options.apiServerPort ?? 6443,
    dns: K3S_DNS,
  };
}

/** Validates a ClusterNetwork prop (one built by hand; K3sCluster's is valid). */
export function resolveClusterNetwork(
  scope: IConstruct,
  prop: string,
  value: ClusterNetwork | undefined,
): ClusterNetwork {
  if (value === undefined) return k3sNetwork();
  if (typeof value !== 'object' || value === null) {
    throw new InvalidPropError(scope, prop, value, 'a ClusterNetwork (K3sCluster.network)');
  }
  const pods = parseCidr(resolveCidr(scope, `${prop}.podCidr`, value.podCidr))!;
  const services = parseCidr(resolveCidr(scope, `${prop}.serviceCidr`, value.serviceCidr))!;
  if (AddressSet.of(pods).intersects(AddressSet.of(services))) {
    throw new InvalidPropError(
      scope,
      `${prop}.serviceCidr`,
      value.serviceCidr,
      `a range that does not overlap podCidr ${value.podCidr}`,
    );
  }
  const expected = nthAddress(services, 1);
  if (value.kubernetesServiceIp !== expected) {
    throw new InvalidPropError(
      scope,
      `${prop}.kubernetesServiceIp`,
      value.kubernetesServiceIp,
      `the first address of serviceCidr, ${expected}`,
    );
  }
  const addresses = Array.isArray(value.apiServerAddresses)
    ? value.apiServerAddresses
    : [undefined];
  addresses.forEach((a, i) => {
    if (canonicalAddress(a) !== a) {
      throw new InvalidPropError(
        scope,
        `${prop}.apiServerAddresses[${i}]`,
        a,
        'an IP address in canonical form',
      );
    }
  });
  const port = value.apiServerPort;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidPropError(scope, `${prop}.apiServerPort`, port, 'an integer from 1 to 65535');
  }
  return value;
}
