import { Construct } from 'constructs';
import { ClusterNetwork, resolveClusterNetwork } from './cluster-network';
import { InvalidPropError, warn } from './errors';
import { FixedPythonApp } from './fixed-python-app';
import { NetworkPeer, resolvePeer } from './network-peer';
import { PodNetworkPolicy } from './pod-network-policy';

/** What the DebugMonitor's NetworkPolicy is made of (its props, validated here). */
export interface DebugMonitorNetworkOptions {
  readonly name: string;
  readonly podLabels: Readonly<Record<string, string>>;
  readonly target: FixedPythonApp;
  readonly metricsPort: number;
  readonly scrapeFrom?: readonly NetworkPeer[];
  readonly clusterNetwork?: ClusterNetwork;
}

/**
 * The monitor's connections: to the target's pods on its port (and the
 * target admits them), DNS, the Kubernetes API; in, Prometheus on the
 * metrics port. Errors name `monitor`'s path and its props.
 */
export function debugMonitorNetworkPolicy(
  monitor: Construct,
  options: DebugMonitorNetworkOptions,
): PodNetworkPolicy {
  const { target } = options;
  const namespace = target.namespace;
  const scrapeFrom = options.scrapeFrom ?? [{ namespace: 'monitoring' }];
  if (!Array.isArray(scrapeFrom) || scrapeFrom.length === 0) {
    throw new InvalidPropError(
      monitor,
      'scrapeFrom',
      scrapeFrom,
      'a non-empty list of NetworkPeers (whoever scrapes the metrics)',
    );
  }
  scrapeFrom.forEach((p, i) => resolvePeer(monitor, `scrapeFrom[${i}]`, p, namespace));
  const network = resolveClusterNetwork(monitor, 'clusterNetwork', options.clusterNetwork);

  const policy = new PodNetworkPolicy(monitor, 'NetworkPolicy', {
    name: options.name,
    namespace,
    podLabels: options.podLabels,
  });
  policy.connectTo(target.networkPolicy, [{ port: target.port }], 'health checks');
  policy.allowTo(
    [network.dns],
    [
      { port: 53, protocol: 'UDP' },
      { port: 53, protocol: 'TCP' },
    ],
    'DNS lookups',
  );
  // The diagnosis reads pods and events through the `kubernetes` Service,
  // whose address k3s rewrites to an API server's before its policy
  // controller looks: both must be allowed.
  policy.allowTo(
    [{ cidr: network.kubernetesServiceIp }],
    [{ port: 443 }],
    'Kubernetes API (the kubernetes Service)',
  );
  if (network.apiServerAddresses.length > 0) {
    policy.allowTo(
      network.apiServerAddresses.map((cidr) => ({ cidr })),
      [{ port: network.apiServerPort }],
      'Kubernetes API (the API servers)',
    );
  } else {
    warn(
      monitor,
      'clusterNetwork has no API server addresses: the NetworkPolicy allows only the kubernetes Service IP, and on k3s the diagnosis cannot reach the API. Pass K3sCluster.network.',
    );
  }
  policy.allowFrom(
    scrapeFrom,
    [{ port: options.metricsPort }],
    'Prometheus scrapes /metrics',
    'scrapeFrom',
  );
  return policy;
}
