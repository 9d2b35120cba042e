import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { BackendAlertRules, BackendAlertRulesProps } from './backend-alert-rules';
import { DebugMonitor } from './debug-monitor';
import {
  DebugMonitorServiceMonitor,
  DebugMonitorServiceMonitorProps,
} from './debug-monitor-service-monitor';

/** The Prometheus Operator objects, as config.ts describes them. */
export interface MonitoringConfig {
  /**
   * Labels of the ServiceMonitor and the PrometheusRule: what the cluster's
   * Prometheus selects them by (`serviceMonitorSelector`, `ruleSelector`).
   */
  readonly labels: Readonly<Record<string, string>>;
  /** The ServiceMonitor's settings beyond the monitor and the labels. */
  readonly scrape?: Omit<DebugMonitorServiceMonitorProps, 'monitor' | 'labels'>;
  /** The alerts' names and thresholds. */
  readonly alerts?: Omit<BackendAlertRulesProps, 'monitor' | 'labels' | 'job'>;
}

export interface MonitoringChartProps extends MonitoringConfig {
  /** The DebugMonitor of a variant (its objects are named alike in every variant). */
  readonly monitor: DebugMonitor;
}

/**
 * The Prometheus Operator objects for a DebugMonitor, in a chart of their
 * own so that the variants stay applicable on a cluster without the
 * operator's CRDs: a ServiceMonitor that scrapes the monitor and the
 * backend's alert rules.
 */
export class MonitoringChart extends Chart {
  public readonly serviceMonitor: DebugMonitorServiceMonitor;
  public readonly alerts: BackendAlertRules;

  constructor(scope: Construct, id: string, props: MonitoringChartProps) {
    super(scope, id, { disableResourceNameHashes: true });
    const { monitor, labels } = props;
    this.serviceMonitor = new DebugMonitorServiceMonitor(this, 'scrape', {
      ...props.scrape,
      monitor,
      labels,
    });
    this.alerts = new BackendAlertRules(this, 'alerts', {
      ...props.alerts,
      monitor,
      labels,
      // The alerts select the series by the job the ServiceMonitor gives them.
      job: this.serviceMonitor.job,
    });
  }
}
