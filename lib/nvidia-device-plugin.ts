import { Chart, Lazy } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import {
  IntOrString,
  KubeDaemonSet,
  KubeRuntimeClass,
  NodeSelectorRequirement,
  Quantity,
  Toleration,
} from '../imports/k8s';
import { CONNECTIONS_ANNOTATION } from './connections';
import { DefaultDenyPolicy } from './default-deny-policy';
import { PodSecurityLevel, PodSecurityNamespace } from './pod-security-namespace';
import { rootContainerSecurity } from './security-context';

/** Label and taint keys shared by the GPU constructs. */
export const GPU_POOL_LABEL = 'manifests.sophia.ai/gpu-pool';
/** The resource the device plugin advertises and pods request in `limits`. */
export const GPU_RESOURCE = 'nvidia.com/gpu';
/** Set on every GPU pool node (also the label NVIDIA's GPU feature discovery uses). */
export const GPU_PRESENT_LABEL = 'nvidia.com/gpu.present';
export const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';
export const GPU_COUNT_LABEL = 'nvidia.com/gpu.count';
/** The taint of a tainted pool's nodes: `nvidia.com/gpu=present:NoSchedule`. */
export const GPU_TAINT = { key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' } as const;

/** Tolerates the GPU taint, whatever its value (also the GPU operator's `nvidia.com/gpu:NoSchedule`). */
export const GPU_TOLERATION: Toleration = {
  key: GPU_TAINT.key,
  operator: 'Exists',
  effect: GPU_TAINT.effect,
};

export interface NvidiaDevicePluginProps {
  /**
   * The namespace of the DaemonSet, defined here with Pod Security
   * `privileged`: the plugin needs a hostPath (the kubelet's device-plugins
   * folder), which `baseline` and `restricted` forbid.
   * @default 'nvidia-device-plugin'
   */
  readonly namespace?: string;
  /**
   * The device plugin image: multi-arch (amd64 and arm64), pinned.
   * @default NvidiaDevicePlugin.DEFAULT_IMAGE
   */
  readonly image?: string;
}

/**
 * The cluster side of GPU scheduling, defined once per App however many GPU
 * pools there are ({@link NvidiaDevicePlugin.of}):
 *
 * - the RuntimeClass `nvidia`, whose handler k3s configures in containerd
 *   when it finds the NVIDIA container runtime on a node;
 * - NVIDIA's device plugin DaemonSet, which advertises `nvidia.com/gpu` to the
 *   kubelet, on the GPU pool nodes only, in a `privileged` namespace of its
 *   own.
 */
export class NvidiaDevicePlugin extends Construct {
  /** The upstream static manifest's tag (deployments/static/nvidia-device-plugin.yml). */
  public static readonly DEFAULT_IMAGE = 'nvcr.io/nvidia/k8s-device-plugin:v0.17.1';
  /** The RuntimeClass (and containerd handler) of the NVIDIA container runtime. */
  public static readonly RUNTIME_CLASS = 'nvidia';
  public static readonly DEFAULT_NAMESPACE = 'nvidia-device-plugin';
  /** The construct id of the singleton, directly under its chart. */
  public static readonly ID = 'NvidiaDevicePlugin';

  private static readonly instances = new WeakMap<IConstruct, NvidiaDevicePlugin>();

  /**
   * The App's device plugin: the one defined in any chart of the App, or a new
   * one in the chart of `scope`.
   */
  public static of(scope: IConstruct): NvidiaDevicePlugin {
    return (
      NvidiaDevicePlugin.instances.get(scope.node.root) ??
      new NvidiaDevicePlugin(Chart.of(scope), NvidiaDevicePlugin.ID)
    );
  }

  /** Pass this as a pod's `runtimeClassName`. */
  public readonly runtimeClassName = NvidiaDevicePlugin.RUNTIME_CLASS;
  public readonly namespace: string;
  public readonly runtimeClass: KubeRuntimeClass;
  public readonly daemonSet: KubeDaemonSet;
  private readonly pools: string[] = [];

  constructor(scope: Construct, id: string, props: NvidiaDevicePluginProps = {}) {
    super(scope, id);
    const root = this.node.root;
    const existing = NvidiaDevicePlugin.instances.get(root);
    if (existing) {
      throw new Error(
        `${this.node.path}: the NVIDIA device plugin is already defined at ${existing.node.path}; use NvidiaDevicePlugin.of(scope)`,
      );
    }
    NvidiaDevicePlugin.instances.set(root, this);

    const namespace = new PodSecurityNamespace(this, 'Namespace', {
      name: props.namespace ?? NvidiaDevicePlugin.DEFAULT_NAMESPACE,
      enforce: PodSecurityLevel.PRIVILEGED,
    });
    this.namespace = namespace.name;
    const image = props.image ?? NvidiaDevicePlugin.DEFAULT_IMAGE;

    const labels = {
      'app.kubernetes.io/name': 'nvidia-device-plugin',
      'app.kubernetes.io/component': 'device-plugin',
      'app.kubernetes.io/managed-by': 'cdk8s',
    };

    // Pods of this class can only run where the NVIDIA runtime is: the
    // RuntimeClass admission controller adds this selector and toleration to
    // every pod that names it.
    this.runtimeClass = new KubeRuntimeClass(this, 'RuntimeClass', {
      metadata: { name: NvidiaDevicePlugin.RUNTIME_CLASS, labels },
      handler: NvidiaDevicePlugin.RUNTIME_CLASS,
      scheduling: {
        nodeSelector: { [GPU_PRESENT_LABEL]: 'true' },
        tolerations: [GPU_TOLERATION],
      },
    });

    const poolAffinity: NodeSelectorRequirement = Lazy.any({
      produce: () =>
        this.pools.length > 0
          ? { key: GPU_POOL_LABEL, operator: 'In', values: [...this.pools].sort() }
          : { key: GPU_POOL_LABEL, operator: 'Exists' },
    });

    // It talks to the kubelet over a Unix socket: no connection to allow.
    new DefaultDenyPolicy(this, 'DefaultDeny', { namespace: this.namespace });
    this.daemonSet = new KubeDaemonSet(this, 'DaemonSet', {
      metadata: {
        name: 'nvidia-device-plugin',
        namespace: this.namespace,
        labels,
        annotations: { [CONNECTIONS_ANNOTATION]: '[]' },
      },
      spec: {
        selector: { matchLabels: { 'app.kubernetes.io/name': 'nvidia-device-plugin' } },
        revisionHistoryLimit: 5,
        updateStrategy: {
          type: 'RollingUpdate',
          rollingUpdate: { maxUnavailable: IntOrString.fromNumber(1) },
        },
        template: {
          metadata: { labels },
          spec: {
            // The kubelet evicts this last and schedules it first: without it
            // no pod on the node gets a GPU.
            priorityClassName: 'system-node-critical',
            // Loads NVML from the driver: the NVIDIA runtime injects it. On k3s
            // this is needed unless the agents set `default-runtime: nvidia`.
            runtimeClassName: NvidiaDevicePlugin.RUNTIME_CLASS,
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [{ matchExpressions: [poolAffinity] }],
                },
              },
            },
            tolerations: [GPU_TOLERATION],
            // It talks to the kubelet over a socket, never to the API server.
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'nvidia-device-plugin-ctr',
                image,
                imagePullPolicy: 'IfNotPresent',
                env: [
                  // Scheduled onto GPU nodes only: a plugin that finds no GPU
                  // must crash visibly, not advertise zero GPUs.
                  { name: 'FAIL_ON_INIT_ERROR', value: 'true' },
                  { name: 'MIG_STRATEGY', value: 'none' },
                  { name: 'DEVICE_LIST_STRATEGY', value: 'envvar' },
                  { name: 'DEVICE_ID_STRATEGY', value: 'uuid' },
                  { name: 'PASS_DEVICE_SPECS', value: 'false' },
                  { name: 'NVIDIA_VISIBLE_DEVICES', value: 'all' },
                  { name: 'NVIDIA_DRIVER_CAPABILITIES', value: 'compute,utility' },
                ],
                // Upstream's static manifest (no privilege escalation, no
                // capabilities; MIG strategy none needs no SYS_ADMIN), plus
                // seccomp RuntimeDefault and a read-only root: the plugin only
                // writes its socket, into the hostPath. It stays root: the
                // device-plugins folder and kubelet.sock belong to root.
                securityContext: rootContainerSecurity({ readOnlyRootFilesystem: true }),
                resources: {
                  requests: {
                    cpu: Quantity.fromString('50m'),
                    memory: Quantity.fromString('64Mi'),
                  },
                  limits: {
                    cpu: Quantity.fromString('500m'),
                    memory: Quantity.fromString('256Mi'),
                  },
                },
                terminationMessagePolicy: 'FallbackToLogsOnError',
                volumeMounts: [
                  { name: 'device-plugins', mountPath: '/var/lib/kubelet/device-plugins' },
                ],
              },
            ],
            volumes: [
              {
                name: 'device-plugins',
                // Directory, not DirectoryOrCreate: a missing folder means the
                // kubelet uses another root, and a new one would be ignored.
                hostPath: { path: '/var/lib/kubelet/device-plugins', type: 'Directory' },
              },
            ],
          },
        },
      },
    });
  }

  /** The GPU pools the DaemonSet runs on (their `manifests.sophia.ai/gpu-pool` values), sorted. */
  public get poolNames(): readonly string[] {
    return [...this.pools].sort();
  }

  /** Adds a pool's nodes to the DaemonSet's node affinity. */
  public addPool(poolName: string): void {
    if (!this.pools.includes(poolName)) this.pools.push(poolName);
  }
}
