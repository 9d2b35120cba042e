import { App, YamlOutputType } from 'cdk8s';
import { cluster, variants } from './config';
import { AtomicOutput, SophiaChart } from './lib';

const output = new AtomicOutput(process.env.CDK8S_OUTDIR ?? 'dist');

try {
  output.run(() => {
    for (const mode of variants) {
      const app = new App({
        outdir: output.path(mode),
        yamlOutputType: YamlOutputType.FILE_PER_CHART,
        recordConstructMetadata: false,
      });
      new SophiaChart(app, 'sophia', { mode, cluster });
      app.synth();
    }
  });
} catch (error) {
  process.stderr.write(
    `synth failed, ${output.target} left as it was:\n  ${(error as Error).message}\n`,
  );
  process.exit(1);
}
