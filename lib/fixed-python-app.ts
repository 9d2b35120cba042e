import { Construct } from 'constructs';
import {
  IntOrString,
  KubeConfigMap,
  KubeDeployment,
  KubePodDisruptionBudget,
  KubeService,
} from '../imports/k8s';
import { warn } from './errors';
import { hardenedPod } from './hardened-pod';
import { PodNetworkPolicy } from './pod-network-policy';
import {
  EXTERNAL_SECRETS_KEY,
  FixedPythonAppProps,
  SECURITY_MODE_KEY,
  SecurityMode,
  SOURCE_HASH_KEY,
} from './python-app-props';
import { PythonAppSpec, resolvePythonAppSpec } from './python-app-spec';
import { rootDebugPod } from './root-debug-pod';
import { LAST_APPLIED_MAX_BYTES } from './source-files';

export * from './python-app-props';

/**
 * A Python web app whose source files are shipped in a ConfigMap, run by a
 * Deployment behind a ClusterIP Service, with the incident's fixes built in:
 * probes with the proven startup budget, unbuffered logs, explicit security
 * contexts and scripts that say where they stopped.
 *
 * The props flow one way: {@link resolvePythonAppSpec} validates them and
 * applies the defaults, the mode's pod shape ({@link hardenedPod},
 * {@link rootDebugPod}) is built from that spec, and this class turns both
 * into Kubernetes objects.
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
  /** The pods' NetworkPolicy and declared connections; other constructs connect through it. */
  public readonly networkPolicy: PodNetworkPolicy;

  constructor(scope: Construct, id: string, props: FixedPythonAppProps) {
    super(scope, id);
    const spec = resolvePythonAppSpec(this, id, props);
    this.serviceName = spec.name;
    this.namespace = spec.namespace;
    this.port = spec.port;
    this.healthPath = spec.healthPath;
    this.mode = spec.mode;
    this.selectorLabels = spec.selectorLabels;

    this.configMap = this.sourceConfigMap(spec);
    this.networkPolicy = this.networkPolicyOf(spec);
    this.deployment = this.deploymentOf(spec);
    this.networkPolicy.declareOn(this.deployment);
    this.service = new KubeService(this, 'Service', {
      metadata: this.metadata(spec),
      spec: {
        type: 'ClusterIP',
        selector: { ...spec.selectorLabels },
        ports: [
          {
            name: 'http',
            port: spec.port,
            targetPort: IntOrString.fromString('http'),
            protocol: 'TCP',
          },
        ],
      },
    });
    if (spec.replicas >= 2) {
      new KubePodDisruptionBudget(this, 'DisruptionBudget', {
        metadata: this.metadata(spec),
        spec: {
          maxUnavailable: IntOrString.fromNumber(1),
          selector: { matchLabels: { ...spec.selectorLabels } },
        },
      });
    }
  }

  private networkPolicyOf(spec: PythonAppSpec): PodNetworkPolicy {
    const policy = new PodNetworkPolicy(this, 'NetworkPolicy', {
      name: spec.name,
      namespace: spec.namespace,
      podLabels: spec.selectorLabels,
    });
    const { ingressFrom, egress } = spec.network;
    if (ingressFrom.length > 0) {
      policy.allowFrom(
        ingressFrom,
        [{ port: spec.port }],
        'requests to the app (ingressFrom)',
        'ingressFrom',
      );
    }
    // Both modes install packages at pod start: pip needs DNS and its index.
    for (const e of egress) policy.allowTo(e.peers, e.ports, e.purpose, 'egressTo');
    return policy;
  }

  private metadata(spec: PythonAppSpec) {
    return { name: spec.name, namespace: spec.namespace, labels: { ...spec.labels } };
  }

  private sourceConfigMap(spec: PythonAppSpec): KubeConfigMap {
    const { data, binaryData } = spec.sources;
    const configMap = new KubeConfigMap(this, 'Source', {
      metadata: { ...this.metadata(spec), name: `${spec.name}-source` },
      data,
      binaryData: Object.keys(binaryData).length > 0 ? binaryData : undefined,
    });
    // Client-side `kubectl apply` keeps the whole object, JSON-encoded, in an
    // annotation, and the API server caps all annotations together.
    const appliedSize = Buffer.byteLength(JSON.stringify(configMap.toJson()));
    if (appliedSize > LAST_APPLIED_MAX_BYTES) {
      warn(
        this,
        `the source ConfigMap is ${appliedSize} bytes as JSON, over the ${LAST_APPLIED_MAX_BYTES} bytes client-side \`kubectl apply\` can record; apply it with \`kubectl apply --server-side\`.`,
      );
    }
    return configMap;
  }

  private deploymentOf(spec: PythonAppSpec): KubeDeployment {
    const pod = spec.mode === SecurityMode.HARDENED ? hardenedPod(spec) : rootDebugPod(spec);
    const modeAnnotation = { [SECURITY_MODE_KEY]: spec.mode };
    const selector = () => ({ matchLabels: { ...spec.selectorLabels } });
    // Secrets the pods read but the manifests never hold: validate lists them
    // as "must exist in the cluster" instead of calling them dangling.
    const external = spec.secrets.external;
    return new KubeDeployment(this, 'Deployment', {
      metadata: {
        ...this.metadata(spec),
        annotations: {
          ...modeAnnotation,
          ...(external.length > 0 ? { [EXTERNAL_SECRETS_KEY]: external.join(',') } : {}),
        },
      },
      spec: {
        replicas: spec.replicas,
        revisionHistoryLimit: 5,
        selector: selector(),
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
            labels: { ...spec.labels },
            annotations: { ...modeAnnotation, [SOURCE_HASH_KEY]: spec.sources.hash },
          },
          spec: {
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            topologySpreadConstraints:
              spec.replicas >= 2
                ? [
                    {
                      maxSkew: 1,
                      topologyKey: 'kubernetes.io/hostname',
                      whenUnsatisfiable: 'ScheduleAnyway',
                      labelSelector: selector(),
                    },
                  ]
                : undefined,
            ...pod,
            ...spec.placement,
            volumes: [
              {
                name: 'app-source',
                // Keys are flat; items give each file its path back, folders included.
                configMap: {
                  name: `${spec.name}-source`,
                  defaultMode: 0o444,
                  items: spec.sources.files.map(({ key, path }) => ({ key, path })),
                },
              },
              ...pod.volumes,
            ],
          },
        },
      },
    });
  }
}
