/**
 * `npm run bench:test`: how long `npm test` takes from a fresh clone, the way
 * a contributor or CI meets it. Each run clones this repo's HEAD (commit
 * first) into a temporary folder, runs `npm ci` (not timed), then times
 * `npm test` (its pretest included) as a whole process: Jest's cache, the
 * bundles and the V8 code caches all start cold; the Python venv comes from the
 * user's cache (scripts/python-env.sh). The clones have no ../shared beside
 * them, so the suites that need it skip. BENCH_TEST_RUNS sets the number of
 * runs (default 3). Prints each run, the median (target: at most 30 s), the
 * CPU time (user + sys of every process; steadier than wall time on a shared
 * machine), how many cores the rest of the machine kept busy meanwhile (a
 * shared machine's wall times need it) and the slowest suites.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');
const RUNS = Number(process.env.BENCH_TEST_RUNS ?? 3);
const TARGET_S = 30;

interface TestRun {
  readonly seconds: number;
  readonly cpuSeconds: number;
  /** Cores the rest of the machine kept busy meanwhile, on average (Linux). */
  readonly otherCores?: number;
  /** From scripts/test.js's summary: step name to seconds. */
  readonly steps: ReadonlyMap<string, number>;
  /** Jest suite file name to seconds. */
  readonly suites: ReadonlyMap<string, number>;
}

function check(command: string, args: string[], cwd: string): void {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.status}:\n${result.stderr}`);
  }
}

/** Busy CPU seconds of the whole machine so far, from /proc/stat (USER_HZ 100). */
function machineBusySeconds(): number | undefined {
  try {
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    const ticks = fields.slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
    return (ticks.reduce((a, b) => a + b, 0) - ticks[3] - ticks[4]) / 100;
  } catch {
    return undefined;
  }
}

/** `m` and `s` of the shell's `times` (e.g. `0m12.340s`) in seconds. */
function shellSeconds(value: string): number {
  const match = /^(\d+)m([\d.]+)s$/.exec(value);
  return match ? Number(match[1]) * 60 + Number(match[2]) : NaN;
}

function testRun(work: string, index: number): TestRun {
  const clone = path.join(work, `clone-${index}`);
  check('git', ['clone', '--quiet', ROOT, clone], work);
  check('npm', ['ci', '--no-audit', '--no-fund'], clone);
  const json = path.join(work, `jest-${index}.json`);
  const busyBefore = machineBusySeconds();
  const start = process.hrtime.bigint();
  // The shell's `times` adds up the CPU time of every process npm test waited for.
  const result = spawnSync(
    'sh',
    ['-c', 'npm test -- --json --outputFile="$1"; status=$?; times >&2; exit $status', 'sh', json],
    { cwd: clone, encoding: 'utf8' },
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const busyAfter = machineBusySeconds();
  if (result.status !== 0) {
    throw new Error(`npm test exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
  }
  const children = result.stderr.trimEnd().split('\n').pop()!.split(' ');
  const steps = new Map<string, number>();
  for (const match of result.stdout.matchAll(/^test: (\S+) +([\d.]+) s {2}ok$/gm)) {
    steps.set(match[1], Number(match[2]));
  }
  const report = JSON.parse(fs.readFileSync(json, 'utf8')) as {
    testResults: { name: string; startTime: number; endTime: number }[];
  };
  const suites = new Map(
    report.testResults.map((r) => [path.basename(r.name), (r.endTime - r.startTime) / 1000]),
  );
  fs.rmSync(clone, { recursive: true, force: true });
  const cpuSeconds = shellSeconds(children[0]) + shellSeconds(children[1]);
  const otherCores =
    busyBefore === undefined || busyAfter === undefined
      ? undefined
      : Math.max(0, busyAfter - busyBefore - cpuSeconds) / seconds;
  return { seconds, cpuSeconds, otherCores, steps, suites };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function main(): void {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-test-'));
  try {
    console.log(
      `npm test from a fresh clone of HEAD: node ${process.version}, ${os.availableParallelism()} cores, ${RUNS} runs, each after npm ci (not timed)\n`,
    );
    const runs: TestRun[] = [];
    for (let i = 1; i <= RUNS; i++) {
      const run = testRun(work, i);
      runs.push(run);
      const steps = [...run.steps].map(([name, s]) => `${name} ${s.toFixed(1)}`).join(', ');
      const others =
        run.otherCores === undefined ? '' : `, other load ${run.otherCores.toFixed(2)} cores`;
      console.log(
        `run ${i}: ${run.seconds.toFixed(1)} s wall, ${run.cpuSeconds.toFixed(1)} s CPU${others} (${steps})`,
      );
    }
    const wall = median(runs.map((r) => r.seconds));
    console.log(
      `\nnpm test: median ${wall.toFixed(1)} s wall (target <= ${TARGET_S} s), ${median(runs.map((r) => r.cpuSeconds)).toFixed(1)} s CPU`,
    );
    const names = [...new Set(runs.flatMap((r) => [...r.suites.keys()]))];
    const slowest = names
      .map((name) => [name, median(runs.map((r) => r.suites.get(name) ?? 0))] as const)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5);
    console.log(
      `slowest suites (median): ${slowest.map(([n, s]) => `${n} ${s.toFixed(1)} s`).join(', ')}`,
    );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main();
