import { Container, IntOrString, PodSecurityContext, Probe, Volume } from '../imports/k8s';
import { ProbeTiming } from './python-app-props';
import { PythonAppSpec } from './python-app-spec';

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
    env: [...spec.env, ...spec.secrets.env],
    envFrom: spec.secrets.envFrom.length > 0 ? [...spec.secrets.envFrom] : undefined,
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
