import { Construct } from 'constructs';
import {
  CpuArchitecture,
  hostPort,
  NodeRegistry,
  NodeRole,
  RegisteredNode,
  resolveArchitecture,
  resolveNodes,
} from './cluster-nodes';
import {
  ClusterNetwork,
  K3S_DEFAULT_CLUSTER_CIDR,
  K3S_DEFAULT_SERVICE_CIDR,
  k3sNetwork,
} from './cluster-network';
import { AddressSet, parseCidr } from './cidr';
import { InvalidPropError, warn } from './errors';
import {
  etcdFaultTolerance,
  K3sConfigFile,
  renderK3sConfigs,
  writeK3sConfigs,
} from './k3s-config-files';
import { resolveCidr } from './network-peer';
import { GPU_TAINT } from './nvidia-device-plugin';

export * from './k3s-config-files';

/** flannel's backends, as k3s' `flannel-backend` spells them. */
export enum FlannelBackend {
  /** Pod traffic encrypted between nodes, by the kernel's WireGuard. */
  WIREGUARD_NATIVE = 'wireguard-native',
  /** k3s' default: pod traffic in clear UDP between nodes. */
  VXLAN = 'vxlan',
  /** Plain routes: the nodes must share a layer-2 network. */
  HOST_GW = 'host-gw',
  /** No flannel: bring your own CNI. */
  NONE = 'none',
}

/** A k3s server without GPUs (a control-plane / etcd node that is in no GPU pool). */
export interface K3sServer {
  readonly name: string;
  readonly address: string;
  /** Informational: k3s does not need it. @default CpuArchitecture.AMD64 */
  readonly architecture?: CpuArchitecture | `${CpuArchitecture}`;
}

export interface K3sClusterProps {
  /**
   * Servers that are in no GPU pool; GPU nodes become servers with
   * `role: NodeRole.SERVER` in their pool.
   * @default []
   */
  readonly servers?: readonly K3sServer[];
  /**
   * The node that runs `cluster-init` and that the others join through.
   * @default - the first server: pools in declaration order, then `servers`
   */
  readonly primary?: string;
  /** The API server's port on the servers. @default 6443 */
  readonly apiPort?: number;
  /**
   * Where every joining node reads the cluster token (never in the config).
   * @default '/etc/rancher/k3s/token'
   */
  readonly tokenFile?: string;
  /**
   * A cluster-wide setting, the same on every server. The nodes talk over
   * public addresses, so the default encrypts pod traffic between them.
   * @default FlannelBackend.WIREGUARD_NATIVE
   */
  readonly flannelBackend?: FlannelBackend | `${FlannelBackend}`;
  /**
   * k3s packaged components not to deploy (`disable`, on every server).
   * `runtimes` is k3s' own RuntimeClasses (nvidia, crun, wasm shims, ...):
   * the manifests define `nvidia` themselves, and one owner is enough.
   * @default ['runtimes']
   */
  readonly disable?: readonly string[];
  /**
   * The pods' addresses (`cluster-cidr`, on every server). Written out
   * although it is k3s' default, so that the NetworkPolicies' idea of "inside
   * the cluster" and the cluster's cannot differ. Fixed once the cluster
   * exists.
   * @default '10.42.0.0/16'
   */
  readonly clusterCidr?: string;
  /**
   * The Services' addresses (`service-cidr`, on every server); the
   * `kubernetes` Service takes its first address (10.43.0.1).
   * @default '10.43.0.0/16'
   */
  readonly serviceCidr?: string;
}

const TOKEN_FILE = /^\/[A-Za-z0-9._/-]+$/;
const COMPONENT = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * The host side of the cluster: one k3s config per node, computed from every
 * GpuNodePool of the App (declare them first) plus `servers`. Warns at synth
 * when the embedded etcd has a server count that adds no fault tolerance
 * (1, or any even number), and when no or one node is left for pods without a
 * GPU toleration. It synthesizes no Kubernetes object: main.ts writes
 * `files` with {@link K3sCluster.writeTo}.
 */
export class K3sCluster extends Construct {
  public readonly nodes: readonly RegisteredNode[];
  public readonly servers: readonly RegisteredNode[];
  public readonly agents: readonly RegisteredNode[];
  public readonly primary: RegisteredNode;
  /** `https://<primary>:6443`: where nodes join. */
  public readonly serverUrl: string;
  public readonly files: readonly K3sConfigFile[];
  /** The cluster's address ranges, DNS and API servers, for NetworkPolicies. */
  public readonly network: ClusterNetwork;
  /** kubectl label/taint commands that give nodes that already joined their labels and taints. */

  constructor(scope: Construct, id: string, props: K3sClusterProps = {}) {
    super(scope, id);
    const registry = NodeRegistry.of(this);

    const apiPort = props.apiPort ?? 6443;
    if (!Number.isInteger(apiPort) || apiPort < 1 || apiPort > 65535) {
      throw new InvalidPropError(this, 'apiPort', apiPort, 'an integer from 1 to 65535');
    }
    const tokenFile = props.tokenFile ?? '/etc/rancher/k3s/token';
    if (typeof tokenFile !== 'string' || !TOKEN_FILE.test(tokenFile)) {
      throw new InvalidPropError(
        this,
        'tokenFile',
        tokenFile,
        'an absolute path of letters, digits, ".", "_", "-" and "/" (the token itself never goes into a config)',
      );
    }
    const flannelBackend = props.flannelBackend ?? FlannelBackend.WIREGUARD_NATIVE;
    const backends = Object.values(FlannelBackend) as string[];
    if (!backends.includes(flannelBackend)) {
      throw new InvalidPropError(
        this,
        'flannelBackend',
        flannelBackend,
        `one of ${backends.map((b) => `"${b}"`).join(', ')} (FlannelBackend)`,
      );
    }
    const disable = props.disable ?? ['runtimes'];
    if (
      !Array.isArray(disable) ||
      disable.some((c) => typeof c !== 'string' || !COMPONENT.test(c))
    ) {
      throw new InvalidPropError(
        this,
        'disable',
        disable,
        'a list of k3s packaged component names like "runtimes", "traefik", "servicelb"',
      );
    }

    const clusterCidr = resolveCidr(
      this,
      'clusterCidr',
      props.clusterCidr ?? K3S_DEFAULT_CLUSTER_CIDR,
    );
    const serviceCidr = resolveCidr(
      this,
      'serviceCidr',
      props.serviceCidr ?? K3S_DEFAULT_SERVICE_CIDR,
    );
    if (AddressSet.of(parseCidr(clusterCidr)!).intersects(AddressSet.of(parseCidr(serviceCidr)!))) {
      throw new InvalidPropError(
        this,
        'serviceCidr',
        serviceCidr,
        `a range that does not overlap clusterCidr ${clusterCidr}`,
      );
    }

    const extra: unknown = props.servers ?? [];
    if (!Array.isArray(extra)) {
      throw new InvalidPropError(this, 'servers', extra, 'a list of { name, address }');
    }
    const resolved = resolveNodes(
      this,
      'servers',
      extra.map((server) => ({ ...server, role: NodeRole.SERVER })),
      CpuArchitecture.AMD64,
      { allowEmpty: true },
    ).map((node, i) => ({
      ...node,
      architecture: resolveArchitecture(
        this,
        `servers[${i}].architecture`,
        (extra[i] as K3sServer).architecture ?? CpuArchitecture.AMD64,
      ),
    }));
    registry.claim(this, 'servers', resolved);
    registry.seal(this);

    const nodes = registry.nodes;
    const servers = nodes.filter((n) => n.role === NodeRole.SERVER);
    if (servers.length === 0) {
      throw new InvalidPropError(
        this,
        'servers',
        [],
        'at least one k3s server, the primary that runs cluster-init: give a pool node role: NodeRole.SERVER, or list a server here',
      );
    }
    let primary = servers[0];
    if (props.primary !== undefined) {
      const named = servers.find((s) => s.name === props.primary);
      if (!named) {
        throw new InvalidPropError(
          this,
          'primary',
          props.primary,
          `the name of a server: one of ${servers.map((s) => `"${s.name}"`).join(', ')}`,
        );
      }
      primary = named;
    }
    // The primary first: its file is the one to install first.
    const ordered = [primary, ...nodes.filter((n) => n !== primary)];

    this.nodes = ordered;
    this.servers = ordered.filter((n) => n.role === NodeRole.SERVER);
    this.agents = ordered.filter((n) => n.role === NodeRole.AGENT);
    this.primary = primary;
    this.serverUrl = `https://${hostPort(primary.address, apiPort)}`;
    this.files = renderK3sConfigs(ordered, {
      primary: primary.name,
      apiPort,
      tokenFile,
      flannelBackend,
      disable,
      clusterCidr,
      serviceCidr,
    });
    this.network = k3sNetwork({
      podCidr: clusterCidr,
      serviceCidr,
      apiServerAddresses: this.servers.map((s) => s.address),
      apiServerPort: apiPort,
    });

    this.warnAboutQuorum();
    this.warnAboutTaints();
  }

  /** Writes the files into `dir` (see {@link writeK3sConfigs}); returns the paths. */
  public writeTo(dir: string): string[] {
    return writeK3sConfigs(dir, this.files);
  }

  private warnAboutQuorum(): void {
    const n = this.servers.length;
    const names = this.servers.map((s) => s.name).join(', ');
    // One server is a known, documented single point of failure (README);
    // warn only about layouts that look redundant but are not.
    if (n % 2 === 0) {
      const quorum = n / 2 + 1;
      const tolerated = etcdFaultTolerance(n);
      const detail =
        tolerated === 0
          ? `it tolerates no server failure at all (a quorum of ${quorum} needs both), no better than 1 server`
          : `it tolerates ${tolerated} server failure(s) (a quorum of ${quorum} of ${n}), no better than ${n - 1} servers`;
      warn(
        this,
        `${n} k3s servers (${names}): embedded etcd needs a majority, so ${detail}, with more members to fail. Use an odd count: 3 tolerate 1 failure, 5 tolerate 2.`,
      );
    }
  }

  private warnAboutTaints(): void {
    const free = this.nodes.filter((n) => (n.pool?.nodeTaints.length ?? 0) === 0);
    if (free.length === 0) {
      warn(
        this,
        `every node is tainted ${GPU_TAINT.key}=${GPU_TAINT.value}:${GPU_TAINT.effect}: pods that do not tolerate it (CoreDNS, metrics-server, the backend) cannot run anywhere. Set taint: false on the pools that should also run them (two nodes at least, for the backend's spread).`,
      );
    } else if (free.length === 1) {
      warn(
        this,
        `only node ${free[0].name} is untainted: every pod without a GPU toleration (CoreDNS, the backend) runs there, a single point of failure. Set taint: false on another pool.`,
      );
    }
  }
}
