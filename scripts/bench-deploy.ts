/**
 * `npm run bench:deploy`: the two figures of docs/deploy.md, measured with
 * the real command (`node scripts/run-ts.js scripts/deploy.ts`, a process of
 * its own) against the fake API server of the tests (test/fake-kube-api),
 * which runs in this process. Prints medians.
 *
 * 1. Diagnosis latency: from the moment the fake's API holds a pod in
 *    CrashLoopBackOff to the moment the command has printed the traceback
 *    from the previous log (the last line of the explanation's log).
 * 2. The command's own cost on a healthy deploy of the whole dist/hardened
 *    folder onto an empty cluster: the process's wall time minus the time it
 *    spent waiting for the rollout (whose pods become ready 1 s after they
 *    are created, as the fake's kubelet is told).
 */
import { spawn } from 'child_process';
import * as path from 'path';
import {
  startFakeCluster,
  type FakeCluster,
  type Obj,
  type PodBehaviour,
} from '../test/fake-kube-api';

const root = path.resolve(__dirname, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const TRACEBACK_END = "ModuleNotFoundError: No module named 'fastapi'";

interface Line {
  at: number;
  text: string;
}

async function runCommand(
  cluster: FakeCluster,
  args: string[],
): Promise<{ code: number; lines: Line[]; start: number; end: number }> {
  const start = Date.now();
  const child = spawn(
    process.execPath,
    [path.join(root, 'scripts', 'run-ts.js'), path.join(root, 'scripts', 'deploy.ts'), ...args],
    {
      cwd: root,
      env: { ...process.env, KUBECONFIG: cluster.kubeconfig() },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines: Line[] = [];
  let rest = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    const at = Date.now();
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    for (const text of parts) lines.push({ at, text });
  });
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  return { code, lines, start, end: Date.now() };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seconds = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

function find(lines: Line[], test: (text: string) => boolean, what: string): Line {
  const line = lines.find((l) => test(l.text));
  if (!line) throw new Error(`no line ${what} in:\n${lines.map((l) => l.text).join('\n')}`);
  return line;
}

async function diagnosisLatency(): Promise<number> {
  const crash: PodBehaviour = {
    kind: 'crashLoop',
    afterMs: 1000,
    log: [
      '[app] starting python /app-source/app.py as root from the read-only ConfigMap mount',
      'Traceback (most recent call last):',
      '  File "/app-source/app.py", line 14, in <module>',
      '    from fastapi import FastAPI  # noqa: E402',
      TRACEBACK_END,
    ],
  };
  const cluster = await startFakeCluster({
    behaviour: (w: Obj) =>
      w.spec?.template?.metadata?.annotations?.['manifests.sophia.ai/security-mode'] ===
      'root-debug'
        ? crash
        : { kind: 'ready', afterMs: 20 },
  });
  try {
    const first = await runCommand(cluster, ['--variant', 'hardened']);
    if (first.code !== 0)
      throw new Error(`hardened deploy failed: ${first.lines.map((l) => l.text).join('\n')}`);
    const run = await runCommand(cluster, ['--variant', 'root-debug']);
    if (run.code !== 1)
      throw new Error(`expected exit 1: ${run.lines.map((l) => l.text).join('\n')}`);
    const shown = cluster.timeline.find((t) => t.what === 'CrashLoopBackOff');
    if (!shown) throw new Error('the fake never showed CrashLoopBackOff');
    const printed = find(run.lines, (t) => t.endsWith(TRACEBACK_END), 'with the traceback');
    return printed.at - shown.at;
  } finally {
    await cluster.close();
  }
}

interface Cost {
  total: number;
  wait: number;
  own: number;
  firstLine: number;
}

async function healthyCost(): Promise<Cost> {
  const cluster = await startFakeCluster({ behaviour: () => ({ kind: 'ready', afterMs: 1000 }) });
  try {
    const run = await runCommand(cluster, ['--variant', 'hardened']);
    if (run.code !== 0) throw new Error(run.lines.map((l) => l.text).join('\n'));
    const waitStart = find(
      run.lines,
      (t) => / wait: \d+ workloads? to roll out/.test(t),
      'starting the wait',
    );
    const waitEnd = find(run.lines, (t) => / verify: /.test(t), 'after the wait');
    const total = run.end - run.start;
    const wait = waitEnd.at - waitStart.at;
    return { total, wait, own: total - wait, firstLine: run.lines[0].at - run.start };
  } finally {
    await cluster.close();
  }
}

async function main(): Promise<void> {
  // A first run builds the runner's bundle cache; it is not counted.
  await healthyCost();
  const latencies: number[] = [];
  const costs: Cost[] = [];
  for (let i = 0; i < RUNS; i++) {
    latencies.push(await diagnosisLatency());
    costs.push(await healthyCost());
  }
  const pick = (k: keyof Cost) => median(costs.map((c) => c[k]));
  process.stdout.write(
    [
      `npm run deploy against the fake API server, ${RUNS} runs, medians:`,
      `(1) CrashLoopBackOff in the API -> traceback printed: ${seconds(median(latencies))} (runs: ${latencies.map(seconds).join(', ')})`,
      `(2) healthy deploy of dist/hardened, 19 objects: process ${seconds(pick('total'))}, of which waiting for the rollout ${seconds(pick('wait'))};` +
        ` own cost ${seconds(pick('own'))} (runs: ${costs.map((c) => seconds(c.own)).join(', ')}); first line after ${seconds(pick('firstLine'))}`,
      '',
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench-deploy: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
