import { Construct, IConstruct } from 'constructs';
import { KubeNetworkPolicy } from '../imports/k8s';
import { InvalidPropError } from './errors';
import { isDnsLabel } from './names';

export interface DefaultDenyPolicyProps {
  /** The namespace whose pods get no connection that another policy does not allow. */
  readonly namespace: string;
  /**
   * The policy's name.
   * @default 'default-deny'
   */
  readonly name?: string;
}

/**
 * A NetworkPolicy that selects every pod of a namespace for Ingress and
 * Egress and allows nothing: from then on a pod has exactly the connections
 * that the other policies of its namespace allow (k3s enforces policies out
 * of the box). One per namespace and App.
 */
export class DefaultDenyPolicy extends Construct {
  private static readonly namespaces = new WeakMap<IConstruct, Map<string, string>>();

  public readonly namespace: string;
  public readonly policy: KubeNetworkPolicy;

  constructor(scope: Construct, id: string, props: DefaultDenyPolicyProps) {
    super(scope, id);
    const namespace = props.namespace;
    if (!isDnsLabel(namespace)) {
      throw new InvalidPropError(this, 'namespace', namespace, 'a namespace name (DNS-1123 label)');
    }
    const name = props.name ?? 'default-deny';
    if (!isDnsLabel(name)) {
      throw new InvalidPropError(this, 'name', name, 'a DNS-1123 label');
    }
    // Two in one namespace would be the same object twice in the output.
    const root = this.node.root;
    const seen = DefaultDenyPolicy.namespaces.get(root) ?? new Map<string, string>();
    DefaultDenyPolicy.namespaces.set(root, seen);
    const other = seen.get(namespace);
    if (other !== undefined) {
      throw new InvalidPropError(
        this,
        'namespace',
        namespace,
        `a namespace without a default deny yet: ${other} already denies in it`,
      );
    }
    seen.set(namespace, this.node.path);
    this.namespace = namespace;

    this.policy = new KubeNetworkPolicy(this, 'Resource', {
      metadata: {
        name,
        namespace,
        labels: { 'app.kubernetes.io/managed-by': 'cdk8s' },
      },
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    });
  }
}
