// The connections a workload's pods need, declared on the workload for
// `npm run validate` to prove against the NetworkPolicies (see
// docs/network-policies.md). Plain data and no cdk8s: the validator reads the
// same definitions.

/** The annotation on a workload (Deployment, Job, DaemonSet, Pod) that lists its pods' connections. */
export const CONNECTIONS_ANNOTATION = 'manifests.sophia.ai/connections';

/** Pods of a namespace: those with `pods` as labels, or any pod when `pods` is absent. */
export interface PodsEndpoint {
  readonly namespace: string;
  readonly pods?: Readonly<Record<string, string>>;
}

/** Every address of `cidr` but those in `except` (a single address is a /32 or /128). */
export interface AddressesEndpoint {
  readonly cidr: string;
  readonly except?: readonly string[];
}

export type ConnectionEndpoint = PodsEndpoint | AddressesEndpoint;

/**
 * One connection, one port: from the workload's pods `to` an endpoint, or
 * `from` an endpoint to them. `port` is the destination pod's port (a
 * number, or a container port name of a destination the folder defines).
 */
export interface DeclaredConnection {
  readonly to?: ConnectionEndpoint;
  readonly from?: ConnectionEndpoint;
  readonly port: number | string;
  /** @default 'TCP' */
  readonly protocol?: string;
  /** Why the pods need it, for people reading the flows. */
  readonly purpose: string;
}

/**
 * The annotation's value: a JSON list, one connection per line and keys in a
 * fixed order, so that the YAML stays readable and diffs stay small.
 */
export function formatConnections(connections: readonly DeclaredConnection[]): string {
  if (connections.length === 0) return '[]';
  const lines = connections.map((c) =>
    JSON.stringify({
      ...(c.to ? { to: endpointJson(c.to) } : {}),
      ...(c.from ? { from: endpointJson(c.from) } : {}),
      port: c.port,
      protocol: c.protocol ?? 'TCP',
      purpose: c.purpose,
    }),
  );
  return `[\n  ${lines.join(',\n  ')}\n]`;
}

function endpointJson(e: ConnectionEndpoint): ConnectionEndpoint {
  if ('cidr' in e)
    return e.except?.length ? { cidr: e.cidr, except: [...e.except] } : { cidr: e.cidr };
  return e.pods ? { namespace: e.namespace, pods: { ...e.pods } } : { namespace: e.namespace };
}
