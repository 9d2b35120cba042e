import { App, Chart, YamlOutputType } from 'cdk8s';
import { cluster, variants } from './config';
import { ArgoCdProject, AtomicOutput, SophiaChart } from './lib';

const output = new AtomicOutput(process.env.CDK8S_OUTDIR ?? 'dist');

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

    const gitops = newApp('argocd');
    new ArgoCdProject(new Chart(gitops, 'argocd'), cluster.gitops.project, {
      ...cluster.gitops,
      name: cluster.gitops.project,
      applications: charts.map(({ mode, chart }) => ({
        name: `${cluster.gitops.project}-${mode}`,
        path: `dist/${mode}`,
        sync: cluster.gitops.sync[mode],
        manifests: chart,
      })),
    });
    gitops.synth();
  });
} catch (error) {
  process.stderr.write(
    `synth failed, ${output.target} left as it was:\n  ${(error as Error).message}\n`,
  );
  process.exit(1);
}
