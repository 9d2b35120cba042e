import { Lazy } from 'cdk8s';
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import {
  KubeNetworkPolicy,
  NetworkPolicyEgressRule,
  NetworkPolicyIngressRule,
} from '../imports/k8s';
import { CONNECTIONS_ANNOTATION, DeclaredConnection, formatConnections } from './connections';
import { InvalidPropError } from './errors';
import { isLabelKey, isLabelValue } from './labels';
import { isDnsLabel } from './names';
import {
  endpointOf,
  NetworkPeer,
  NetworkPort,
  policyPeer,
  policyPorts,
  ResolvedPeer,
  resolvePeer,
  resolvePorts,
} from './network-peer';

export interface PodNetworkPolicyProps {
  /** The policy's name: the workload's. */
  readonly name: string;
  readonly namespace: string;
  /** Labels that select exactly the workload's pods (its selector). */
  readonly podLabels: Readonly<Record<string, string>>;
}

/**
 * The connections one workload's pods need, twice: as a NetworkPolicy that
 * allows them (on top of the namespace's {@link DefaultDenyPolicy}), and
 * declared on the workload ({@link declareOn}) in the
 * `manifests.sophia.ai/connections` annotation, for `npm run validate` to
 * prove against every policy of the output. Rules are added by the
 * constructs that know the need ({@link allowTo}, {@link allowFrom},
 * {@link connectTo}). Define it before its workload: `kubectl apply` then
 * creates the policy before the pods that need it.
 */
export class PodNetworkPolicy extends Construct {
  public readonly namespace: string;
  /** These pods, as a peer of other policies. */
  public readonly pods: NetworkPeer;
  public readonly policy: KubeNetworkPolicy;
  private readonly ingress: NetworkPolicyIngressRule[] = [];
  private readonly egress: NetworkPolicyEgressRule[] = [];
  private readonly declared: DeclaredConnection[] = [];
  private workload: ApiObject | undefined;

  constructor(scope: Construct, id: string, props: PodNetworkPolicyProps) {
    super(scope, id);
    if (!isDnsLabel(props.name)) {
      throw new InvalidPropError(this, 'name', props.name, 'a DNS-1123 label');
    }
    if (!isDnsLabel(props.namespace)) {
      throw new InvalidPropError(this, 'namespace', props.namespace, 'a DNS-1123 label');
    }
    const labels = Object.entries(props.podLabels ?? {});
    if (labels.length === 0 || labels.some(([k, v]) => !isLabelKey(k) || !isLabelValue(v))) {
      throw new InvalidPropError(
        this,
        'podLabels',
        props.podLabels,
        "the workload's selector labels (at least one; an empty selector would be every pod)",
      );
    }
    this.namespace = props.namespace;
    this.pods = { namespace: props.namespace, podLabels: { ...props.podLabels } };

    this.policy = new KubeNetworkPolicy(this, 'Resource', {
      metadata: {
        name: props.name,
        namespace: props.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'cdk8s' },
      },
      spec: Lazy.any({
        produce: () => ({
          podSelector: { matchLabels: { ...props.podLabels } },
          // Both, always: this policy is the whole story of these pods.
          policyTypes: ['Ingress', 'Egress'],
          ingress: this.ingress.length > 0 ? this.ingress : undefined,
          egress: this.egress.length > 0 ? this.egress : undefined,
        }),
      }),
    });
    // Undeclared connections would be unchecked ones.
    this.node.addValidation({
      validate: () =>
        this.workload ? [] : [`${this.node.path}: declareOn(workload) was never called`],
    });
  }

  /** Puts the declared connections on the workload that creates these pods. */
  public declareOn(workload: ApiObject): void {
    if (this.workload) {
      throw new Error(
        `${this.node.path}: connections already declared on ${this.workload.node.path}`,
      );
    }
    this.workload = workload;
    workload.metadata.addAnnotation(
      CONNECTIONS_ANNOTATION,
      Lazy.any({ produce: () => formatConnections(this.declared) }),
    );
  }

  /** The pods need connections to `peers` on `ports`: declared, and allowed here. */
  public allowTo(
    peers: readonly NetworkPeer[],
    ports: readonly NetworkPort[],
    purpose: string,
    prop = 'peer',
  ): void {
    const resolved = this.resolve(peers, prop);
    const p = resolvePorts(this, `${prop}.ports`, ports);
    this.egress.push({
      to: resolved.map((r) => policyPeer(r, this.namespace)),
      ports: policyPorts(p),
    });
    for (const r of resolved) {
      for (const port of p) {
        this.declared.push({
          to: endpointOf(r),
          port: port.port,
          protocol: port.protocol,
          purpose,
        });
      }
    }
  }

  /** The pods need connections from `peers` to their `ports`: declared, and allowed here. */
  public allowFrom(
    peers: readonly NetworkPeer[],
    ports: readonly NetworkPort[],
    purpose: string,
    prop = 'peer',
  ): void {
    const resolved = this.resolve(peers, prop);
    this.admit(resolved, ports, prop);
    for (const r of resolved) {
      for (const port of resolvePorts(this, `${prop}.ports`, ports)) {
        this.declared.push({
          from: endpointOf(r),
          port: port.port,
          protocol: port.protocol,
          purpose,
        });
      }
    }
  }

  /**
   * These pods need `other`'s pods on `ports`: declared here, allowed here
   * (egress) and there (ingress).
   */
  public connectTo(other: PodNetworkPolicy, ports: readonly NetworkPort[], purpose: string): void {
    this.allowTo([other.pods], ports, purpose);
    other.admit(this.resolve([this.pods], 'pods'), ports, 'ports');
  }

  private admit(peers: readonly ResolvedPeer[], ports: readonly NetworkPort[], prop: string): void {
    const p = resolvePorts(this, `${prop}.ports`, ports);
    this.ingress.push({
      from: peers.map((r) => policyPeer(r, this.namespace)),
      ports: policyPorts(p),
    });
  }

  private resolve(peers: readonly NetworkPeer[], prop: string): ResolvedPeer[] {
    if (!Array.isArray(peers) || peers.length === 0) {
      throw new InvalidPropError(this, prop, peers, 'a non-empty list of NetworkPeers');
    }
    return peers.map((peer, i) => resolvePeer(this, `${prop}[${i}]`, peer, this.namespace));
  }
}
