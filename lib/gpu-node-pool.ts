import * as fs from 'fs';
import * as path from 'path';
import { Chart } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { KubeJob, Quantity, Toleration } from '../imports/k8s';
import { CONNECTIONS_ANNOTATION } from './connections';
import {
  ClusterNode,
  CpuArchitecture,
  NodePoolFacts,
  NodeRegistry,
  NodeRole,
  ResolvedNode,
  resolveArchitecture,
  resolveNodes,
} from './cluster-nodes';
import { InvalidPropError } from './errors';
import {
  GPU_COUNT_LABEL,
  GPU_POOL_LABEL,
  GPU_PRESENT_LABEL,
  GPU_PRODUCT_LABEL,
  GPU_RESOURCE,
  GPU_TAINT,
  GPU_TOLERATION,
  NvidiaDevicePlugin,
} from './nvidia-device-plugin';
import { DNS_1123_LABEL, IMAGE_REF } from './names';
import { PodSecurityNamespace } from './pod-security-namespace';
import { restrictedContainerSecurity, restrictedPodSecurity } from './security-context';

export interface GpuNodePoolProps {
  /**
   * The GPU model, as nvidia-smi names it or a whole-word part of that name:
   * "A100" for "NVIDIA A100-SXM4-80GB", "RTX 6000", "GH200". Letters, digits,
   * spaces, ".", "_" and "-". The check Job greps for it; the nodes are
   * labelled `nvidia.com/gpu.product` with it (spaces as "-").
   */
  readonly gpuProduct: string;
  /** The machines of the pool; each one belongs to exactly one pool. */
  readonly nodes: readonly ClusterNode[];
  /**
   * The pool's name: the value of the `manifests.sophia.ai/gpu-pool` node label.
   * @default - the construct id
   */
  readonly poolName?: string;
  /** @default CpuArchitecture.AMD64 */
  readonly architecture?: CpuArchitecture | `${CpuArchitecture}`;
  /** GPUs in each node. @default 1 */
  readonly gpusPerNode?: number;
  /**
   * Taint the pool's nodes `nvidia.com/gpu=present:NoSchedule`, so that only
   * pods that tolerate it (GPU workloads) run there.
   * @default true
   */
  readonly taint?: boolean;
  /**
   * A Job per node that runs nvidia-smi through the nvidia RuntimeClass and
   * fails unless it sees `gpusPerNode` GPUs of `gpuProduct`.
   * @default true
   */
  readonly gpuCheck?: boolean;
  /**
   * The namespace of the check Jobs; their pods pass Pod Security `restricted`.
   * @default - the chart's namespace
   */
  readonly namespace?: PodSecurityNamespace | string;
  /**
   * The check Jobs' image: multi-arch, with `sh` and `grep`; nvidia-smi
   * itself comes from the node, injected by the NVIDIA runtime.
   * @default GpuNodePool.DEFAULT_CHECK_IMAGE
   */
  readonly checkImage?: string;
}

/** A pool node, validated. */
export interface GpuPoolNode extends ResolvedNode {
  /** The check Job of this node, when `gpuCheck` is on. */
  readonly checkJobName?: string;
}

/** The three pod-spec fields that put a pod on this pool with the NVIDIA runtime. */
export interface GpuPodPlacement {
  readonly runtimeClassName: string;
  readonly nodeSelector: Record<string, string>;
  readonly tolerations: Toleration[];
}

const PRODUCT = /^[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,61}[A-Za-z0-9])?$/;
/** The check pod's user: nobody, it owns nothing. */
const CHECK_UID = 65534;

let checkScript: string | undefined;
/** scripts/gpu-check.sh, which the check Job runs (`path.resolve(__dirname, '..')` is the repo root under Jest and esbuild). */
export function gpuCheckScript(): string {
  checkScript ??= fs.readFileSync(path.resolve(__dirname, '..', 'scripts', 'gpu-check.sh'), 'utf8');
  return checkScript;
}

/**
 * A set of identical GPU machines. It exposes what a workload needs to run on
 * them (`nodeSelector`, `tolerations`, `runtimeClassName`, `gpuLimits()`),
 * what their k3s configs must say (`nodeLabels`, `nodeTaints`; see
 * K3sCluster), registers them with the App's NVIDIA device plugin
 * (RuntimeClass and DaemonSet, defined once), and checks them with a Job per
 * node. Node names and addresses are unique across all pools of the App.
 */
export class GpuNodePool extends Construct {
  /** The check Jobs' default image: multi-arch (amd64, arm64), pinned. */
  public static readonly DEFAULT_CHECK_IMAGE = 'nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04';

  /** The pools of the App `scope` belongs to, in declaration order. */
  public static poolsOf(scope: IConstruct): readonly GpuNodePool[] {
    const pools: GpuNodePool[] = [];
    for (const node of NodeRegistry.of(scope).nodes) {
      if (node.owner instanceof GpuNodePool && !pools.includes(node.owner)) {
        pools.push(node.owner);
      }
    }
    return pools;
  }

  public readonly poolName: string;
  public readonly gpuProduct: string;
  public readonly architecture: CpuArchitecture;
  public readonly gpusPerNode: number;
  public readonly taint: boolean;
  public readonly nodes: readonly GpuPoolNode[];
  /** `nvidia`: the RuntimeClass a GPU pod must name. */
  public readonly runtimeClassName: string;
  /** The pool label and `kubernetes.io/arch`: a pod's `nodeSelector`. */
  public readonly nodeSelector: Readonly<Record<string, string>>;
  /** What a pod needs to tolerate the pool's taints (empty when `taint` is false). */
  public readonly tolerations: readonly Toleration[];
  /** The labels the nodes must carry (k3s `node-label`). */
  public readonly nodeLabels: Readonly<Record<string, string>>;
  /** The taints the nodes must carry (k3s `node-taint`, `key=value:Effect`). */
  public readonly nodeTaints: readonly string[];
  public readonly devicePlugin: NvidiaDevicePlugin;
  /** The check Jobs, one per node (none when `gpuCheck` is false). */
  public readonly checkJobs: readonly KubeJob[];

  constructor(scope: Construct, id: string, props: GpuNodePoolProps) {
    super(scope, id);
    const registry = NodeRegistry.of(this);

    const poolName = props.poolName ?? id;
    if (typeof poolName !== 'string' || !DNS_1123_LABEL.test(poolName) || poolName.length > 63) {
      throw new InvalidPropError(
        this,
        'poolName',
        poolName,
        'a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters): it is a label value',
      );
    }
    const gpuProduct = typeof props.gpuProduct === 'string' ? props.gpuProduct.trim() : '';
    if (!PRODUCT.test(gpuProduct)) {
      throw new InvalidPropError(
        this,
        'gpuProduct',
        props.gpuProduct,
        'a GPU model as nvidia-smi names it, like "A100", "RTX 6000" or "GH200": 1 to 63 letters, digits, spaces, ".", "_" or "-", starting and ending with a letter or digit',
      );
    }
    const architecture = resolveArchitecture(
      this,
      'architecture',
      props.architecture ?? CpuArchitecture.AMD64,
    );
    const gpusPerNode = props.gpusPerNode ?? 1;
    if (!Number.isInteger(gpusPerNode) || gpusPerNode < 1) {
      throw new InvalidPropError(this, 'gpusPerNode', gpusPerNode, 'an integer of at least 1');
    }
    const taint = props.taint ?? true;
    const gpuCheck = props.gpuCheck ?? true;
    for (const [prop, value] of [
      ['taint', taint],
      ['gpuCheck', gpuCheck],
    ] as const) {
      if (typeof value !== 'boolean')
        throw new InvalidPropError(this, prop, value, 'true or false');
    }
    const image = props.checkImage ?? GpuNodePool.DEFAULT_CHECK_IMAGE;
    if (!IMAGE_REF.test(image)) {
      throw new InvalidPropError(
        this,
        'checkImage',
        image,
        'an image reference like "nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04" or "registry/name@sha256:<digest>"',
      );
    }
    const resolved = resolveNodes(this, 'nodes', props.nodes, architecture);
    const namespace = gpuCheck ? this.resolveNamespace(props.namespace) : undefined;

    this.poolName = poolName;
    this.gpuProduct = gpuProduct;
    this.architecture = architecture;
    this.gpusPerNode = gpusPerNode;
    this.taint = taint;
    this.nodeLabels = {
      [GPU_POOL_LABEL]: poolName,
      [GPU_PRESENT_LABEL]: 'true',
      [GPU_PRODUCT_LABEL]: gpuProduct.replace(/ +/g, '-'),
      [GPU_COUNT_LABEL]: String(gpusPerNode),
    };
    this.nodeTaints = taint ? [`${GPU_TAINT.key}=${GPU_TAINT.value}:${GPU_TAINT.effect}`] : [];

    const facts: NodePoolFacts = {
      poolName,
      gpuProduct,
      gpusPerNode,
      nodeLabels: this.nodeLabels,
      nodeTaints: this.nodeTaints,
    };
    registry.claimPool(this, 'poolName', poolName);
    registry.claim(this, 'nodes', resolved, facts);

    this.devicePlugin = NvidiaDevicePlugin.of(this);
    this.devicePlugin.addPool(poolName);
    this.runtimeClassName = this.devicePlugin.runtimeClassName;
    this.nodeSelector = { [GPU_POOL_LABEL]: poolName, 'kubernetes.io/arch': architecture };
    this.tolerations = taint ? [{ ...GPU_TOLERATION }] : [];

    this.nodes = resolved.map((node) => ({
      ...node,
      checkJobName: gpuCheck ? `gpu-check-${node.name}` : undefined,
    }));
    this.checkJobs = gpuCheck
      ? this.nodes.map((node) => this.checkJob(node, namespace!, image))
      : [];
  }

  /** The nodes that are k3s servers. */
  public get servers(): readonly GpuPoolNode[] {
    return this.nodes.filter((n) => n.role === NodeRole.SERVER);
  }

  /** `runtimeClassName`, `nodeSelector` and `tolerations`, fresh copies to spread into a pod spec. */
  public placement(): GpuPodPlacement {
    return {
      runtimeClassName: this.runtimeClassName,
      nodeSelector: { ...this.nodeSelector },
      tolerations: this.tolerations.map((t) => ({ ...t })),
    };
  }

  /**
   * The container `limits` entry for `count` GPUs (extended resources go in
   * limits; the request defaults to the limit). Throws an InvalidPropError on
   * `scope` (the workload) unless `count` is an integer from 1 to
   * `gpusPerNode`: a pod cannot span nodes, so more would never schedule.
   */
  public gpuLimits(scope: IConstruct, count: number, prop = 'gpuCount'): Record<string, Quantity> {
    if (!Number.isInteger(count) || count < 1 || count > this.gpusPerNode) {
      throw new InvalidPropError(
        scope,
        prop,
        count,
        `an integer from 1 to ${this.gpusPerNode}: pool "${this.poolName}" has ${this.gpusPerNode} GPU(s) per node, and a pod runs on one node`,
      );
    }
    return { [GPU_RESOURCE]: Quantity.fromNumber(count) };
  }

  private resolveNamespace(value: GpuNodePoolProps['namespace']): string {
    // Every level admits the check pod (it passes restricted), so the level
    // need not be checked.
    if (value instanceof PodSecurityNamespace) return value.name;
    const name = value ?? Chart.of(this).namespace;
    if (typeof name !== 'string' || !DNS_1123_LABEL.test(name) || name.length > 63) {
      throw new InvalidPropError(
        this,
        'namespace',
        name,
        'a PodSecurityNamespace or a DNS-1123 label, or a Chart with a namespace (for the check Jobs; or gpuCheck: false)',
      );
    }
    return name;
  }

  private checkJob(node: GpuPoolNode, namespace: string, image: string): KubeJob {
    const name = node.checkJobName!;
    const labels = {
      'app.kubernetes.io/name': 'gpu-check',
      'app.kubernetes.io/instance': name,
      'app.kubernetes.io/component': 'gpu-check',
      'app.kubernetes.io/managed-by': 'cdk8s',
      [GPU_POOL_LABEL]: this.poolName,
    };
    return new KubeJob(this, `Check-${node.name}`, {
      metadata: {
        name,
        namespace,
        labels,
        annotations: {
          // Under Argo CD: run after every sync (a failure fails the sync),
          // replacing the previous run. Plain `kubectl apply` ignores these.
          'argocd.argoproj.io/hook': 'PostSync',
          'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation',
          // nvidia-smi talks to the driver, not the network: the default deny is all it gets.
          [CONNECTIONS_ANNOTATION]: '[]',
        },
      },
      spec: {
        // One retry for a plugin that registered late; then it failed.
        backoffLimit: 1,
        // Includes waiting for the node's GPUs to be free and the image pull.
        activeDeadlineSeconds: 600,
        ttlSecondsAfterFinished: 86400,
        template: {
          metadata: { labels },
          spec: {
            restartPolicy: 'Never',
            runtimeClassName: this.runtimeClassName,
            nodeSelector: { ...this.nodeSelector, 'kubernetes.io/hostname': node.name },
            tolerations:
              this.tolerations.length > 0 ? this.tolerations.map((t) => ({ ...t })) : undefined,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: restrictedPodSecurity(CHECK_UID),
            containers: [
              {
                name: 'gpu-check',
                image,
                imagePullPolicy: 'IfNotPresent',
                command: ['sh', '-c', gpuCheckScript()],
                env: [
                  { name: 'EXPECTED_GPU_PRODUCT', value: this.gpuProduct },
                  { name: 'EXPECTED_GPU_COUNT', value: String(this.gpusPerNode) },
                  { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
                  // nvidia-smi only; and no CUDA version check against the
                  // host driver, which nvidia-smi does not need.
                  { name: 'NVIDIA_DRIVER_CAPABILITIES', value: 'utility' },
                  { name: 'NVIDIA_DISABLE_REQUIRE', value: 'true' },
                ],
                resources: {
                  requests: {
                    cpu: Quantity.fromString('50m'),
                    memory: Quantity.fromString('64Mi'),
                  },
                  limits: {
                    cpu: Quantity.fromString('500m'),
                    memory: Quantity.fromString('256Mi'),
                    [GPU_RESOURCE]: Quantity.fromNumber(this.gpusPerNode),
                  },
                },
                securityContext: restrictedContainerSecurity(CHECK_UID),
                terminationMessagePolicy: 'FallbackToLogsOnError',
              },
            ],
          },
        },
      },
    });
  }
}
