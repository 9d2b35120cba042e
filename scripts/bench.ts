/**
 * `npm run bench`: how fast synth is, measured as whole processes (what a
 * user waits for), all in one run so the figures are comparable. Prints
 * medians; the targets are checked by reading them, not by a timed test.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 7);

interface Sample {
  readonly seconds: number;
  /** Peak resident memory in MiB, where the process reported it. */
  readonly peakMiB?: number;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Sample {
  const start = process.hrtime.bigint();
  const result = spawnSync(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.status}:\n${result.stderr}`);
  }
  const peak = /^peak-rss-kib (\d+)$/m.exec(result.stderr);
  return { seconds, peakMiB: peak ? Number(peak[1]) / 1024 : undefined };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function measure(label: string, runs: number, once: () => Sample): Sample {
  once(); // warm the page cache; not counted
  const samples = Array.from({ length: runs }, once);
  const result = {
    seconds: median(samples.map((s) => s.seconds)),
    peakMiB:
      samples[0].peakMiB === undefined
        ? undefined
        : Math.max(...samples.map((s) => s.peakMiB ?? 0)),
  };
  const memory = result.peakMiB === undefined ? '' : `, peak RSS ${result.peakMiB.toFixed(0)} MiB`;
  console.log(`${label.padEnd(48)} median ${result.seconds.toFixed(3)} s of ${runs}${memory}`);
  return result;
}

/** A temporary cdk8s app with `count` FixedPythonApps, a hundred per chart. */
function generatedApp(work: string, count: number): string {
  const entry = path.join(work, `apps-${count}.ts`);
  const lib = path.join(ROOT, 'lib');
  fs.writeFileSync(
    entry,
    `import { App, Chart, YamlOutputType } from 'cdk8s';
import { FixedPythonApp, PodSecurityLevel, PodSecurityNamespace, SecurityMode } from ${JSON.stringify(lib)};

const app = new App({ outdir: process.env.BENCH_OUTDIR!, yamlOutputType: YamlOutputType.FILE_PER_CHART, recordConstructMetadata: false });
const perChart = 100;
let chart!: Chart;
let namespace!: PodSecurityNamespace;
for (let i = 0; i < ${count}; i++) {
  if (i % perChart === 0) {
    chart = new Chart(app, 'apps-' + i / perChart, { disableResourceNameHashes: true });
    namespace = new PodSecurityNamespace(chart, 'ns', { name: 'bench-' + i / perChart, enforce: PodSecurityLevel.RESTRICTED });
  }
  new FixedPythonApp(chart, 'app-' + i, { sourceDir: ${JSON.stringify(path.join(ROOT, 'app'))}, mode: SecurityMode.HARDENED, namespace });
}
app.synth();
process.stderr.write('peak-rss-kib ' + process.resourceUsage().maxRSS + '\\n');
`,
  );
  return entry;
}

function main(): void {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-'));
  try {
    console.log(
      `node ${process.version}, ${os.cpus().length} cores; medians of ${RUNS} runs after one warm-up\n`,
    );
    const out = path.join(work, 'dist');
    const synth = measure('(a) npm run synth (node scripts/run-ts.js main.ts)', RUNS, () =>
      run(process.execPath, ['scripts/run-ts.js', 'main.ts'], { CDK8S_OUTDIR: out }),
    );
    const floor = measure(`(b) node -e "require('cdk8s-plus-28')"`, RUNS, () =>
      run(process.execPath, ['-e', "require('cdk8s-plus-28')"]),
    );
    measure('(c) npx cdk8s synth --no-check-upgrade', RUNS, () =>
      run('npx', ['cdk8s', 'synth', '--no-check-upgrade', '--output', path.join(work, 'cli-dist')]),
    );
    const apps = [100, 1000].map((count) => {
      const entry = generatedApp(work, count);
      return measure(`(d) ${count} FixedPythonApps`, Math.max(3, Math.ceil(RUNS / 2)), () =>
        run(process.execPath, ['scripts/run-ts.js', entry], {
          BENCH_OUTDIR: path.join(work, `apps-${count}`),
        }),
      );
    });
    console.log('');
    console.log(`a/b = ${(synth.seconds / floor.seconds).toFixed(2)} (target <= 1.6)`);
    console.log(
      `t(1000)/t(100) = ${(apps[1].seconds / apps[0].seconds).toFixed(2)} (target <= 12)`,
    );
    console.log(`t(1000) = ${apps[1].seconds.toFixed(2)} s (target < 5 s)`);
    console.log('\nThe test suite has its own: npm run bench:test (scripts/bench-test.ts).');
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main();
