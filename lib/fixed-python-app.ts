import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import {
  Container,
  EnvVar,
  IntOrString,
  KubeConfigMap,
  KubeDeployment,
  KubePodDisruptionBudget,
  KubeService,
  PodSecurityContext,
  Probe,
  Quantity,
  Volume,
  VolumeMount,
} from '../imports/k8s';
import { InvalidPropError, warn } from './errors';
import { GpuNodePool } from './gpu-node-pool';
import { isAtLeast, PodSecurityLevel, PodSecurityNamespace } from './pod-security-namespace';
import { parseQuantity } from './quantity';
import { shellQuote, shellScript, ShellStep } from './shell';
import { IMAGE_REF, isDnsLabel } from './names';
import {
  restrictedContainerSecurity,
  restrictedPodSecurity,
  rootContainerSecurity,
} from './security-context';
import { LAST_APPLIED_MAX_BYTES, readSourceFiles } from './source-files';

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

export interface FixedPythonAppProps {
  /** Folder whose regular files become the app's ConfigMap (flat; `__pycache__` is skipped). */
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
   * The file in `sourceDir` that `python` runs.
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
   * pip requirement specifiers installed before the app starts.
   * @default ['fastapi', 'uvicorn']
   */
  readonly packages?: readonly string[];
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
}

/** Annotation and label keys this project owns. */
export const ANNOTATION_PREFIX = 'manifests.sophia.ai';
export const SECURITY_MODE_KEY = `${ANNOTATION_PREFIX}/security-mode`;
export const SOURCE_HASH_KEY = `${ANNOTATION_PREFIX}/source-hash`;

/** The uid/gid the hardened pod runs as: the incident's `useradd 1000`. */
export const APP_UID = 1000;

const DEFAULT_STARTUP: Required<ProbeTiming> = {
  initialDelaySeconds: 10,
  periodSeconds: 5,
  timeoutSeconds: 3,
  failureThreshold: 12,
};
const DEFAULT_READINESS: Required<ProbeTiming> = {
  initialDelaySeconds: 0,
  periodSeconds: 10,
  timeoutSeconds: 3,
  failureThreshold: 3,
};
const DEFAULT_LIVENESS: Required<ProbeTiming> = {
  initialDelaySeconds: 0,
  periodSeconds: 20,
  timeoutSeconds: 3,
  failureThreshold: 3,
};
const DEFAULT_REQUESTS = { cpu: '250m', memory: '256Mi' };
const DEFAULT_LIMITS = { cpu: '500m', memory: '1Gi' };

// PEP 508 name, optional extras, optional comma-separated version clauses; no
// URLs, markers or spaces, so nothing a shell or pip could read as an option.
const PEP508_NAME = '[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?';
const VERSION_CLAUSE = '(?:===|==|~=|!=|<=|>=|<|>)[A-Za-z0-9.*+!_-]+';
const PACKAGE_SPEC = new RegExp(
  `^${PEP508_NAME}(?:\\[${PEP508_NAME}(?:,${PEP508_NAME})*\\])?(?:${VERSION_CLAUSE}(?:,${VERSION_CLAUSE})*)?$`,
);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Where things live inside the pod. */
const PATHS = {
  source: '/app-source',
  code: '/app',
  packages: '/app-packages',
  tmp: '/tmp',
} as const;

/**
 * A Python web app whose source files are shipped in a ConfigMap, run by a
 * Deployment behind a ClusterIP Service, with the incident's fixes built in:
 * probes with the proven startup budget, unbuffered logs, explicit security
 * contexts and scripts that say where they stopped.
 */
export class FixedPythonApp extends Construct {
  /** Name of the ClusterIP Service (and of the Deployment). */
  public readonly serviceName: string;
  public readonly namespace: string;
  public readonly port: number;
  public readonly healthPath: string;
  public readonly mode: SecurityMode;
  /** Labels that select exactly this app's pods. */
  public readonly selectorLabels: Readonly<Record<string, string>>;
  public readonly deployment: KubeDeployment;
  public readonly service: KubeService;
  public readonly configMap: KubeConfigMap;

  constructor(scope: Construct, id: string, props: FixedPythonAppProps) {
    super(scope, id);

    const mode = props.mode;
    if (!Object.values(SecurityMode).includes(mode)) {
      throw new InvalidPropError(
        this,
        'mode',
        mode,
        `one of ${Object.values(SecurityMode)
          .map((m) => `"${m}"`)
          .join(', ')}`,
      );
    }
    const name = props.name ?? id;
    if (!isDnsLabel(name, true)) {
      throw new InvalidPropError(
        this,
        'name',
        name,
        'a DNS-1035 label (lowercase letters, digits, "-"; starts with a letter; at most 63 characters)',
      );
    }
    const namespace = this.resolveNamespace(props.namespace, mode);
    const port = props.port ?? 8000;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new InvalidPropError(this, 'port', port, 'an integer from 1 to 65535');
    }
    const replicas = props.replicas ?? 1;
    if (!Number.isInteger(replicas) || replicas < 1) {
      throw new InvalidPropError(this, 'replicas', replicas, 'an integer of at least 1');
    }
    const healthPath = props.healthPath ?? '/health';
    if (typeof healthPath !== 'string' || !/^\/[\x21-\x7e]*$/.test(healthPath)) {
      throw new InvalidPropError(
        this,
        'healthPath',
        healthPath,
        'an HTTP path starting with "/" without spaces',
      );
    }
    const image = props.image ?? 'python:3.11-slim';
    if (!IMAGE_REF.test(image)) {
      throw new InvalidPropError(
        this,
        'image',
        image,
        'an image reference like "python:3.11-slim" or "registry/name@sha256:<digest>"',
      );
    }
    const entrypoint = props.entrypoint ?? 'app.py';
    const packages = props.packages ?? ['fastapi', 'uvicorn'];
    for (const spec of packages) {
      if (typeof spec !== 'string' || !PACKAGE_SPEC.test(spec)) {
        throw new InvalidPropError(
          this,
          'packages',
          spec,
          'pip requirement specifiers like "fastapi", "uvicorn[standard]" or "fastapi==0.115.0,<1" (no spaces, URLs, markers or options)',
        );
      }
    }
    if (props.pipIndexUrl !== undefined && !isHttpUrl(props.pipIndexUrl)) {
      throw new InvalidPropError(
        this,
        'pipIndexUrl',
        props.pipIndexUrl,
        'an http:// or https:// URL without spaces or quotes',
      );
    }
    const env = props.env ?? {};
    const managedEnv = this.managedEnv(mode, port, props.gpuPool !== undefined);
    for (const [key, value] of Object.entries(env)) {
      if (!ENV_NAME.test(key)) {
        throw new InvalidPropError(
          this,
          'env',
          key,
          'variable names of letters, digits and "_", not starting with a digit',
        );
      }
      if (managedEnv.some((e) => e.name === key)) {
        throw new InvalidPropError(
          this,
          'env',
          key,
          `a name other than those FixedPythonApp sets itself (${managedEnv.map((e) => e.name).join(', ')})`,
        );
      }
      if (typeof value !== 'string') {
        throw new InvalidPropError(this, `env.${key}`, value, 'a string');
      }
    }
    if (props.gpuCount !== undefined && props.gpuPool === undefined) {
      throw new InvalidPropError(
        this,
        'gpuCount',
        props.gpuCount,
        'only together with gpuPool (the GpuNodePool whose GPUs to use)',
      );
    }
    if (props.gpuPool !== undefined && !(props.gpuPool instanceof GpuNodePool)) {
      throw new InvalidPropError(this, 'gpuPool', String(props.gpuPool), 'a GpuNodePool');
    }
    const gpuLimits = props.gpuPool?.gpuLimits(this, props.gpuCount ?? 1, 'gpuCount');
    const resources = this.resolveResources(props.resources);
    const startup = this.resolveProbe('startupProbe', props.startupProbe, DEFAULT_STARTUP);
    const readiness = this.resolveProbe('readinessProbe', props.readinessProbe, DEFAULT_READINESS);
    const liveness = this.resolveProbe('livenessProbe', props.livenessProbe, DEFAULT_LIVENESS);

    const sources = readSourceFiles(this, 'sourceDir', props.sourceDir);
    if (!sources.keys.includes(entrypoint)) {
      throw new InvalidPropError(
        this,
        'entrypoint',
        entrypoint,
        `a file in sourceDir "${props.sourceDir}": one of ${sources.keys.join(', ')}`,
      );
    }
    if (mode === SecurityMode.ROOT_DEBUG) {
      warn(
        this,
        'SecurityMode.ROOT_DEBUG runs the app as root with a writable root filesystem; use it for an emergency only and go back to HARDENED.',
      );
    }

    this.serviceName = name;
    this.namespace = namespace;
    this.port = port;
    this.healthPath = healthPath;
    this.mode = mode;
    this.selectorLabels = {
      'app.kubernetes.io/name': name,
      'app.kubernetes.io/instance': name,
    };
    const labels = {
      ...this.selectorLabels,
      'app.kubernetes.io/component': 'backend',
      'app.kubernetes.io/managed-by': 'cdk8s',
    };
    const modeAnnotation = { [SECURITY_MODE_KEY]: mode };

    this.configMap = new KubeConfigMap(this, 'Source', {
      metadata: { name: `${name}-source`, namespace, labels },
      data: sources.data,
      binaryData: Object.keys(sources.binaryData).length > 0 ? sources.binaryData : undefined,
    });

    // Client-side `kubectl apply` keeps the whole object, JSON-encoded, in an
    // annotation, and the API server caps all annotations together.
    const appliedSize = Buffer.byteLength(JSON.stringify(this.configMap.toJson()));
    if (appliedSize > LAST_APPLIED_MAX_BYTES) {
      warn(
        this,
        `the source ConfigMap is ${appliedSize} bytes as JSON, over the ${LAST_APPLIED_MAX_BYTES} bytes client-side \`kubectl apply\` can record; apply it with \`kubectl apply --server-side\`.`,
      );
    }

    const httpGet = { path: healthPath, port: IntOrString.fromString('http') };
    const probe = (timing: Required<ProbeTiming>): Probe => ({ httpGet, ...timing });
    const appContainer: Container = {
      name: 'app',
      image,
      imagePullPolicy: 'IfNotPresent',
      ports: [{ name: 'http', containerPort: port, protocol: 'TCP' }],
      env: [
        ...managedEnv,
        ...Object.keys(env)
          .sort()
          .map((key) => ({ name: key, value: env[key] })),
      ],
      // Only the app uses the GPUs; a GPU's request must equal its limit.
      resources: gpuLimits
        ? {
            requests: { ...resources.requests, ...gpuLimits },
            limits: { ...resources.limits, ...gpuLimits },
          }
        : resources,
      startupProbe: probe(startup),
      readinessProbe: probe(readiness),
      livenessProbe: probe(liveness),
      terminationMessagePolicy: 'FallbackToLogsOnError',
      ...this.appRuntime(mode, entrypoint, packages, props.pipIndexUrl),
    };

    const pod =
      mode === SecurityMode.HARDENED
        ? this.hardenedPod(
            appContainer,
            sources.keys,
            packages,
            props.pipIndexUrl,
            image,
            resources,
          )
        : this.rootDebugPod(appContainer);

    this.deployment = new KubeDeployment(this, 'Deployment', {
      metadata: { name, namespace, labels, annotations: modeAnnotation },
      spec: {
        replicas,
        revisionHistoryLimit: 5,
        selector: { matchLabels: { ...this.selectorLabels } },
        // Never take the only working pod away before its replacement is ready.
        strategy: {
          type: 'RollingUpdate',
          rollingUpdate: {
            maxUnavailable: IntOrString.fromNumber(0),
            maxSurge: IntOrString.fromNumber(1),
          },
        },
        template: {
          metadata: {
            labels,
            annotations: { ...modeAnnotation, [SOURCE_HASH_KEY]: sources.hash },
          },
          spec: {
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            topologySpreadConstraints:
              replicas >= 2
                ? [
                    {
                      maxSkew: 1,
                      topologyKey: 'kubernetes.io/hostname',
                      whenUnsatisfiable: 'ScheduleAnyway',
                      labelSelector: { matchLabels: { ...this.selectorLabels } },
                    },
                  ]
                : undefined,
            ...pod,
            ...props.gpuPool?.placement(),
            volumes: [
              {
                name: 'app-source',
                configMap: { name: `${name}-source`, defaultMode: 0o444 },
              },
              ...(pod.volumes ?? []),
            ],
          },
        },
      },
    });

    this.service = new KubeService(this, 'Service', {
      metadata: { name, namespace, labels },
      spec: {
        type: 'ClusterIP',
        selector: { ...this.selectorLabels },
        ports: [
          { name: 'http', port, targetPort: IntOrString.fromString('http'), protocol: 'TCP' },
        ],
      },
    });

    if (replicas >= 2) {
      new KubePodDisruptionBudget(this, 'DisruptionBudget', {
        metadata: { name, namespace, labels },
        spec: {
          maxUnavailable: IntOrString.fromNumber(1),
          selector: { matchLabels: { ...this.selectorLabels } },
        },
      });
    }
  }

  private resolveNamespace(value: FixedPythonAppProps['namespace'], mode: SecurityMode): string {
    if (value instanceof PodSecurityNamespace) {
      const needed =
        mode === SecurityMode.HARDENED ? PodSecurityLevel.RESTRICTED : PodSecurityLevel.BASELINE;
      if (
        mode === SecurityMode.ROOT_DEBUG &&
        isAtLeast(value.enforce, PodSecurityLevel.RESTRICTED)
      ) {
        throw new InvalidPropError(
          this,
          'namespace',
          value.name,
          `a namespace that admits root pods for mode "${mode}": it enforces "${value.enforce}", at most "${needed}" is needed`,
        );
      }
      return value.name;
    }
    const name = value ?? Chart.of(this).namespace;
    if (name === undefined || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 63) {
      throw new InvalidPropError(
        this,
        'namespace',
        name,
        'a PodSecurityNamespace or a DNS-1123 label, or a Chart with a namespace',
      );
    }
    return name;
  }

  private resolveResources(given: AppResources | undefined) {
    const requests = { ...DEFAULT_REQUESTS, ...given?.requests };
    const limits = { ...DEFAULT_LIMITS, ...given?.limits };
    for (const [kind, amounts] of [
      ['requests', requests],
      ['limits', limits],
    ] as const) {
      for (const resource of ['cpu', 'memory'] as const) {
        if (parseQuantity(amounts[resource]) === undefined) {
          throw new InvalidPropError(
            this,
            `resources.${kind}.${resource}`,
            amounts[resource],
            'a Kubernetes quantity like "250m", "1", "256Mi" or "1Gi"',
          );
        }
      }
    }
    for (const resource of ['cpu', 'memory'] as const) {
      if (parseQuantity(requests[resource])! > parseQuantity(limits[resource])!) {
        throw new InvalidPropError(
          this,
          `resources.requests.${resource}`,
          requests[resource],
          `at most the limit (${limits[resource]}): Kubernetes rejects a request above its limit`,
        );
      }
    }
    return {
      requests: {
        cpu: Quantity.fromString(requests.cpu),
        memory: Quantity.fromString(requests.memory),
      },
      limits: { cpu: Quantity.fromString(limits.cpu), memory: Quantity.fromString(limits.memory) },
    };
  }

  private resolveProbe(
    prop: string,
    given: ProbeTiming | undefined,
    defaults: Required<ProbeTiming>,
  ): Required<ProbeTiming> {
    const timing = { ...defaults, ...given };
    for (const [key, value] of Object.entries(timing)) {
      const min = key === 'initialDelaySeconds' ? 0 : 1;
      if (!Number.isInteger(value) || value < min) {
        throw new InvalidPropError(this, `${prop}.${key}`, value, `an integer of at least ${min}`);
      }
    }
    return timing;
  }

  private managedEnv(mode: SecurityMode, port: number, gpu: boolean): EnvVar[] {
    const env: EnvVar[] = [
      { name: 'PORT', value: String(port) },
      // Logs reach `kubectl logs` as they are written, not when a buffer fills.
      { name: 'PYTHONUNBUFFERED', value: '1' },
      // The code folder is read-only: no .pyc next to it.
      { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
    ];
    if (mode === SecurityMode.HARDENED) {
      env.push({ name: 'PYTHONPATH', value: PATHS.packages }, { name: 'HOME', value: PATHS.tmp });
    }
    if (gpu) {
      // python:3.11-slim is no CUDA image: tell the NVIDIA runtime what to inject.
      env.push({ name: 'NVIDIA_DRIVER_CAPABILITIES', value: 'compute,utility' });
    }
    return env;
  }

  /** The app container's command and security context. */
  private appRuntime(
    mode: SecurityMode,
    entrypoint: string,
    packages: readonly string[],
    indexUrl: string | undefined,
  ): Partial<Container> {
    if (mode === SecurityMode.HARDENED) {
      const steps: ShellStep[] = [
        {
          say: `starting python ${PATHS.code}/${entrypoint} as uid ${APP_UID}`,
          run: `exec python ${shellQuote(`${PATHS.code}/${entrypoint}`)}`,
        },
      ];
      return {
        command: ['sh', '-c', shellScript('app', steps)],
        workingDir: PATHS.code,
        securityContext: restrictedContainerSecurity(APP_UID),
        volumeMounts: [
          { name: 'app-code', mountPath: PATHS.code, readOnly: true },
          { name: 'app-packages', mountPath: PATHS.packages, readOnly: true },
          { name: 'tmp', mountPath: PATHS.tmp },
        ],
      };
    }
    const steps: ShellStep[] = [];
    if (packages.length > 0) {
      steps.push({
        say: `installing ${packages.join(' ')}`,
        run: pipInstall(packages, indexUrl, ['--root-user-action=ignore']),
      });
    }
    steps.push({
      say: `starting python ${PATHS.source}/${entrypoint} as root from the read-only ConfigMap mount`,
      run: `exec python ${shellQuote(`${PATHS.source}/${entrypoint}`)}`,
    });
    return {
      command: ['sh', '-c', shellScript('app', steps)],
      workingDir: PATHS.source,
      // pip installs into the image's site-packages at every start.
      securityContext: rootContainerSecurity({ readOnlyRootFilesystem: false }),
      volumeMounts: [{ name: 'app-source', mountPath: PATHS.source, readOnly: true }],
    };
  }

  private hardenedPod(
    app: Container,
    keys: readonly string[],
    packages: readonly string[],
    indexUrl: string | undefined,
    image: string,
    resources: Container['resources'],
  ): {
    securityContext: PodSecurityContext;
    initContainers: Container[];
    containers: Container[];
    volumes: Volume[];
  } {
    // ConfigMap files are symlinks into ..data/: -L copies the content, not a
    // link that would dangle in the emptyDir. Keys are listed explicitly so
    // the ..data bookkeeping entries are never copied.
    const steps: ShellStep[] = [
      {
        say: `copying ${keys.length} source file(s) from ${PATHS.source} to ${PATHS.code}`,
        run: `cp -L ${keys.map((key) => shellQuote(`${PATHS.source}/${key}`)).join(' ')} ${PATHS.code}/`,
      },
    ];
    if (packages.length > 0) {
      steps.push({
        say: `installing ${packages.join(' ')} into ${PATHS.packages}`,
        run: pipInstall(packages, indexUrl, ['--target', PATHS.packages]),
      });
    }
    steps.push({ say: 'done', run: `ls -l ${PATHS.code}` });
    const mounts: VolumeMount[] = [
      { name: 'app-source', mountPath: PATHS.source, readOnly: true },
      { name: 'app-code', mountPath: PATHS.code },
      { name: 'app-packages', mountPath: PATHS.packages },
      { name: 'tmp', mountPath: PATHS.tmp },
    ];
    const init: Container = {
      name: 'install',
      image,
      imagePullPolicy: 'IfNotPresent',
      command: ['sh', '-c', shellScript('init', steps)],
      env: [
        { name: 'HOME', value: PATHS.tmp },
        { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
        { name: 'PYTHONUNBUFFERED', value: '1' },
      ],
      resources,
      securityContext: restrictedContainerSecurity(APP_UID),
      terminationMessagePolicy: 'FallbackToLogsOnError',
      volumeMounts: mounts,
    };
    return {
      securityContext: restrictedPodSecurity(APP_UID, { fsGroup: true }),
      initContainers: [init],
      containers: [app],
      volumes: [
        { name: 'app-code', emptyDir: { sizeLimit: Quantity.fromString('64Mi') } },
        { name: 'app-packages', emptyDir: { sizeLimit: Quantity.fromString('1Gi') } },
        { name: 'tmp', emptyDir: { sizeLimit: Quantity.fromString('256Mi') } },
      ],
    };
  }

  private rootDebugPod(app: Container): {
    securityContext: PodSecurityContext;
    containers: Container[];
    volumes: Volume[];
  } {
    return {
      securityContext: {
        runAsNonRoot: false,
        runAsUser: 0,
        runAsGroup: 0,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [app],
      volumes: [],
    };
  }
}

function pipInstall(
  packages: readonly string[],
  indexUrl: string | undefined,
  extra: readonly string[],
): string {
  const args = [
    'python',
    '-m',
    'pip',
    'install',
    '--no-cache-dir',
    '--disable-pip-version-check',
    '--no-input',
    '--progress-bar',
    'off',
  ];
  if (indexUrl !== undefined) args.push('--index-url', indexUrl);
  args.push(...extra, ...packages);
  return args.map((arg) => (/^[-A-Za-z0-9_./=:]+$/.test(arg) ? arg : shellQuote(arg))).join(' ');
}

function isHttpUrl(value: string): boolean {
  if (
    typeof value !== 'string' ||
    !/^https?:\/\/[\x21-\x7e]+$/.test(value) ||
    /['"\\`$]/.test(value)
  )
    return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}
