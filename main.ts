import * as path from 'path';
import { App, Chart, YamlOutputType } from 'cdk8s';
import { cluster, variants } from './config';
import { ArgoCdProject, AtomicOutput, MonitoringChart, SophiaChart } from './lib';

const output = new AtomicOutput(process.env.CDK8S_OUTDIR ?? 'dist');
// Host-side k3s configs live beside dist/, never in it: Argo CD and
// `kubectl apply -R` read every file under dist/ as a manifest.
const k3sOutput = new AtomicOutput(path.join(path.dirname(output.target), 'k3s'));

function newApp(folder: string): App {
  return new App({
    outdir: output.path(folder),
    yamlOutputType: YamlOutputType.FILE_PER_CHART,
    recordConstructMetadata: false,
  });
}

try {
  output.run(() => {
    const charts = variants.map((mode) => {
      const app = newApp(mode);
      const chart = new SophiaChart(app, 'sophia', { mode, cluster });
      app.synth();
      return { mode, chart };
    });

    // Its own folder: the variants stay applicable without the Prometheus
    // Operator. The monitor is named alike in every variant.
    const monitoring = newApp('monitoring');
    const monitoringChart = new MonitoringChart(monitoring, 'monitoring', {
      ...cluster.monitoring,
      monitor: charts[0].chart.monitor,
    });
    monitoring.synth();

    const gitops = newApp('argocd');
    new ArgoCdProject(new Chart(gitops, 'argocd'), cluster.gitops.project, {
      ...cluster.gitops,
      name: cluster.gitops.project,
      applications: [
        ...charts.map(({ mode, chart }) => ({
          name: `${cluster.gitops.project}-${mode}`,
          path: `dist/${mode}`,
          sync: cluster.gitops.sync[mode],
          manifests: chart,
        })),
        {
          name: `${cluster.gitops.project}-monitoring`,
          path: 'dist/monitoring',
          sync: cluster.gitops.monitoringSync,
          manifests: monitoringChart,
        },
      ],
    });
    gitops.synth();

    // The same in every variant.
    k3sOutput.run(() => charts[0].chart.k3s.writeTo(k3sOutput.path()));
  });
} catch (error) {
  process.stderr.write(
    `synth failed, ${output.target} and k3s/ left as they were:\n  ${(error as Error).message}\n`,
  );
  process.exit(1);
}
