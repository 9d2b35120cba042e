import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { SyncMode } from './argo-cd-project';
import { DebugMonitor } from './debug-monitor';
import { DefaultDenyPolicy } from './default-deny-policy';
import { GpuNodePool, GpuNodePoolProps } from './gpu-node-pool';
import { K3sCluster, K3sClusterProps } from './k3s-cluster';
import { FixedPythonApp, SecretKeyReference, SecurityMode } from './fixed-python-app';
import { MonitoringConfig } from './monitoring-chart';
import { EgressRule, NetworkPeer } from './network-peer';
import { PodSecurityLevel, PodSecurityNamespace } from './pod-security-namespace';
import { addSyncWaves } from './sync-waves';

export interface BackendConfig {
  /** Name of the Deployment, Service and ConfigMap. */
  readonly name: string;
  /** Folder of the Python source shipped in the ConfigMap. */
  readonly sourceDir: string;
  readonly entrypoint: string;
  readonly image: string;
  readonly port: number;
  /** pip packages, when sourceDir has no requirements file. */
  readonly packages?: readonly string[];
  /** A requirements file in sourceDir other than `requirements.txt`. */
  readonly requirementsFile?: string;
  /** Environment variables from Secrets that exist in the cluster (never synthesized). */
  readonly secretEnv?: Readonly<Record<string, SecretKeyReference>>;
  /** Secrets whose every key becomes an environment variable. */
  readonly envFromSecrets?: readonly string[];
  /** Replicas per variant. */
  readonly replicas: Readonly<Record<SecurityMode, number>>;
  /** An in-cluster package index (FixedPythonApp's `pipIndexUrl`; then name its pods in `egressTo`). */
  readonly pipIndexUrl?: string;
  /** Who may connect to the backend besides its monitor (FixedPythonApp's `ingressFrom`). */
  readonly ingressFrom?: readonly NetworkPeer[];
  /** Connections the backend opens besides DNS and pip's index (FixedPythonApp's `egressTo`). */
  readonly egressTo?: readonly EgressRule[];
}

/** The DebugMonitor's settings beyond its target. */
export interface MonitorConfig {
  /** Who scrapes its metrics (DebugMonitor's `scrapeFrom`). */
  readonly scrapeFrom?: readonly NetworkPeer[];
}

export interface GitOpsConfig {
  /** The repository Argo CD reads `dist/` from. */
  readonly repoURL: string;
  readonly revision: string;
  /** The AppProject's name; Applications are named `<project>-<mode>`. */
  readonly project: string;
  /** Where Argo CD runs. */
  readonly argoNamespace: string;
  /** How each variant's Application syncs. */
  readonly sync: Readonly<Record<SecurityMode, SyncMode>>;
  /** How the monitoring folder's Application (`<project>-monitoring`) syncs. */
  readonly monitoringSync: SyncMode;
}

/** A GPU pool as config.ts lists it: GpuNodePool's props and the construct id. */
export interface GpuPoolConfig extends Omit<GpuNodePoolProps, 'namespace'> {
  readonly id: string;
}

/** The cluster facts a variant is built from (see config.ts). */
export interface ClusterConfig {
  /** The namespace of the sophia workloads. */
  readonly namespace: string;
  readonly backend: BackendConfig;
  readonly gitops: GitOpsConfig;
  /** The ServiceMonitor and alerts of dist/monitoring/. */
  readonly monitoring: MonitoringConfig;
  /** The GPU nodes, pool by pool; the first server among them runs `cluster-init`. */
  readonly gpuPools: readonly GpuPoolConfig[];
  /** k3s settings beyond the nodes, the cluster's address ranges included. */
  readonly k3s?: K3sClusterProps;
  readonly monitor?: MonitorConfig;
}

export interface SophiaChartProps {
  readonly mode: SecurityMode;
  readonly cluster: ClusterConfig;
}

/**
 * Everything one variant deploys, in one chart (cdk8s' synth cost grows with
 * the square of the number of charts): the namespace with the Pod Security
 * level the mode needs and a default-deny NetworkPolicy, the GPU pools with
 * the NVIDIA device plugin, the k3s node configs (written to k3s/), and the
 * backend and its debug monitor with the NetworkPolicies they need.
 */
export class SophiaChart extends Chart {
  public readonly backend: FixedPythonApp;
  public readonly monitor: DebugMonitor;
  public readonly gpuPools: readonly GpuNodePool[];
  /** The k3s node configs; the same in every variant. */
  public readonly k3s: K3sCluster;

  constructor(scope: Construct, id: string, props: SophiaChartProps) {
    super(scope, id, { disableResourceNameHashes: true });
    const { mode, cluster } = props;

    const namespace = new PodSecurityNamespace(this, 'namespace', {
      name: cluster.namespace,
      // Root is a baseline-level pod; everything else must pass restricted.
      enforce:
        mode === SecurityMode.HARDENED ? PodSecurityLevel.RESTRICTED : PodSecurityLevel.BASELINE,
      warn: PodSecurityLevel.RESTRICTED,
    });

    // Before anything runs in the namespace: nothing but what a policy allows.
    new DefaultDenyPolicy(this, 'default-deny', { namespace: namespace.name });

    this.gpuPools = cluster.gpuPools.map(
      ({ id: poolId, ...pool }) => new GpuNodePool(this, poolId, { ...pool, namespace }),
    );
    // After every pool (it reads them all); before the workloads, whose
    // NetworkPolicies need its address ranges and API servers.
    this.k3s = new K3sCluster(this, 'k3s', cluster.k3s);

    this.backend = new FixedPythonApp(this, 'backend', {
      ...cluster.backend,
      replicas: cluster.backend.replicas[mode],
      namespace,
      mode,
      clusterNetwork: this.k3s.network,
    });

    this.monitor = new DebugMonitor(this, 'monitor', {
      target: this.backend,
      scrapeFrom: cluster.monitor?.scrapeFrom,
      clusterNetwork: this.k3s.network,
    });

    addSyncWaves(this);
  }
}
