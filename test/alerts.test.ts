// The synthesized alerts under the real tools of Debian's prometheus package.
// promtool: `promtool check rules`, and `promtool test rules` unit tests that
// feed each alert the series a ServiceMonitor scrape of the monitor gives and
// check when it fires, that it stays silent otherwise, and what it says.
// prometheus: end to end, the real binary scrapes the real monitor script
// probing a closed port and fires SophiaBackendDown (test/prometheus-run.ts).
// Prometheus starts first, because its first scrape takes 5 s: the promtool
// tests run meanwhile.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import YAML from 'yaml';
import { FAILURE_REASONS } from '../lib';
import { prometheusTools, rulesFile, synthMonitoring } from './monitoring-helpers';
import { PrometheusRun } from './prometheus-run';

const promtool = prometheusTools(['promtool']);
const prometheus = prometheusTools(['prometheus']);
/** From Prometheus' start: 5-6 s to the first scrape, up to 1 s to an evaluation, the 1 s `for`. */
const FIRING_DEADLINE_MS = 12_000;

let run: PrometheusRun | undefined;
beforeAll(async () => {
  if (prometheus.missing === undefined) run = await PrometheusRun.start('1s');
});
afterAll(async () => {
  await run?.stop();
});

const TARGET = 'http://sophia-backend.sophia-ai-prod.svc.cluster.local:8000/health';
const LOGS = 'kubectl logs -n sophia-ai-prod deploy/sophia-backend-monitor';
const REASONS = Object.keys(FAILURE_REASONS);

/** The target labels the Prometheus Operator gives a series scraped through the ServiceMonitor. */
function scrapeLabels(pod: string): Record<string, string> {
  return {
    container: 'monitor',
    endpoint: 'metrics',
    instance: `${pod}:9102`,
    job: 'sophia-backend-monitor',
    namespace: 'sophia-ai-prod',
    pod: `sophia-backend-monitor-7c9d8-${pod.replace(/\./g, '')}`,
    service: 'sophia-backend-monitor',
  };
}

function series(name: string, labels: Record<string, string>, values: string) {
  const text = Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',');
  return { series: `${name}{${text}}`, values };
}

/** What the monitor exports about its target: up, and one failure-reason series per reason. */
function monitorSeries(pod: string, up: string, reasons: Record<string, string> = {}) {
  const labels = { ...scrapeLabels(pod), target: TARGET };
  // promtool's expanding notation: `a xN` is N+1 samples.
  const samples = up
    .split(' ')
    .reduce((n, token) => n + 1 + Number(/x(\d+)$/.exec(token)?.[1] ?? 0), 0);
  return [
    series('debug_monitor_target_up', labels, up),
    ...REASONS.map((reason) =>
      series(
        'debug_monitor_last_failure_reason',
        { ...labels, reason },
        reasons[reason] ?? `0x${samples - 1}`,
      ),
    ),
  ];
}

function downAlert(pod: string, reason: string) {
  const why = reason in FAILURE_REASONS ? `${reason}: ${FAILURE_REASONS[reason]}` : reason;
  return {
    exp_labels: { ...scrapeLabels(pod), target: TARGET, severity: 'critical' },
    exp_annotations: {
      summary: `sophia-backend is down (${reason})`,
      description:
        `Every health check of ${TARGET} has failed for 2m. Reason of the last failure: ${why}. ` +
        "The debug monitor's log says why (pod states, exit codes, Warning events, " +
        `the crashed container's last log lines): ${LOGS}`,
    },
  };
}

let dir: string;

/** Runs `promtool test rules` on these test groups; the result and promtool's output. */
function promtoolTest(tests: unknown[]): { status: number | null; output: string } {
  const file = path.join(dir, `tests-${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(
    file,
    YAML.stringify({ rule_files: ['rules.yaml'], evaluation_interval: '1m', tests }),
  );
  const run = spawnSync('promtool', ['test', 'rules', path.basename(file)], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 10_000,
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

function expectPass(tests: unknown[]): void {
  const { status, output } = promtoolTest(tests);
  if (status !== 0) throw new Error(`promtool test rules failed:\n${output}`);
  expect(output).toContain('SUCCESS');
}

promtool.describeWith('promtool', () => {
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alerts-promtool-'));
    fs.writeFileSync(path.join(dir, 'rules.yaml'), rulesFile(synthMonitoring()));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('promtool check rules accepts the rule groups, and would reject a broken one', () => {
    const ok = spawnSync('promtool', ['check', 'rules', 'rules.yaml'], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(`${ok.stdout}${ok.stderr}`).toContain('SUCCESS: 3 rules found');
    expect(ok.status).toBe(0);

    const broken = YAML.parse(fs.readFileSync(path.join(dir, 'rules.yaml'), 'utf8'));
    broken.groups[0].rules[0].expr = 'debug_monitor_target_up == ';
    fs.writeFileSync(path.join(dir, 'broken.yaml'), YAML.stringify(broken));
    const bad = spawnSync('promtool', ['check', 'rules', 'broken.yaml'], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('SophiaBackendDown');
  });

  test('SophiaBackendDown fires after 2m down, not before, and says why: each reason', () => {
    const pods = ['10.42.0.11', '10.42.0.12', '10.42.0.13', '10.42.0.14', '10.42.0.15'];
    const input = pods.flatMap((pod, i) => monitorSeries(pod, '1 0x6', { [REASONS[i]]: '0 1x6' }));
    // A monitor without the reason metric (an older script): the reason is unknown.
    input.push(
      series('debug_monitor_target_up', { ...scrapeLabels('10.42.0.16'), target: TARGET }, '1 0x6'),
    );
    expectPass([
      {
        interval: '1m',
        input_series: input,
        alert_rule_test: [
          { eval_time: '2m', alertname: 'SophiaBackendDown', exp_alerts: [] },
          {
            eval_time: '3m',
            alertname: 'SophiaBackendDown',
            exp_alerts: [
              ...pods.map((pod, i) => downAlert(pod, REASONS[i])),
              downAlert('10.42.0.16', 'unknown'),
            ],
          },
        ],
      },
    ]);
  });

  test('SophiaBackendDown: silent while up; a changing reason keeps its clock; resolves when up', () => {
    expectPass([
      {
        interval: '1m',
        input_series: monitorSeries('10.42.0.11', '1x20'),
        alert_rule_test: [{ eval_time: '15m', alertname: 'SophiaBackendDown', exp_alerts: [] }],
      },
      {
        interval: '1m',
        // Refused at 1m, then timing out from 2m: down for 2m at 3m all the same.
        input_series: monitorSeries('10.42.0.11', '1 0 0 0 0 1 1', {
          connect: '0 1 0 0 0 0 0',
          timeout: '0 0 1 1 1 0 0',
        }),
        alert_rule_test: [
          {
            eval_time: '3m',
            alertname: 'SophiaBackendDown',
            exp_alerts: [downAlert('10.42.0.11', 'timeout')],
          },
          { eval_time: '5m', alertname: 'SophiaBackendDown', exp_alerts: [] },
        ],
      },
    ]);
  });

  test('SophiaBackendSlow fires after 10m above 1 s, only while the checks succeed', () => {
    const slow = { ...scrapeLabels('10.42.0.11'), target: TARGET };
    const timingOut = { ...scrapeLabels('10.42.0.12'), target: TARGET };
    const fast = { ...scrapeLabels('10.42.0.13'), target: TARGET };
    expectPass([
      {
        interval: '1m',
        input_series: [
          series('debug_monitor_target_up', slow, '1x15'),
          series('debug_monitor_last_latency_seconds', slow, '1.5x15'),
          series('debug_monitor_target_up', timingOut, '0x15'),
          series('debug_monitor_last_latency_seconds', timingOut, '3x15'),
          series('debug_monitor_target_up', fast, '1x15'),
          series('debug_monitor_last_latency_seconds', fast, '0.4x15'),
        ],
        alert_rule_test: [
          { eval_time: '9m', alertname: 'SophiaBackendSlow', exp_alerts: [] },
          {
            eval_time: '10m',
            alertname: 'SophiaBackendSlow',
            exp_alerts: [
              {
                exp_labels: { ...slow, severity: 'warning' },
                exp_annotations: {
                  summary: 'sophia-backend answers its health checks slowly',
                  description:
                    `Health checks of ${TARGET} succeed but have taken more than 1s for 10m ` +
                    `(last: 1.5s). The debug monitor logs each check's latency: ${LOGS}`,
                },
              },
            ],
          },
        ],
      },
    ]);
  });

  test('SophiaDebugMonitorDown fires after 5m of failed scrapes or of no monitor at all', () => {
    const scraped = scrapeLabels('10.42.0.11');
    const summary = 'Nobody is watching sophia-backend: its debug monitor is not scraped';
    const check = `so SophiaBackendDown cannot fire. Check: kubectl get -n sophia-ai-prod deploy,svc,servicemonitor sophia-backend-monitor; ${LOGS}`;
    expectPass([
      {
        interval: '1m',
        input_series: [series('up', scraped, '1 0x10')],
        alert_rule_test: [
          { eval_time: '5m', alertname: 'SophiaDebugMonitorDown', exp_alerts: [] },
          {
            eval_time: '6m',
            alertname: 'SophiaDebugMonitorDown',
            exp_alerts: [
              {
                exp_labels: { ...scraped, severity: 'warning' },
                exp_annotations: {
                  summary,
                  description: `For 5m Prometheus has failed to scrape the debug monitor at 10.42.0.11:9102, ${check}`,
                },
              },
            ],
          },
        ],
      },
      {
        interval: '1m',
        // Prometheus scrapes other things, but no sophia-backend-monitor target exists.
        input_series: [series('up', { job: 'node-exporter', instance: '10.0.0.1:9100' }, '1x10')],
        alert_rule_test: [
          { eval_time: '4m', alertname: 'SophiaDebugMonitorDown', exp_alerts: [] },
          {
            eval_time: '5m',
            alertname: 'SophiaDebugMonitorDown',
            exp_alerts: [
              {
                exp_labels: {
                  job: 'sophia-backend-monitor',
                  namespace: 'sophia-ai-prod',
                  severity: 'warning',
                },
                exp_annotations: {
                  summary,
                  description:
                    'For 5m Prometheus has found no debug monitor to scrape (Deployment scaled to 0, ' +
                    `Service or ServiceMonitor missing, or not selected by Prometheus), ${check}`,
                },
              },
            ],
          },
        ],
      },
      {
        interval: '1m',
        input_series: [series('up', scraped, '1x20')],
        alert_rule_test: [
          { eval_time: '15m', alertname: 'SophiaDebugMonitorDown', exp_alerts: [] },
        ],
      },
    ]);
  });

  test('a wrong expectation fails promtool test rules (the harness can fail)', () => {
    const { status, output } = promtoolTest([
      {
        interval: '1m',
        input_series: monitorSeries('10.42.0.11', '1 0x6', { connect: '0 1x6' }),
        // Not yet: down for 1m only.
        alert_rule_test: [
          {
            eval_time: '2m',
            alertname: 'SophiaBackendDown',
            exp_alerts: [downAlert('10.42.0.11', 'connect')],
          },
        ],
      },
    ]);
    expect(status).not.toBe(0);
    expect(output).toContain('FAILED');
  });
});

prometheus.describeWith('prometheus end to end', () => {
  test('Prometheus scrapes the real monitor probing a closed port and fires SophiaBackendDown', async () => {
    const { alert, states, elapsedMs } = await run!.waitForFiring(
      'SophiaBackendDown',
      FIRING_DEADLINE_MS,
    );
    // Pending first: it waited for its `for`.
    expect(states).toEqual(['pending', 'firing']);
    expect(Date.now() - Date.parse(alert.activeAt)).toBeGreaterThanOrEqual(1000);
    expect(alert.labels).toMatchObject({
      severity: 'critical',
      job: 'sophia-backend-monitor',
      namespace: 'sophia-ai-prod',
      target: run!.targetUrl,
    });
    expect(alert.annotations.summary).toBe('sophia-backend is down (connect)');
    expect(alert.annotations.description).toContain(
      `Reason of the last failure: connect: ${FAILURE_REASONS.connect}.`,
    );
    expect(alert.annotations.description).toContain(
      'kubectl logs -n sophia-ai-prod deploy/sophia-backend-monitor',
    );
    // Prometheus wrote into its own folder only.
    expect(fs.readdirSync(run!.dir).sort()).toEqual(['data', 'prometheus.yaml', 'rules.yaml']);
    expect(elapsedMs).toBeLessThan(FIRING_DEADLINE_MS);
  });
});
