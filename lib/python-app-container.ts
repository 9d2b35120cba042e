import { Container, IntOrString, PodSecurityContext, Probe, Volume } from '../imports/k8s';
import { ProbeTiming } from './python-app-props';
import { PythonAppSpec } from './python-app-spec';
import { shellQuote } from './shell';

/**
 * What a security mode decides about the pod: its security context, its
 * containers (the app's included) and its volumes beside the source
 * ConfigMap's.
 */
export interface PythonPodShape {
  readonly securityContext: PodSecurityContext;
  readonly initContainers?: Container[];
  readonly containers: Container[];
  readonly volumes: Volume[];
}

/** What a security mode decides about the app container. */
export type AppRuntime = Required<
  Pick<Container, 'command' | 'workingDir' | 'securityContext' | 'volumeMounts'>
>;

/** The app container: what both modes share, plus the mode's runtime. */
export function appContainer(spec: PythonAppSpec, runtime: AppRuntime): Container {
  const httpGet = { path: spec.healthPath, port: IntOrString.fromString('http') };
  const probe = (timing: Required<ProbeTiming>): Probe => ({ httpGet, ...timing });
  const gpu = spec.gpuLimits;
  return {
    name: 'app',
    image: spec.image,
    imagePullPolicy: 'IfNotPresent',
    ports: [{ name: 'http', containerPort: spec.port, protocol: 'TCP' }],
    env: [...spec.env],
    // Only the app uses the GPUs; a GPU's request must equal its limit.
    resources: gpu
      ? {
          requests: { ...spec.resources.requests, ...gpu },
          limits: { ...spec.resources.limits, ...gpu },
        }
      : spec.resources,
    startupProbe: probe(spec.probes.startup),
    readinessProbe: probe(spec.probes.readiness),
    livenessProbe: probe(spec.probes.liveness),
    terminationMessagePolicy: 'FallbackToLogsOnError',
    ...runtime,
  };
}

/** The pip command line: quiet about itself, never interactive, no cache in the image. */
export function pipInstall(
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
