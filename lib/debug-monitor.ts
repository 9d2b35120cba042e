import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Construct } from 'constructs';
import {
  IntOrString,
  KubeConfigMap,
  KubeDeployment,
  KubeRole,
  KubeRoleBinding,
  KubeService,
  KubeServiceAccount,
  Quantity,
} from '../imports/k8s';
import { ClusterNetwork } from './cluster-network';
import { debugMonitorNetworkPolicy } from './debug-monitor-network';
import { InvalidPropError } from './errors';
import { APP_UID, FixedPythonApp, SOURCE_HASH_KEY } from './fixed-python-app';
import { IMAGE_REF, isDnsLabel } from './names';
import { NetworkPeer } from './network-peer';
import { PodNetworkPolicy } from './pod-network-policy';
import { restrictedContainerSecurity, restrictedPodSecurity } from './security-context';

export interface DebugMonitorProps {
  /** The app to watch: its Service, namespace, port, health path and pods. */
  readonly target: FixedPythonApp;
  /**
   * Seconds between two checks.
   * @default 5
   */
  readonly intervalSeconds?: number;
  /**
   * Seconds one check may take, DNS lookup to body.
   * @default 3
   */
  readonly timeoutSeconds?: number;
  /**
   * Any image with Python 3 (the script uses the standard library only).
   * @default 'python:3.11-slim'
   */
  readonly image?: string;
  /**
   * Port of the monitor's own `/metrics` and `/healthz`.
   * @default 9102
   */
  readonly metricsPort?: number;
  /**
   * Name of the monitor's objects.
   * @default - `<target's service name>-monitor`
   */
  readonly name?: string;
  /**
   * Who may scrape the metrics port (Prometheus).
   * @default [{ namespace: 'monitoring' }]: every pod of `monitoring`
   */
  readonly scrapeFrom?: readonly NetworkPeer[];
  /**
   * Where DNS and the Kubernetes API are, for the monitor's NetworkPolicy.
   * Pass {@link K3sCluster.network}: without the API servers' addresses only
   * the `kubernetes` Service IP is allowed, which k3s' policy controller
   * never sees (it sees the rewritten address), and synth warns.
   * @default - k3s' defaults, without API server addresses
   */
  readonly clusterNetwork?: ClusterNetwork;
}

// One level below the repo root both as lib/ (Jest) and as .build/ (synth bundle).
const SCRIPT_PATH = path.resolve(__dirname, '..', 'monitor', 'debug_monitor.py');
const SCRIPT_KEY = 'debug_monitor.py';
const SCRIPT_DIR = '/monitor';
const METRICS_PORT_NAME = 'metrics';

/**
 * A one-pod prober that GETs the target's health endpoint through its
 * Service, logs one JSON line per check with the reason of a failure (dns,
 * connect, timeout, http, invalid), and while the target is down asks the
 * Kubernetes API why its pods are not running (waiting reasons, exit codes,
 * Warning events, the last lines of a crashed container's previous log).
 * Serves Prometheus metrics. The incident's 64Mi / 50m budget; passes Pod
 * Security `restricted`.
 */
export class DebugMonitor extends Construct {
  /** The app it watches. */
  public readonly target: FixedPythonApp;
  public readonly name: string;
  public readonly namespace: string;
  public readonly metricsPort: number;
  /** Name of the metrics port on the pod and the Service. */
  public readonly metricsPortName: string = METRICS_PORT_NAME;
  /** Labels of the monitor's pods, also set on its Service. */
  public readonly selectorLabels: Readonly<Record<string, string>>;
  public readonly deployment: KubeDeployment;
  public readonly role: KubeRole;
  /** The Service in front of the metrics port: what a ServiceMonitor selects. */
  public readonly service: KubeService;
  public readonly networkPolicy: PodNetworkPolicy;

  constructor(scope: Construct, id: string, props: DebugMonitorProps) {
    super(scope, id);
    const target = props.target;
    if (!(target instanceof FixedPythonApp)) {
      throw new InvalidPropError(this, 'target', String(target), 'a FixedPythonApp');
    }
    const intervalSeconds = props.intervalSeconds ?? 5;
    const timeoutSeconds = props.timeoutSeconds ?? 3;
    if (typeof intervalSeconds !== 'number' || !(intervalSeconds > 0) || intervalSeconds > 3600) {
      throw new InvalidPropError(
        this,
        'intervalSeconds',
        intervalSeconds,
        'a number of seconds above 0, at most 3600',
      );
    }
    if (
      typeof timeoutSeconds !== 'number' ||
      !(timeoutSeconds > 0) ||
      timeoutSeconds > intervalSeconds
    ) {
      throw new InvalidPropError(
        this,
        'timeoutSeconds',
        timeoutSeconds,
        `a number of seconds above 0, at most intervalSeconds (${intervalSeconds})`,
      );
    }
    const metricsPort = props.metricsPort ?? 9102;
    if (!Number.isInteger(metricsPort) || metricsPort < 1 || metricsPort > 65535) {
      throw new InvalidPropError(this, 'metricsPort', metricsPort, 'an integer from 1 to 65535');
    }
    const image = props.image ?? 'python:3.11-slim';
    if (!IMAGE_REF.test(image)) {
      throw new InvalidPropError(
        this,
        'image',
        image,
        'an image reference like "python:3.11-slim"',
      );
    }
    const name = props.name ?? `${target.serviceName}-monitor`;
    if (!isDnsLabel(name, true)) {
      throw new InvalidPropError(this, 'name', name, 'a DNS-1035 label of at most 63 characters');
    }
    this.target = target;
    this.name = name;
    this.metricsPort = metricsPort;

    const namespace = target.namespace;
    const selectorLabels = { 'app.kubernetes.io/name': name, 'app.kubernetes.io/instance': name };
    this.namespace = namespace;
    this.selectorLabels = selectorLabels;
    const labels = {
      ...selectorLabels,
      'app.kubernetes.io/component': 'monitor',
      'app.kubernetes.io/managed-by': 'cdk8s',
    };
    const scrape = {
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(metricsPort),
      'prometheus.io/path': '/metrics',
    };
    const targetUrl = `http://${target.serviceName}.${namespace}.svc.cluster.local:${target.port}${target.healthPath}`;
    const targetSelector = Object.entries(target.selectorLabels)
      .map(([key, value]) => `${key}=${value}`)
      .join(',');

    new KubeServiceAccount(this, 'ServiceAccount', {
      metadata: { name, namespace, labels },
      automountServiceAccountToken: false,
    });
    // Read-only, this namespace only: what the diagnosis needs and no more
    // (pods/log: a crashed container's previous log, its traceback).
    this.role = new KubeRole(this, 'Role', {
      metadata: { name, namespace, labels },
      rules: [
        { apiGroups: [''], resources: ['pods', 'events'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
      ],
    });
    new KubeRoleBinding(this, 'RoleBinding', {
      metadata: { name, namespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    });

    const script = fs.readFileSync(SCRIPT_PATH, 'utf8');
    new KubeConfigMap(this, 'Script', {
      metadata: { name: `${name}-script`, namespace, labels },
      data: { [SCRIPT_KEY]: script },
    });

    const healthz = {
      httpGet: { path: '/healthz', port: IntOrString.fromString(METRICS_PORT_NAME) },
      periodSeconds: 10,
      timeoutSeconds: 2,
      failureThreshold: 3,
    };
    this.networkPolicy = debugMonitorNetworkPolicy(this, {
      name,
      podLabels: selectorLabels,
      target,
      metricsPort,
      scrapeFrom: props.scrapeFrom,
      clusterNetwork: props.clusterNetwork,
    });

    const budget = { cpu: Quantity.fromString('50m'), memory: Quantity.fromString('64Mi') };
    this.deployment = new KubeDeployment(this, 'Deployment', {
      metadata: { name, namespace, labels },
      spec: {
        replicas: 1,
        revisionHistoryLimit: 3,
        selector: { matchLabels: selectorLabels },
        template: {
          metadata: {
            labels,
            annotations: {
              ...scrape,
              [SOURCE_HASH_KEY]: createHash('sha256').update(script).digest('hex'),
            },
          },
          spec: {
            serviceAccountName: name,
            // The only pod that talks to the API: it mounts the token, the
            // ServiceAccount itself does not hand it to anyone else.
            automountServiceAccountToken: true,
            enableServiceLinks: false,
            securityContext: restrictedPodSecurity(APP_UID),
            containers: [
              {
                name: 'monitor',
                image,
                imagePullPolicy: 'IfNotPresent',
                command: ['python', `${SCRIPT_DIR}/${SCRIPT_KEY}`],
                env: [
                  { name: 'TARGET_URL', value: targetUrl },
                  { name: 'TARGET_NAMESPACE', value: namespace },
                  { name: 'TARGET_SELECTOR', value: targetSelector },
                  { name: 'INTERVAL_SECONDS', value: String(intervalSeconds) },
                  { name: 'TIMEOUT_SECONDS', value: String(timeoutSeconds) },
                  { name: 'METRICS_PORT', value: String(metricsPort) },
                  { name: 'PYTHONUNBUFFERED', value: '1' },
                  { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
                ],
                ports: [{ name: METRICS_PORT_NAME, containerPort: metricsPort, protocol: 'TCP' }],
                resources: { requests: budget, limits: budget },
                readinessProbe: healthz,
                livenessProbe: healthz,
                securityContext: restrictedContainerSecurity(APP_UID),
                terminationMessagePolicy: 'FallbackToLogsOnError',
                volumeMounts: [{ name: 'script', mountPath: SCRIPT_DIR, readOnly: true }],
              },
            ],
            volumes: [
              { name: 'script', configMap: { name: `${name}-script`, defaultMode: 0o444 } },
            ],
          },
        },
      },
    });

    this.networkPolicy.declareOn(this.deployment);

    this.service = new KubeService(this, 'Service', {
      metadata: { name, namespace, labels, annotations: scrape },
      spec: {
        type: 'ClusterIP',
        selector: selectorLabels,
        ports: [
          {
            name: METRICS_PORT_NAME,
            port: metricsPort,
            targetPort: IntOrString.fromString(METRICS_PORT_NAME),
            protocol: 'TCP',
          },
        ],
      },
    });
  }
}
