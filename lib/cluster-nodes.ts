import { isIP } from 'net';
import { IConstruct } from 'constructs';
import { InvalidPropError } from './errors';
import { DNS_1123_LABEL } from './names';

/** The CPU architecture of a node, as the `kubernetes.io/arch` label spells it. */
export enum CpuArchitecture {
  AMD64 = 'amd64',
  /** Also Grace (GH200) and other aarch64 servers. */
  ARM64 = 'arm64',
}

/** What a node runs in the k3s cluster. */
export enum NodeRole {
  /**
   * A k3s server: API server, scheduler, controllers and an embedded etcd
   * member; it also runs pods like an agent. The first server runs
   * `cluster-init`.
   */
  SERVER = 'server',
  /** A k3s agent: kubelet and containerd only; joins through a server. */
  AGENT = 'agent',
}

/** A machine of the cluster. */
export interface ClusterNode {
  /**
   * The Kubernetes Node name, written as `node-name` into its k3s config: a
   * DNS-1123 label (lowercase letters, digits, "-"; at most 53 characters, so
   * that `gpu-check-<name>` is still a valid Job name).
   */
  readonly name: string;
  /** Its IPv4 or IPv6 address: k3s' `node-ip`, and `tls-san` for a server. */
  readonly address: string;
  /** @default NodeRole.AGENT */
  readonly role?: NodeRole | `${NodeRole}`;
}

/** A validated node. */
export interface ResolvedNode {
  readonly name: string;
  /** The address, IPv6 in its canonical lowercase form. */
  readonly address: string;
  readonly role: NodeRole;
  readonly architecture: CpuArchitecture;
}

/** A node as the k3s configs see it: the node and, for a GPU node, its pool. */
export interface RegisteredNode extends ResolvedNode {
  /** The GPU pool the node belongs to; absent for a server without GPUs. */
  readonly pool?: NodePoolFacts;
  /** The construct that declared the node (for error messages). */
  readonly owner: IConstruct;
}

/** What the k3s configs need to know about a node's GPU pool. */
export interface NodePoolFacts {
  readonly poolName: string;
  readonly gpuProduct: string;
  readonly gpusPerNode: number;
  /** The node labels a pool node must carry (`key=value`). */
  readonly nodeLabels: Readonly<Record<string, string>>;
  /** The taints a pool node must carry (`key=value:Effect`). */
  readonly nodeTaints: readonly string[];
}

/** `gpu-check-` plus the node name must fit a Job name (63). */
export const MAX_NODE_NAME = 53;

/** Validates an architecture given as the enum or its string value. */
export function resolveArchitecture(
  scope: IConstruct,
  prop: string,
  value: unknown,
): CpuArchitecture {
  const allowed = Object.values(CpuArchitecture) as string[];
  if (typeof value !== 'string' || !allowed.includes(value)) {
    throw new InvalidPropError(
      scope,
      prop,
      value,
      `one of ${allowed.map((a) => `"${a}"`).join(', ')} (CpuArchitecture)`,
    );
  }
  return value as CpuArchitecture;
}

/**
 * Validates a list of nodes (names, addresses, roles) and that none repeats a
 * name or an address within the list; the cluster-wide check is
 * {@link NodeRegistry.claim}'s.
 */
export function resolveNodes(
  scope: IConstruct,
  prop: string,
  nodes: unknown,
  architecture: CpuArchitecture,
  options: { allowEmpty?: boolean; defaultRole?: NodeRole } = {},
): ResolvedNode[] {
  if (!Array.isArray(nodes) || (nodes.length === 0 && !options.allowEmpty)) {
    throw new InvalidPropError(
      scope,
      prop,
      nodes,
      'a non-empty list of nodes like { name: "data-pipeline", address: "104.171.202.134" }',
    );
  }
  const resolved: ResolvedNode[] = [];
  nodes.forEach((node: unknown, i: number) => {
    const at = `${prop}[${i}]`;
    if (typeof node !== 'object' || node === null) {
      throw new InvalidPropError(scope, at, node, 'an object { name, address, role? }');
    }
    const { name, address, role } = node as Record<string, unknown>;
    if (typeof name !== 'string' || !DNS_1123_LABEL.test(name) || name.length > MAX_NODE_NAME) {
      throw new InvalidPropError(
        scope,
        `${at}.name`,
        name,
        `a DNS-1123 label: lowercase letters, digits and "-", starting and ending with a letter or digit, at most ${MAX_NODE_NAME} characters`,
      );
    }
    const canonical = canonicalAddress(address);
    if (canonical === undefined) {
      throw new InvalidPropError(
        scope,
        `${at}.address`,
        address,
        'an IPv4 or IPv6 address like "104.171.202.134" (no host name, port or CIDR)',
      );
    }
    const roles = Object.values(NodeRole) as string[];
    const resolvedRole = role ?? options.defaultRole ?? NodeRole.AGENT;
    if (typeof resolvedRole !== 'string' || !roles.includes(resolvedRole)) {
      throw new InvalidPropError(
        scope,
        `${at}.role`,
        role,
        `one of ${roles.map((r) => `"${r}"`).join(', ')} (NodeRole)`,
      );
    }
    const earlier = resolved.find((n) => n.name === name || n.address === canonical);
    if (earlier) {
      const what = earlier.name === name ? 'name' : 'address';
      throw new InvalidPropError(
        scope,
        `${at}.${what}`,
        what === 'name' ? name : address,
        `${what === 'name' ? 'a name' : 'an address'} not already used by another node of the list (${earlier.name}, ${earlier.address})`,
      );
    }
    resolved.push({
      name,
      address: canonical,
      role: resolvedRole as NodeRole,
      architecture,
    });
  });
  return resolved;
}

/** The address in canonical form, or undefined when it is not an IP address. */
export function canonicalAddress(address: unknown): string | undefined {
  if (typeof address !== 'string') return undefined;
  switch (isIP(address)) {
    case 4:
      return address;
    case 6:
      // The URL parser compresses and lowercases IPv6 (`0:0::1` is `::1`).
      return new URL(`http://[${address}]/`).hostname.slice(1, -1);
    default:
      return undefined;
  }
}

/** `host:port`, with IPv6 in brackets. */
export function hostPort(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * Every node declared in one cdk8s App (one cluster's output), so that a name
 * or an address used twice, in two pools or in a pool and a server list, is
 * an error at synth time. Keyed by the construct tree's root: a fresh App (or
 * `Testing.app()`) starts empty.
 */
export class NodeRegistry {
  private static readonly registries = new WeakMap<IConstruct, NodeRegistry>();

  /** The registry of the App `scope` belongs to. */
  public static of(scope: IConstruct): NodeRegistry {
    const root = scope.node.root;
    let registry = NodeRegistry.registries.get(root);
    if (!registry) {
      registry = new NodeRegistry();
      NodeRegistry.registries.set(root, registry);
    }
    return registry;
  }

  private readonly entries: RegisteredNode[] = [];
  private readonly poolNames = new Map<string, IConstruct>();
  private sealedBy: IConstruct | undefined;

  /** The nodes, in the order they were declared. */
  public get nodes(): readonly RegisteredNode[] {
    return [...this.entries];
  }

  /** Reserves a pool name in this App. */
  public claimPool(scope: IConstruct, prop: string, poolName: string): void {
    this.checkOpen(scope);
    const other = this.poolNames.get(poolName);
    if (other) {
      throw new InvalidPropError(
        scope,
        prop,
        poolName,
        `a pool name not already used by ${other.node.path}`,
      );
    }
    this.poolNames.set(poolName, scope);
  }

  /** Adds nodes, failing on a name or address another construct already declared. */
  public claim(
    scope: IConstruct,
    prop: string,
    nodes: readonly ResolvedNode[],
    pool?: NodePoolFacts,
  ): void {
    this.checkOpen(scope);
    nodes.forEach((node, i) => {
      const other = this.entries.find((e) => e.name === node.name || e.address === node.address);
      if (other) {
        const what = other.name === node.name ? 'name' : 'address';
        throw new InvalidPropError(
          scope,
          `${prop}[${i}].${what}`,
          node[what],
          `${what === 'name' ? 'a name' : 'an address'} not already used by node "${other.name}" (${other.address}) of ${other.owner.node.path}: one machine belongs to one pool, and every node needs its own name and address`,
        );
      }
    });
    for (const node of nodes) this.entries.push({ ...node, pool, owner: scope });
  }

  /**
   * Closes the registry: the k3s configs are computed from it, so a node
   * declared afterwards would be silently missing from them.
   */
  public seal(by: IConstruct): void {
    this.sealedBy = by;
  }

  private checkOpen(scope: IConstruct): void {
    if (this.sealedBy) {
      throw new Error(
        `${scope.node.path}: nodes must be declared before ${this.sealedBy.node.path}, which has already computed the k3s configs from them`,
      );
    }
  }
}
