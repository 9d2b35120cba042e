import { Construct } from 'constructs';
import {
  PrometheusRule,
  PrometheusRuleSpecGroupsRules,
  PrometheusRuleSpecGroupsRulesExpr,
} from '../imports/monitoring.coreos.com';
import { DebugMonitor } from './debug-monitor';
import { InvalidPropError } from './errors';
import { invalidLabel } from './labels';
import { isDnsLabel } from './names';
import { DURATION_ALLOWED, durationSeconds } from './prometheus-duration';

/** The `severity` label of an alert, as Alertmanager routes usually match it. */
export enum AlertSeverity {
  /** Someone must act now. */
  CRITICAL = 'critical',
  /** Someone should look today. */
  WARNING = 'warning',
}

/**
 * The DebugMonitor's failure reasons (monitor/debug_monitor.py REASONS) and
 * what each says about the backend, as the down alert explains them.
 */
export const FAILURE_REASONS: Readonly<Record<string, string>> = {
  dns: 'the Service name does not resolve: Service deleted or renamed, or cluster DNS down',
  connect:
    "the connection is refused: nothing listens on the backend's port, the app crashed or has not started",
  timeout:
    'no answer in time: the app hangs, or packets are dropped (NetworkPolicy, pod or node gone)',
  http: 'the app answers with an error status',
  invalid: 'something answers, but not HTTP: the connection closes or the answer is garbage',
};

export interface BackendAlertRulesProps {
  /** The monitor whose metrics the alerts read. */
  readonly monitor: DebugMonitor;
  /**
   * The `job` label Prometheus gives the monitor's series.
   * @default - the monitor's Service name (what a ServiceMonitor makes it)
   */
  readonly job?: string;
  /**
   * Prefix of the alert names: `<prefix>BackendDown`, `<prefix>BackendSlow`,
   * `<prefix>DebugMonitorDown`.
   * @default '' (no prefix)
   */
  readonly alertPrefix?: string;
  /**
   * How long every check must fail before the down alert fires.
   * @default '2m'
   */
  readonly downFor?: string;
  /**
   * Health-check latency above which the backend counts as slow, in seconds.
   * @default 1
   */
  readonly slowSeconds?: number;
  /**
   * How long the backend must stay slow before the slow alert fires.
   * @default '10m'
   */
  readonly slowFor?: string;
  /**
   * How long the monitor's scrape must fail, or its target be absent, before
   * the monitor-down alert fires.
   * @default '5m'
   */
  readonly monitorDownFor?: string;
  /**
   * Name of the rule group.
   * @default - the monitor's target's Service name
   */
  readonly groupName?: string;
  /**
   * Labels of the PrometheusRule: what the cluster's Prometheus selects
   * rules by (its `ruleSelector`).
   * @default - none
   */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Name of the PrometheusRule.
   * @default - `<the target's Service name>-alerts`
   */
  readonly name?: string;
}

/**
 * A PrometheusRule with the backend's alerts, read from a DebugMonitor's
 * metrics: the backend is down (and why: the monitor's failure reason), the
 * backend is slow, and nobody watches it (the monitor's scrape fails or its
 * target is absent).
 */
export class BackendAlertRules extends Construct {
  public readonly prometheusRule: PrometheusRule;
  public readonly groupName: string;
  public readonly backendDownAlert: string;
  public readonly backendSlowAlert: string;
  public readonly monitorDownAlert: string;

  constructor(scope: Construct, id: string, props: BackendAlertRulesProps) {
    super(scope, id);
    const monitor = props.monitor;
    if (!(monitor instanceof DebugMonitor)) {
      throw new InvalidPropError(this, 'monitor', String(monitor), 'a DebugMonitor');
    }
    const target = monitor.target.serviceName;
    const job = props.job ?? monitor.service.name;
    if (!isDnsLabel(job)) {
      throw new InvalidPropError(this, 'job', job, 'a Service name (DNS-1123 label)');
    }
    const prefix = props.alertPrefix ?? '';
    if (typeof prefix !== 'string' || !/^([A-Z][A-Za-z0-9]*)?$/.test(prefix)) {
      throw new InvalidPropError(
        this,
        'alertPrefix',
        prefix,
        'empty, or an UpperCamelCase word such as "Sophia"',
      );
    }
    const duration = (prop: string, value: string | undefined, fallback: string): string => {
      const text = value ?? fallback;
      if (durationSeconds(text) === undefined) {
        throw new InvalidPropError(this, prop, text, DURATION_ALLOWED);
      }
      return text;
    };
    const downFor = duration('downFor', props.downFor, '2m');
    const slowFor = duration('slowFor', props.slowFor, '10m');
    const monitorDownFor = duration('monitorDownFor', props.monitorDownFor, '5m');
    const slowSeconds = props.slowSeconds ?? 1;
    if (typeof slowSeconds !== 'number' || !(slowSeconds > 0) || !Number.isFinite(slowSeconds)) {
      throw new InvalidPropError(this, 'slowSeconds', slowSeconds, 'a number of seconds above 0');
    }
    const groupName = props.groupName ?? target;
    if (typeof groupName !== 'string' || !/^[A-Za-z0-9][-A-Za-z0-9_.]*$/.test(groupName)) {
      throw new InvalidPropError(this, 'groupName', groupName, 'letters, digits, "-", "_", "."');
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
    const name = props.name ?? `${target}-alerts`;
    if (!isDnsLabel(name)) {
      throw new InvalidPropError(this, 'name', name, 'a DNS-1123 label of at most 63 characters');
    }
    this.groupName = groupName;
    this.backendDownAlert = `${prefix}BackendDown`;
    this.backendSlowAlert = `${prefix}BackendSlow`;
    this.monitorDownAlert = `${prefix}DebugMonitorDown`;

    const namespace = monitor.namespace;
    const selector = `job="${job}",namespace="${namespace}"`;
    const logs = `kubectl logs -n ${namespace} deploy/${monitor.name}`;

    // The reason is looked up when the annotation is rendered, not put in
    // the expression: an alert's labels are its identity, and a reason that
    // changes (connect, then timeout) would restart the `for` clock.
    const reason =
      '{{ $reason := "unknown" }}' +
      '{{ with printf "debug_monitor_last_failure_reason{job=%q,namespace=%q,instance=%q} == 1" ' +
      '$labels.job $labels.namespace $labels.instance | query }}' +
      '{{ $reason = . | first | label "reason" }}{{ end }}';
    const meaning =
      Object.entries(FAILURE_REASONS)
        .map(([key, text], i) => `{{ ${i === 0 ? 'if' : 'else if'} eq $reason "${key}" }}: ${text}`)
        .join('') + '{{ end }}';

    const rules: PrometheusRuleSpecGroupsRules[] = [
      {
        alert: this.backendDownAlert,
        expr: PrometheusRuleSpecGroupsRulesExpr.fromString(
          `debug_monitor_target_up{${selector}} == 0`,
        ),
        for: downFor,
        labels: { severity: AlertSeverity.CRITICAL },
        annotations: {
          summary: `${reason}${target} is down ({{ $reason }})`,
          description:
            `${reason}Every health check of {{ $labels.target }} has failed for ${downFor}. ` +
            `Reason of the last failure: {{ $reason }}${meaning}. ` +
            "The debug monitor's log says why (pod states, exit codes, Warning events, " +
            `the crashed container's last log lines): ${logs}`,
        },
      },
      {
        alert: this.backendSlowAlert,
        // A failed check is the down alert's business, even when it timed out.
        expr: PrometheusRuleSpecGroupsRulesExpr.fromString(
          `debug_monitor_last_latency_seconds{${selector}} > ${slowSeconds} ` +
            `and debug_monitor_target_up{${selector}} == 1`,
        ),
        for: slowFor,
        labels: { severity: AlertSeverity.WARNING },
        annotations: {
          summary: `${target} answers its health checks slowly`,
          description:
            `Health checks of {{ $labels.target }} succeed but have taken more than ${slowSeconds}s ` +
            `for ${slowFor} (last: {{ $value | humanizeDuration }}). ` +
            `The debug monitor logs each check's latency: ${logs}`,
        },
      },
      {
        alert: this.monitorDownAlert,
        expr: PrometheusRuleSpecGroupsRulesExpr.fromString(
          `up{${selector}} == 0 or absent(up{${selector}})`,
        ),
        for: monitorDownFor,
        labels: { severity: AlertSeverity.WARNING },
        annotations: {
          summary: `Nobody is watching ${target}: its debug monitor is not scraped`,
          description:
            `For ${monitorDownFor} Prometheus has ` +
            '{{ if $labels.instance }}failed to scrape the debug monitor at {{ $labels.instance }}' +
            '{{ else }}found no debug monitor to scrape (Deployment scaled to 0, Service or ' +
            'ServiceMonitor missing, or not selected by Prometheus){{ end }}, ' +
            `so ${this.backendDownAlert} cannot fire. ` +
            `Check: kubectl get -n ${namespace} deploy,svc,servicemonitor ${monitor.name}; ${logs}`,
        },
      },
    ];

    this.prometheusRule = new PrometheusRule(this, 'PrometheusRule', {
      metadata: {
        name,
        namespace,
        labels: {
          ...labels,
          'app.kubernetes.io/name': target,
          'app.kubernetes.io/component': 'alerts',
          'app.kubernetes.io/managed-by': 'cdk8s',
        },
      },
      spec: { groups: [{ name: groupName, rules }] },
    });
  }
}
