import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { EnvVar, Quantity, ResourceRequirements } from '../imports/k8s';
import { InvalidPropError, warn } from './errors';
import { GpuNodePool, GpuPodPlacement } from './gpu-node-pool';
import { IMAGE_REF, isDnsLabel, isHttpUrl } from './names';
import { isAtLeast, PodSecurityLevel, PodSecurityNamespace } from './pod-security-namespace';
import {
  DEFAULT_LIVENESS,
  DEFAULT_READINESS,
  DEFAULT_STARTUP,
  resolveProbe,
  resolveResources,
} from './container-settings';
import { PipInstall, resolvePipInstall } from './pip-install';
import { FixedPythonAppProps, ProbeTiming, SecurityMode } from './python-app-props';
import { AppNetworkSpec, resolveAppNetwork } from './python-app-network';
import { resolveSecretReferences, SecretReferences } from './secret-references';
import { readSourceFiles, SourceFiles } from './source-files';

/** Where things live inside the pod. */
export const APP_PATHS = {
  source: '/app-source',
  code: '/app',
  packages: '/app-packages',
  tmp: '/tmp',
} as const;

/**
 * FixedPythonApp's props with every default applied and every value
 * validated: the one input of the pod shapes and the Kubernetes objects.
 */
export interface PythonAppSpec {
  readonly name: string;
  readonly namespace: string;
  readonly mode: SecurityMode;
  readonly image: string;
  readonly port: number;
  readonly healthPath: string;
  /** Relative to the code root. */
  readonly entrypoint: string;
  /** What pip installs before the app starts; none when undefined. */
  readonly install?: PipInstall;
  readonly pipIndexUrl?: string;
  readonly replicas: number;
  /** The app container's environment: the managed variables, then the user's, sorted. */
  readonly env: readonly EnvVar[];
  /** The app container's Secret references (never the init container's). */
  readonly secrets: SecretReferences;
  /** CPU and memory, without GPUs (the init container gets the same). */
  readonly resources: ResourceRequirements;
  /** `nvidia.com/gpu` for the app container, when on a GPU pool. */
  readonly gpuLimits?: Readonly<Record<string, Quantity>>;
  /** Node selector, tolerations and RuntimeClass of the GPU pool. */
  readonly placement?: GpuPodPlacement;
  readonly probes: {
    readonly startup: Required<ProbeTiming>;
    readonly readiness: Required<ProbeTiming>;
    readonly liveness: Required<ProbeTiming>;
  };
  readonly sources: SourceFiles;
  /** Labels that select exactly this app's pods. */
  readonly selectorLabels: Readonly<Record<string, string>>;
  /** The selector labels plus component and manager. */
  readonly labels: Readonly<Record<string, string>>;
  /** Who may connect in, and the connections the pods open. */
  readonly network: AppNetworkSpec;
}

// PEP 508 name, optional extras, optional comma-separated version clauses; no
// URLs, markers or spaces, so nothing a shell or pip could read as an option.
const PEP508_NAME = '[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?';
const VERSION_CLAUSE = '(?:===|==|~=|!=|<=|>=|<|>)[A-Za-z0-9.*+!_-]+';
const PACKAGE_SPEC = new RegExp(
  `^${PEP508_NAME}(?:\\[${PEP508_NAME}(?:,${PEP508_NAME})*\\])?(?:${VERSION_CLAUSE}(?:,${VERSION_CLAUSE})*)?$`,
);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Turns FixedPythonApp's props into its spec, or throws an InvalidPropError
 * on `scope` naming the first bad prop. Reads `sourceDir`.
 */
export function resolvePythonAppSpec(
  scope: Construct,
  id: string,
  props: FixedPythonAppProps,
): PythonAppSpec {
  const mode = props.mode;
  if (!Object.values(SecurityMode).includes(mode)) {
    throw new InvalidPropError(
      scope,
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
      scope,
      'name',
      name,
      'a DNS-1035 label (lowercase letters, digits, "-"; starts with a letter; at most 63 characters)',
    );
  }
  const namespace = resolveNamespace(scope, props.namespace, mode);
  const port = props.port ?? 8000;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidPropError(scope, 'port', port, 'an integer from 1 to 65535');
  }
  const replicas = props.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1) {
    throw new InvalidPropError(scope, 'replicas', replicas, 'an integer of at least 1');
  }
  const healthPath = props.healthPath ?? '/health';
  if (typeof healthPath !== 'string' || !/^\/[\x21-\x7e]*$/.test(healthPath)) {
    throw new InvalidPropError(
      scope,
      'healthPath',
      healthPath,
      'an HTTP path starting with "/" without spaces',
    );
  }
  const image = props.image ?? 'python:3.11-slim';
  if (!IMAGE_REF.test(image)) {
    throw new InvalidPropError(
      scope,
      'image',
      image,
      'an image reference like "python:3.11-slim" or "registry/name@sha256:<digest>"',
    );
  }
  const entrypoint = props.entrypoint ?? 'app.py';
  for (const spec of props.packages ?? []) {
    if (typeof spec !== 'string' || !PACKAGE_SPEC.test(spec)) {
      throw new InvalidPropError(
        scope,
        'packages',
        spec,
        'pip requirement specifiers like "fastapi", "uvicorn[standard]" or "fastapi==0.115.0,<1" (no spaces, URLs, markers or options)',
      );
    }
  }
  if (props.pipIndexUrl !== undefined && !isHttpUrl(props.pipIndexUrl)) {
    throw new InvalidPropError(
      scope,
      'pipIndexUrl',
      props.pipIndexUrl,
      'an http:// or https:// URL without spaces or quotes',
    );
  }
  const managed = managedEnv(mode, port, props.gpuPool !== undefined);
  const env = resolveEnv(scope, props.env ?? {}, managed);
  const secrets = resolveSecretReferences(
    scope,
    props.secretEnv ?? {},
    props.envFromSecrets ?? [],
    new Map(env.map((e) => [e.name, managed.includes(e) ? 'FixedPythonApp itself' : 'env'])),
  );
  if (props.gpuCount !== undefined && props.gpuPool === undefined) {
    throw new InvalidPropError(
      scope,
      'gpuCount',
      props.gpuCount,
      'only together with gpuPool (the GpuNodePool whose GPUs to use)',
    );
  }
  if (props.gpuPool !== undefined && !(props.gpuPool instanceof GpuNodePool)) {
    throw new InvalidPropError(scope, 'gpuPool', String(props.gpuPool), 'a GpuNodePool');
  }
  const gpuLimits = props.gpuPool?.gpuLimits(scope, props.gpuCount ?? 1, 'gpuCount');
  const resources = resolveResources(scope, props.resources);
  const probes = {
    startup: resolveProbe(scope, 'startupProbe', props.startupProbe, DEFAULT_STARTUP),
    readiness: resolveProbe(scope, 'readinessProbe', props.readinessProbe, DEFAULT_READINESS),
    liveness: resolveProbe(scope, 'livenessProbe', props.livenessProbe, DEFAULT_LIVENESS),
  };

  const network = resolveAppNetwork(scope, props, namespace);

  const sources = readSourceFiles(scope, 'sourceDir', props.sourceDir);
  if (!sources.paths.includes(entrypoint)) {
    const scripts = sources.paths.filter((p) => p.endsWith('.py'));
    throw new InvalidPropError(
      scope,
      'entrypoint',
      entrypoint,
      `a file in sourceDir "${props.sourceDir}", as a path relative to it: one of ${scripts.slice(0, 10).join(', ')}${scripts.length > 10 ? ', ...' : ''}`,
    );
  }
  const install = resolvePipInstall(
    scope,
    {
      sourceDir: props.sourceDir,
      requirementsFile: props.requirementsFile,
      packages: props.packages,
      singleArchitecture: props.gpuPool !== undefined,
    },
    sources,
  );
  if (mode === SecurityMode.ROOT_DEBUG) {
    warn(
      scope,
      'SecurityMode.ROOT_DEBUG runs the app as root with a writable root filesystem; use it for an emergency only and go back to HARDENED.',
    );
  }

  const selectorLabels = {
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/instance': name,
  };
  return {
    name,
    namespace,
    mode,
    image,
    port,
    healthPath,
    entrypoint,
    install,
    pipIndexUrl: props.pipIndexUrl,
    replicas,
    env,
    secrets,
    resources,
    gpuLimits,
    placement: props.gpuPool?.placement(),
    probes,
    sources,
    selectorLabels,
    labels: {
      ...selectorLabels,
      'app.kubernetes.io/component': 'backend',
      'app.kubernetes.io/managed-by': 'cdk8s',
    },
    network,
  };
}

function resolveNamespace(
  scope: Construct,
  value: FixedPythonAppProps['namespace'],
  mode: SecurityMode,
): string {
  if (value instanceof PodSecurityNamespace) {
    const needed =
      mode === SecurityMode.HARDENED ? PodSecurityLevel.RESTRICTED : PodSecurityLevel.BASELINE;
    if (mode === SecurityMode.ROOT_DEBUG && isAtLeast(value.enforce, PodSecurityLevel.RESTRICTED)) {
      throw new InvalidPropError(
        scope,
        'namespace',
        value.name,
        `a namespace that admits root pods for mode "${mode}": it enforces "${value.enforce}", at most "${needed}" is needed`,
      );
    }
    return value.name;
  }
  const name = value ?? Chart.of(scope).namespace;
  if (name === undefined || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 63) {
    throw new InvalidPropError(
      scope,
      'namespace',
      name,
      'a PodSecurityNamespace or a DNS-1123 label, or a Chart with a namespace',
    );
  }
  return name;
}

/** The managed variables first, then the user's in name order. */
function resolveEnv(
  scope: Construct,
  env: Readonly<Record<string, string>>,
  managed: readonly EnvVar[],
): EnvVar[] {
  for (const [key, value] of Object.entries(env)) {
    if (!ENV_NAME.test(key)) {
      throw new InvalidPropError(
        scope,
        'env',
        key,
        'variable names of letters, digits and "_", not starting with a digit',
      );
    }
    if (managed.some((e) => e.name === key)) {
      throw new InvalidPropError(
        scope,
        'env',
        key,
        `a name other than those FixedPythonApp sets itself (${managed.map((e) => e.name).join(', ')})`,
      );
    }
    if (typeof value !== 'string') {
      throw new InvalidPropError(scope, `env.${key}`, value, 'a string');
    }
  }
  return [
    ...managed,
    ...Object.keys(env)
      .sort()
      .map((key) => ({ name: key, value: env[key] })),
  ];
}

function managedEnv(mode: SecurityMode, port: number, gpu: boolean): EnvVar[] {
  const env: EnvVar[] = [
    { name: 'PORT', value: String(port) },
    // Logs reach `kubectl logs` as they are written, not when a buffer fills.
    { name: 'PYTHONUNBUFFERED', value: '1' },
    // The code folder is read-only: no .pyc next to it.
    { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
  ];
  // The code root first, so `import routers.health` works from an entrypoint
  // in any sub-folder, as from the root.
  if (mode === SecurityMode.HARDENED) {
    env.push(
      { name: 'PYTHONPATH', value: `${APP_PATHS.code}:${APP_PATHS.packages}` },
      { name: 'HOME', value: APP_PATHS.tmp },
    );
  } else {
    env.push({ name: 'PYTHONPATH', value: APP_PATHS.source });
  }
  if (gpu) {
    // python:3.11-slim is no CUDA image: tell the NVIDIA runtime what to inject.
    env.push({ name: 'NVIDIA_DRIVER_CAPABILITIES', value: 'compute,utility' });
  }
  return env;
}
