// dist/monitoring/: the ServiceMonitor and the PrometheusRule, their props,
// their schema, their Argo CD Application. The rules themselves are run by
// the real promtool and prometheus in test/alerts-*.test.ts.
import * as fs from 'fs';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import { cluster } from '../../config';
import {
  ArgoCdProject,
  BackendAlertRules,
  BackendAlertRulesProps,
  DebugMonitorServiceMonitor,
  DebugMonitorServiceMonitorProps,
  durationSeconds,
  FAILURE_REASONS,
  SecurityMode,
  SophiaChart,
  SyncMode,
} from '../../lib';
import { validateDocuments } from '../../validation';
import { validateSchema } from '../../validation/schema';
import { K8sObject, findAll, findOne, quietStderr } from '../helpers';
import { monitoringChart, synthMonitoring } from '../monitoring-helpers';

quietStderr();

function variant(mode = SecurityMode.HARDENED): SophiaChart {
  return new SophiaChart(Testing.app(), 'sophia', { mode, cluster });
}

const objects = synthMonitoring();
const rule = findOne(objects, 'PrometheusRule', 'sophia-backend-alerts');
const rules = rule.spec.groups[0].rules as {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}[];
const alert = (name: string) => rules.find((r) => r.alert === name)!;

describe('ServiceMonitor', () => {
  test('selects exactly the monitor metrics Service, by its port name, in its namespace', () => {
    const chart = variant();
    const service = findOne(
      Testing.synth(chart) as K8sObject[],
      'Service',
      'sophia-backend-monitor',
    );
    const serviceMonitor = findOne(objects, 'ServiceMonitor', 'sophia-backend-monitor');
    expect(serviceMonitor.metadata.namespace).toBe(service.metadata.namespace);
    expect(serviceMonitor.spec.namespaceSelector).toEqual({ matchNames: ['sophia-ai-prod'] });
    const selector = serviceMonitor.spec.selector.matchLabels;
    expect(Object.entries(selector).every(([k, v]) => service.metadata.labels[k] === v)).toBe(true);
    // The backend's Service is not selected.
    const backend = findOne(Testing.synth(chart) as K8sObject[], 'Service', 'sophia-backend');
    expect(Object.entries(selector).every(([k, v]) => backend.metadata.labels[k] === v)).toBe(
      false,
    );
    expect(serviceMonitor.spec.endpoints).toEqual([
      { port: 'metrics', path: '/metrics', scheme: 'http', interval: '15s' },
    ]);
    expect(service.spec.ports.map((p: { name: string }) => p.name)).toContain('metrics');
    expect(serviceMonitor.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
  });

  test.each<[Partial<DebugMonitorServiceMonitorProps>, RegExp]>([
    [
      { interval: '15 seconds' },
      /test\/scrape: invalid interval "15 seconds": a Prometheus duration/,
    ],
    [{ interval: '0s' }, /invalid interval "0s"/],
    [{ labels: { 'bad key!': 'x' } }, /invalid labels .*key "bad key!"/],
    [{ labels: { release: 'no spaces' } }, /invalid labels .*key "release"/],
    [{ name: 'Sophia' }, /invalid name "Sophia": a DNS-1123 label/],
  ])('%j is an error naming the construct and the prop', (props, message) => {
    const monitor = variant().monitor;
    expect(
      () =>
        new DebugMonitorServiceMonitor(new Chart(Testing.app(), 'test'), 'scrape', {
          monitor,
          ...props,
        }),
    ).toThrow(message);
  });
});

describe('PrometheusRule', () => {
  test('one group sophia-backend with exactly the three alerts, their severities and durations', () => {
    expect(rule.metadata).toMatchObject({
      namespace: 'sophia-ai-prod',
      labels: { release: 'kube-prometheus-stack' },
    });
    expect(rule.spec.groups.map((g: { name: string }) => g.name)).toEqual(['sophia-backend']);
    expect(rules.map((r) => [r.alert, r.labels.severity, r.for])).toEqual([
      ['SophiaBackendDown', 'critical', '2m'],
      ['SophiaBackendSlow', 'warning', '10m'],
      ['SophiaDebugMonitorDown', 'warning', '5m'],
    ]);
  });

  test('the expressions select the monitor series by the job the ServiceMonitor gives them', () => {
    const chart = monitoringChart();
    expect(chart.serviceMonitor.job).toBe('sophia-backend-monitor');
    const selector = '{job="sophia-backend-monitor",namespace="sophia-ai-prod"}';
    expect(alert('SophiaBackendDown').expr).toBe(`debug_monitor_target_up${selector} == 0`);
    expect(alert('SophiaBackendSlow').expr).toBe(
      `debug_monitor_last_latency_seconds${selector} > 1 and debug_monitor_target_up${selector} == 1`,
    );
    expect(alert('SophiaDebugMonitorDown').expr).toBe(
      `up${selector} == 0 or absent(up${selector})`,
    );
  });

  test('the down alert explains every failure reason and names the diagnosis command', () => {
    const description = alert('SophiaBackendDown').annotations.description;
    expect(description).toContain('debug_monitor_last_failure_reason');
    for (const [reason, meaning] of Object.entries(FAILURE_REASONS)) {
      expect(description).toContain(`eq $reason "${reason}" }}: ${meaning}`);
    }
    expect(description).toContain('kubectl logs -n sophia-ai-prod deploy/sophia-backend-monitor');
  });

  test("the failure reasons are the monitor script's", () => {
    const script = fs.readFileSync(
      path.join(__dirname, '..', '..', 'monitor', 'debug_monitor.py'),
      'utf8',
    );
    const reasons = /^REASONS = \(([^)]*)\)$/m.exec(script)?.[1];
    expect(reasons?.split(',').map((r) => r.trim().replace(/"/g, ''))).toEqual(
      Object.keys(FAILURE_REASONS),
    );
  });

  test('other names and thresholds come from the props', () => {
    const chart = monitoringChart({
      labels: {},
      alerts: { alertPrefix: 'Shop', downFor: '30s', slowSeconds: 0.25, groupName: 'shop' },
    });
    const group = (Testing.synth(chart) as K8sObject[]).find((o) => o.kind === 'PrometheusRule')!
      .spec.groups[0];
    expect(group.name).toBe('shop');
    expect(group.rules.map((r: { alert: string; for: string }) => [r.alert, r.for])).toEqual([
      ['ShopBackendDown', '30s'],
      ['ShopBackendSlow', '10m'],
      ['ShopDebugMonitorDown', '5m'],
    ]);
    expect(group.rules[1].expr).toContain('> 0.25 and');
  });

  test.each<[Partial<BackendAlertRulesProps>, RegExp]>([
    [{ downFor: '2 minutes' }, /test\/alerts: invalid downFor "2 minutes": a Prometheus duration/],
    [{ slowFor: '' }, /invalid slowFor "": a Prometheus duration/],
    [{ monitorDownFor: '5' }, /invalid monitorDownFor "5"/],
    [{ slowSeconds: 0 }, /invalid slowSeconds 0: a number of seconds above 0/],
    [{ slowSeconds: Infinity }, /invalid slowSeconds/],
    [{ alertPrefix: 'sophia' }, /invalid alertPrefix "sophia": empty, or an UpperCamelCase word/],
    [{ groupName: 'a b' }, /invalid groupName "a b"/],
    [{ job: 'Bad_Job' }, /invalid job "Bad_Job"/],
    [{ labels: { '': 'x' } }, /invalid labels/],
    [{ name: '-x' }, /invalid name "-x"/],
  ])('%j is an error naming the construct and the prop', (props, message) => {
    const monitor = variant().monitor;
    expect(
      () =>
        new BackendAlertRules(new Chart(Testing.app(), 'test'), 'alerts', { monitor, ...props }),
    ).toThrow(message);
  });

  test('a monitor that is not a DebugMonitor is an error', () => {
    const scope = new Chart(Testing.app(), 'test');
    const notAMonitor = {} as unknown as BackendAlertRulesProps['monitor'];
    expect(() => new BackendAlertRules(scope, 'alerts', { monitor: notAMonitor })).toThrow(
      /test\/alerts: invalid monitor .*: a DebugMonitor/,
    );
  });
});

describe('durations', () => {
  test.each([
    ['2m', 120],
    ['1h30m', 5400],
    ['500ms', 0.5],
    ['1w', 604800],
  ])('%s is %d s', (text, seconds) => expect(durationSeconds(text)).toBe(seconds));

  test.each(['', '0s', '2', '2 m', '30m1h', '-1m', '1.5m'])('%j is not a duration', (text) =>
    expect(durationSeconds(text)).toBeUndefined(),
  );
});

describe('schema and Argo CD', () => {
  test('both objects pass the strict schema of their CRDs', () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(['PrometheusRule', 'ServiceMonitor']);
    for (const o of objects) expect(validateSchema(o)).toEqual([]);
    expect(
      validateDocuments(objects.map((doc, index) => ({ file: 'x.yaml', index, doc }))),
    ).toEqual([]);
  });

  test('the schema check is strict for them, RE2 patterns included', () => {
    const broken = structuredClone(rule);
    broken.spec.groups[0].rules[0].fore = '2m';
    broken.spec.groups[0].partial_response_strategy = 'Abort'; // (?i): any case
    expect(validateSchema(broken)).toEqual(['unknown field "spec.groups[0].rules[0].fore"']);
    broken.spec.groups[0].partial_response_strategy = 'retry';
    expect(validateSchema(broken)).toContainEqual(
      expect.stringContaining('spec.groups[0].partial_response_strategy: "retry" must match'),
    );
    const monitor = structuredClone(findOne(objects, 'ServiceMonitor', 'sophia-backend-monitor'));
    monitor.spec.endpoints[0].interval = '15 s';
    expect(validateSchema(monitor)).toEqual([
      expect.stringContaining('spec.endpoints[0].interval: "15 s" must match'),
    ]);
  });

  test('the variants hold no Prometheus Operator object; sophia-monitoring syncs them automatically', () => {
    const variants = [variant(), variant(SecurityMode.ROOT_DEBUG)];
    for (const chart of variants) {
      const kinds = (Testing.synth(chart) as K8sObject[]).map((o) => o.apiVersion);
      expect(kinds.filter((v) => v.startsWith('monitoring.coreos.com/'))).toEqual([]);
    }
    const argo = new Chart(Testing.app(), 'argocd');
    new ArgoCdProject(argo, 'sophia', {
      ...cluster.gitops,
      name: 'sophia',
      applications: [
        {
          name: 'sophia-hardened',
          path: 'dist/hardened',
          sync: SyncMode.AUTOMATED,
          manifests: variants[0],
        },
        {
          name: 'sophia-monitoring',
          path: 'dist/monitoring',
          sync: cluster.gitops.monitoringSync,
          manifests: monitoringChart(),
        },
      ],
    });
    const synthesized = Testing.synth(argo) as K8sObject[];
    const project = findOne(synthesized, 'AppProject', 'sophia');
    expect(project.spec.namespaceResourceWhitelist).toEqual(
      expect.arrayContaining([
        { group: 'monitoring.coreos.com', kind: 'PrometheusRule' },
        { group: 'monitoring.coreos.com', kind: 'ServiceMonitor' },
      ]),
    );
    const app = findOne(synthesized, 'Application', 'sophia-monitoring');
    expect(app.spec.source.path).toBe('dist/monitoring');
    expect(app.spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
    expect(findAll(synthesized, 'Application')).toHaveLength(2);
  });
});
