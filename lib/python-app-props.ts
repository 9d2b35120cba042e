import { ClusterNetwork } from './cluster-network';
import { GpuNodePool } from './gpu-node-pool';
import { EgressRule, NetworkPeer } from './network-peer';
import { PodSecurityNamespace } from './pod-security-namespace';

/** How the app's container runs. */
export enum SecurityMode {
  /**
   * Non-root (uid 1000), read-only root filesystem, no capabilities, seccomp
   * RuntimeDefault; an init container prepares code and packages. Passes Pod
   * Security `restricted`.
   */
  HARDENED = 'hardened',
  /**
   * The incident's emergency fix: root, straight from the read-only ConfigMap
   * mount, pip at start. Needs a `baseline` namespace. Loud on purpose.
   */
  ROOT_DEBUG = 'root-debug',
}

/** Timings of one probe; every field is optional and falls back to the probe's default. */
export interface ProbeTiming {
  readonly initialDelaySeconds?: number;
  readonly periodSeconds?: number;
  readonly timeoutSeconds?: number;
  readonly failureThreshold?: number;
}

/** CPU and memory, as Kubernetes quantities. */
export interface ResourceAmounts {
  readonly cpu?: string;
  readonly memory?: string;
}

export interface AppResources {
  /** @default { cpu: '250m', memory: '256Mi' } */
  readonly requests?: ResourceAmounts;
  /** @default { cpu: '500m', memory: '1Gi' } (the incident's budget) */
  readonly limits?: ResourceAmounts;
}

/** One key of a Secret that exists in the cluster, read into an environment variable. */
export interface SecretKeyReference {
  /** The Secret's name: a DNS-1123 subdomain, in the app's namespace. */
  readonly secretName: string;
  /** The key in the Secret: letters, digits, "-", "_" and ".". */
  readonly key: string;
  /**
   * Whether the pod may start without the Secret or the key (the variable is
   * then unset).
   * @default false - the container stays in CreateContainerConfigError until it exists
   */
  readonly optional?: boolean;
}

export interface FixedPythonAppProps {
  /**
   * Folder of the app's source, shipped as a ConfigMap: every regular file at
   * any depth, folders kept, except `__pycache__/`, `*.pyc` and names
   * starting with a dot. Its root is on `PYTHONPATH`.
   */
  readonly sourceDir: string;
  /** How the container runs; see {@link SecurityMode}. */
  readonly mode: SecurityMode;
  /**
   * Name of the Deployment, Service and (with a `-source` suffix) ConfigMap.
   * @default - the construct id
   */
  readonly name?: string;
  /**
   * The namespace to run in. Pass the {@link PodSecurityNamespace} to have the
   * mode checked against its enforced level at synth time.
   * @default - the chart's namespace
   */
  readonly namespace?: PodSecurityNamespace | string;
  /**
   * The file that `python` runs, relative to `sourceDir`; it may be in a
   * sub-folder (`service/main.py`).
   * @default 'app.py'
   */
  readonly entrypoint?: string;
  /**
   * Container image; it must provide `python`, `pip` and `sh`.
   * @default 'python:3.11-slim'
   */
  readonly image?: string;
  /**
   * The port the app listens on, passed to it as `PORT`.
   * @default 8000
   */
  readonly port?: number;
  /**
   * The HTTP path the probes GET.
   * @default '/health'
   */
  readonly healthPath?: string;
  /**
   * pip requirement specifiers installed before the app starts. Not
   * together with a requirements file.
   * @default ['fastapi', 'uvicorn'] when there is no requirements file
   */
  readonly packages?: readonly string[];
  /**
   * A pip requirements file in `sourceDir` (a path relative to it) that pip
   * installs with `-r`; it ships with the code, so a change rolls the pods.
   * Only requirement specifiers and `--hash` options; hashes on every
   * requirement or none (`--require-hashes` when all).
   * @default 'requirements.txt' when sourceDir has one, else none (`packages`)
   */
  readonly requirementsFile?: string;
  /**
   * Environment variables of the app container read from Secret keys
   * (`valueFrom.secretKeyRef`). The Secrets are not synthesized: they must
   * exist in the cluster, and the Deployment declares them external.
   * @default {}
   */
  readonly secretEnv?: Readonly<Record<string, SecretKeyReference>>;
  /**
   * Secrets whose every key becomes an environment variable of the app
   * container (`envFrom.secretRef`), in this order. Not synthesized; each
   * must exist in the cluster before the pod can start.
   * @default []
   */
  readonly envFromSecrets?: readonly string[];
  /**
   * A package index for pip (`--index-url`): an in-cluster mirror for an
   * offline cluster.
   * @default - pip's own default (PyPI)
   */
  readonly pipIndexUrl?: string;
  /** @default 1 */
  readonly replicas?: number;
  /**
   * Extra environment variables for the app container.
   * @default {}
   */
  readonly env?: Readonly<Record<string, string>>;
  /** @default requests 250m / 256Mi, limits 500m / 1Gi */
  readonly resources?: AppResources;
  /**
   * @default initialDelaySeconds 10, periodSeconds 5, timeoutSeconds 3,
   * failureThreshold 12: the incident's values, about 60 s for pip.
   */
  readonly startupProbe?: ProbeTiming;
  /** @default initialDelaySeconds 0, periodSeconds 10, timeoutSeconds 3, failureThreshold 3 */
  readonly readinessProbe?: ProbeTiming;
  /** @default initialDelaySeconds 0, periodSeconds 20, timeoutSeconds 3, failureThreshold 3 */
  readonly livenessProbe?: ProbeTiming;
  /**
   * Run on this GPU pool's nodes: its node selector (pool and CPU
   * architecture), its taint's toleration and the `nvidia` RuntimeClass.
   * @default - no GPU: any untainted node
   */
  readonly gpuPool?: GpuNodePool;
  /**
   * GPUs per pod (`nvidia.com/gpu`, request equal to limit), at most the
   * pool's `gpusPerNode`. Needs `gpuPool`.
   * @default 1 with a gpuPool
   */
  readonly gpuCount?: number;
  /**
   * Who may connect to the app's port, besides the constructs that add
   * themselves (a {@link DebugMonitor} watching it). Every other connection
   * in is denied (the namespace should have a {@link DefaultDenyPolicy}).
   * @default [] (config.ts: k3s' Traefik ingress controller)
   */
  readonly ingressFrom?: readonly NetworkPeer[];
  /**
   * Connections the app opens besides DNS and pip's package index, which are
   * always allowed. Must name the index's pods when `pipIndexUrl` is an
   * in-cluster Service.
   * @default []
   */
  readonly egressTo?: readonly EgressRule[];
  /**
   * The cluster's address ranges and DNS, for the app's NetworkPolicy: pip's
   * index is any address outside the pod and Service ranges.
   * @default - k3s' defaults: {@link k3sNetwork}()
   */
  readonly clusterNetwork?: ClusterNetwork;
}

/** Annotation and label keys this project owns. */
export const ANNOTATION_PREFIX = 'manifests.sophia.ai';
export const SECURITY_MODE_KEY = `${ANNOTATION_PREFIX}/security-mode`;
export const SOURCE_HASH_KEY = `${ANNOTATION_PREFIX}/source-hash`;
export { EXTERNAL_SECRETS_KEY } from './secret-references';

/** The uid/gid the hardened pod runs as: the incident's `useradd 1000`. */
export const APP_UID = 1000;
