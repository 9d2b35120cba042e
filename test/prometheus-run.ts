// The end-to-end scenario of test/alerts.test.ts: the real monitor script
// probing a closed port, the real prometheus binary scraping it and
// evaluating the synthesized rules (with a test-only `for`). Everything
// listens on 127.0.0.1; Prometheus runs in a temporary folder (its config,
// the rules, its data) and is confined to it; stop() kills both processes
// and removes the folder.
//
// Prometheus 2.42 hands static targets to the scrape manager on its service
// discovery's first 5-second tick, so the first scrape comes 5-6 s after the
// start: start() early, and let other tests run meanwhile.
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { Testing } from 'cdk8s';
import YAML from 'yaml';
import { cluster } from '../config';
import { freePort, K8sObject } from './helpers';
import { monitoringChart, rulesFile } from './monitoring-helpers';

const SCRIPT = path.join(__dirname, '..', 'monitor', 'debug_monitor.py');

export interface PrometheusAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
}

interface Started {
  child: ChildProcess;
  output: () => string;
}

function getJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 1000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (error) {
          reject(error as Error);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function start(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Started {
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  // Even if the test process dies before stop(): never leave one behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.on('error', (error) => (output += `\n${error.message}`));
  return { child, output: () => output };
}

/** SIGTERM, then SIGKILL after a second; resolves once the process is gone. */
function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 1000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export class PrometheusRun {
  /** The temporary folder Prometheus runs in. */
  readonly dir: string;
  /** The URL the monitor probes: a port nothing listens on. */
  readonly targetUrl: string;
  /** The test-only `for` of the down alert. */
  readonly downFor: string;
  readonly startedAt: number;
  private readonly monitor: Started;
  private readonly prometheus: Started;
  private readonly apiPort: number;

  private constructor(fields: {
    dir: string;
    targetUrl: string;
    downFor: string;
    monitor: Started;
    prometheus: Started;
    apiPort: number;
  }) {
    this.dir = fields.dir;
    this.targetUrl = fields.targetUrl;
    this.downFor = fields.downFor;
    this.monitor = fields.monitor;
    this.prometheus = fields.prometheus;
    this.apiPort = fields.apiPort;
    this.startedAt = Date.now();
  }

  /** Starts the monitor and Prometheus side by side (neither waits for the other). */
  static async start(downFor = '1s'): Promise<PrometheusRun> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alerts-prometheus-'));
    const [closed, metricsPort, apiPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const targetUrl = `http://127.0.0.1:${closed}/health`;

    // The rules as synthesized, with a test-only `for`; the scrape job as
    // the Prometheus Operator makes it from the ServiceMonitor (job = the
    // Service's name, a namespace label).
    const chart = monitoringChart({ alerts: { ...cluster.monitoring.alerts, downFor } });
    fs.writeFileSync(path.join(dir, 'rules.yaml'), rulesFile(Testing.synth(chart) as K8sObject[]));
    const scrape = {
      job_name: chart.serviceMonitor.job,
      static_configs: [
        {
          targets: [`127.0.0.1:${metricsPort}`],
          labels: { namespace: chart.alerts.prometheusRule.metadata.namespace! },
        },
      ],
    };
    fs.writeFileSync(
      path.join(dir, 'prometheus.yaml'),
      YAML.stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        rule_files: ['rules.yaml'],
        scrape_configs: [scrape],
      }),
    );

    // The monitor as the DebugMonitor runs it, with a fast check interval.
    const monitor = start('python3', [SCRIPT], dir, {
      PATH: process.env.PATH,
      PYTHONDONTWRITEBYTECODE: '1',
      TARGET_URL: targetUrl,
      INTERVAL_SECONDS: '0.2',
      TIMEOUT_SECONDS: '1',
      METRICS_PORT: String(metricsPort),
    });
    const prometheus = start(
      'prometheus',
      [
        '--config.file=prometheus.yaml',
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${apiPort}`,
        // The Debian defaults point at /etc and /usr; nothing else is written.
        '--log.level=warn',
      ],
      dir,
      { PATH: process.env.PATH },
    );
    return new PrometheusRun({ dir, targetUrl, downFor, monitor, prometheus, apiPort });
  }

  /** Polls /api/v1/alerts until `alertname` fires; every state it passed through. */
  async waitForFiring(
    alertname: string,
    deadlineMs: number,
  ): Promise<{ alert: PrometheusAlert; states: string[]; elapsedMs: number }> {
    const states: string[] = [];
    for (;;) {
      for (const [name, started] of [
        ['prometheus', this.prometheus],
        ['monitor', this.monitor],
      ] as const) {
        if (started.child.exitCode !== null || started.child.signalCode !== null)
          throw new Error(`${name} exited:\n${started.output()}`);
      }
      const elapsedMs = Date.now() - this.startedAt;
      if (elapsedMs > deadlineMs) {
        throw new Error(
          `${alertname} not firing ${deadlineMs} ms after the start (states: ${states.join(', ')})\n` +
            `prometheus:\n${this.prometheus.output()}\nmonitor:\n${this.monitor.output()}`,
        );
      }
      const answer = (await getJson(`http://127.0.0.1:${this.apiPort}/api/v1/alerts`).catch(
        () => undefined,
      )) as { data?: { alerts?: PrometheusAlert[] } } | undefined;
      const alert = answer?.data?.alerts?.find((a) => a.labels.alertname === alertname);
      if (alert && states[states.length - 1] !== alert.state) states.push(alert.state);
      if (alert?.state === 'firing') return { alert, states, elapsedMs };
      await sleep(100);
    }
  }

  /** Kills both processes and removes the folder. */
  async stop(): Promise<void> {
    await Promise.all([stopProcess(this.prometheus.child), stopProcess(this.monitor.child)]);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
