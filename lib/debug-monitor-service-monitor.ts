import { Construct } from 'constructs';
import {
  ServiceMonitor,
  ServiceMonitorSpecEndpointsScheme,
} from '../imports/monitoring.coreos.com';
import { DebugMonitor } from './debug-monitor';
import { InvalidPropError } from './errors';
import { invalidLabel } from './labels';
import { isDnsLabel } from './names';
import { DURATION_ALLOWED, durationSeconds } from './prometheus-duration';

export interface DebugMonitorServiceMonitorProps {
  /** The monitor whose metrics Service is scraped. */
  readonly monitor: DebugMonitor;
  /**
   * How often Prometheus scrapes the monitor.
   * @default '15s'
   */
  readonly interval?: string;
  /**
   * Labels of the ServiceMonitor: what the cluster's Prometheus selects
   * ServiceMonitors by (its `serviceMonitorSelector`).
   * @default - none
   */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Name of the ServiceMonitor.
   * @default - the monitor's name
   */
  readonly name?: string;
}

/**
 * A Prometheus Operator ServiceMonitor for a DebugMonitor's metrics Service,
 * in the monitor's namespace. Prometheus names the scrape job after the
 * Service, which is the `job` label BackendAlertRules select on.
 */
export class DebugMonitorServiceMonitor extends Construct {
  public readonly serviceMonitor: ServiceMonitor;
  /** The `job` label of the scraped series: the Service's name. */
  public readonly job: string;

  constructor(scope: Construct, id: string, props: DebugMonitorServiceMonitorProps) {
    super(scope, id);
    const monitor = props.monitor;
    if (!(monitor instanceof DebugMonitor)) {
      throw new InvalidPropError(this, 'monitor', String(monitor), 'a DebugMonitor');
    }
    const interval = props.interval ?? '15s';
    if (durationSeconds(interval) === undefined) {
      throw new InvalidPropError(this, 'interval', interval, DURATION_ALLOWED);
    }
    const labels = props.labels ?? {};
    const badLabel = invalidLabel(labels);
    if (badLabel !== undefined) {
      throw new InvalidPropError(
        this,
        'labels',
        labels,
        `Kubernetes labels (key ${JSON.stringify(badLabel)} or its value is not valid)`,
      );
    }
    const name = props.name ?? monitor.name;
    if (!isDnsLabel(name)) {
      throw new InvalidPropError(this, 'name', name, 'a DNS-1123 label of at most 63 characters');
    }

    this.job = monitor.service.name;
    this.serviceMonitor = new ServiceMonitor(this, 'ServiceMonitor', {
      metadata: {
        name,
        namespace: monitor.namespace,
        labels: {
          ...labels,
          'app.kubernetes.io/name': monitor.name,
          'app.kubernetes.io/component': 'monitor',
          'app.kubernetes.io/managed-by': 'cdk8s',
        },
      },
      spec: {
        selector: { matchLabels: { ...monitor.selectorLabels } },
        namespaceSelector: { matchNames: [monitor.namespace] },
        endpoints: [
          {
            port: monitor.metricsPortName,
            path: '/metrics',
            scheme: ServiceMonitorSpecEndpointsScheme.HTTP,
            interval,
          },
        ],
      },
    });
  }
}
