/** Running `npm run deploy`'s main() in-process against a fake API server. */
import * as path from 'path';
import { main } from '../deploy/main';
import type { FakeCluster } from './fake-kube-api';

export const ROOT = path.resolve(__dirname, '..');

/** Short waits: the fake's pods start in milliseconds. */
export const FAST_TIMING = {
  requestTimeoutMs: 3000,
  verifyTimeoutMs: 1000,
  verifyIntervalMs: 50,
  watchRetryMs: 50,
};

export interface Run {
  code: number;
  lines: string[];
  output: string;
  /** The last line: DEPLOYED, FAILED or DRY RUN. */
  last: string;
}

export async function deploy(
  cluster: FakeCluster | { kubeconfig: () => string },
  argv: string[],
  options: { env?: NodeJS.ProcessEnv; signal?: AbortSignal; onLine?: (line: string) => void } = {},
): Promise<Run> {
  const lines: string[] = [];
  // A rollout the fake never finishes must fail the test, not hang it for 600 s.
  const bounded =
    argv.includes('--timeout') || argv.includes('--history') ? argv : [...argv, '--timeout', '20'];
  const code = await main({
    argv: bounded,
    env: options.env ?? { KUBECONFIG: cluster.kubeconfig(), HOME: '/nonexistent' },
    cwd: ROOT,
    root: ROOT,
    out: (line) => {
      lines.push(line);
      options.onLine?.(line);
    },
    signal: options.signal,
    timing: FAST_TIMING,
  });
  return { code, lines, output: lines.join('\n'), last: lines[lines.length - 1] ?? '' };
}

/** Writes (non-dry-run) the command sent: PATCH/POST/PUT/DELETE without dryRun=All. */
export function writes(cluster: FakeCluster): string[] {
  return cluster.requests.filter(
    (r) => /^(PATCH|POST|PUT|DELETE) /.test(r) && !/[?&]dryRun=All/.test(r),
  );
}
