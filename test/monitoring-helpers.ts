// Shared by the monitoring tests: the monitoring chart as main.ts builds it
// (optionally with other alert settings), its rule groups as a Prometheus
// rules file, and where the real Prometheus tools are.
import * as fs from 'fs';
import * as path from 'path';
import { Testing } from 'cdk8s';
import YAML from 'yaml';
import { cluster } from '../config';
import { MonitoringChart, MonitoringConfig, SecurityMode, SophiaChart } from '../lib';
import { findOne, K8sObject } from './helpers';

export function monitoringChart(overrides: Partial<MonitoringConfig> = {}): MonitoringChart {
  const variant = new SophiaChart(Testing.app(), 'sophia', {
    mode: SecurityMode.HARDENED,
    cluster,
  });
  return new MonitoringChart(Testing.app(), 'monitoring', {
    ...cluster.monitoring,
    ...overrides,
    monitor: variant.monitor,
  });
}

export function synthMonitoring(overrides: Partial<MonitoringConfig> = {}): K8sObject[] {
  return Testing.synth(monitoringChart(overrides)) as K8sObject[];
}

/**
 * The PrometheusRule's groups as a Prometheus rules file: what the operator
 * hands its Prometheus (`spec` is a rules file's body).
 */
export function rulesFile(objects: readonly K8sObject[], name = 'sophia-backend-alerts'): string {
  const rule = findOne(objects, 'PrometheusRule', name);
  return YAML.stringify({ groups: rule.spec.groups });
}

/** The full path of an executable on PATH, if there is one. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Whether the real Prometheus tools can run here. Missing ones skip their
 * tests with a message, except under CI=true, where they must be installed
 * (`.ci/run` installs Debian's prometheus package): there a missing tool is
 * a failing test.
 */
export function prometheusTools(names: readonly string[]): {
  describeWith: jest.Describe;
  missing: string | undefined;
} {
  const absent = names.filter((name) => which(name) === undefined);
  const missing =
    absent.length === 0
      ? undefined
      : `${absent.join(' and ')} not found: apt-get install -y --no-install-recommends prometheus`;
  if (missing !== undefined) {
    if (process.env.CI === 'true') {
      test(`CI=true: ${names.join(' and ')} can run here`, () => {
        throw new Error(missing);
      });
    } else {
      console.warn(`SKIPPED the tests with ${names.join(' and ')}: ${missing}`);
    }
  }
  return { describeWith: missing === undefined ? describe : describe.skip, missing };
}
