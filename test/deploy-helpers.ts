/** Running `npm run deploy`'s main() in-process against a fake API server. */
import * as fs from 'fs';
import * as path from 'path';
import { main } from '../deploy/main';
import { startFakeCluster, type FakeCluster } from './fake-kube-api';

export const ROOT = path.resolve(__dirname, '..');

/** Short waits: the fake's pods start in milliseconds. */
export const FAST_TIMING = {
  requestTimeoutMs: 3000,
  verifyTimeoutMs: 1000,
  verifyIntervalMs: 50,
  watchRetryMs: 50,
};

/** Every request the command made in this test file (see docs/deploy.md, API calls). */
export const requestsMade: string[] = [];

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
  const requests = 'requests' in cluster ? cluster.requests : undefined;
  const first = requests?.length ?? 0;
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
  if (requests) requestsMade.push(...requests.slice(first));
  return { code, lines, output: lines.join('\n'), last: lines[lines.length - 1] ?? '' };
}

/** Writes (non-dry-run) the command sent: PATCH/POST/PUT/DELETE without dryRun=All. */
export function writes(cluster: FakeCluster): string[] {
  return cluster.requests.filter(
    (r) => /^(PATCH|POST|PUT|DELETE) /.test(r) && !/[?&]dryRun=All/.test(r),
  );
}

interface CallPattern {
  method: string;
  path: RegExp;
  required: Map<string, RegExp>;
  optional: Map<string, RegExp>;
}

/** A documented pattern: `{name}` stands for one path segment, or any query value. */
const placeholder = (text: string, any = '[^/?&]+') =>
  new RegExp(`^${text.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[a-z-]+\\?\}/gi, any)}$`);

function params(text: string): Map<string, RegExp> {
  return new Map(
    text
      .split('&')
      .filter(Boolean)
      .map((pair) => {
        const at = pair.indexOf('=');
        return [pair.slice(0, at), placeholder(pair.slice(at + 1), '.+')];
      }),
  );
}

/** The "API calls" list of docs/deploy.md. */
export function documentedCalls(): CallPattern[] {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'deploy.md'), 'utf8');
  const block = /<!-- api-calls[^>]*-->\s*```\n([\s\S]*?)```/.exec(doc)?.[1];
  if (!block) throw new Error('docs/deploy.md has no api-calls block');
  return block
    .trim()
    .split('\n')
    .map((line) => {
      const [method, target] = line.trim().split(/\s+/);
      const [pathPart, query = ''] = target.split('?');
      const optional = [...query.matchAll(/\[&([^\]]+)\]/g)].map((m) => m[1]).join('&');
      return {
        method,
        path: placeholder(pathPart),
        required: params(query.replace(/\[&[^\]]+\]/g, '')),
        optional: params(optional),
      };
    });
}

/** Requests (`METHOD /path?query`) that match no line of the documented list. */
export function undocumented(requests: readonly string[]): string[] {
  const calls = documentedCalls();
  return [...new Set(requests)].filter((request) => {
    const [method, target] = request.split(' ');
    const url = new URL(target, 'http://x');
    const pathname = decodeURIComponent(url.pathname);
    const query = [...url.searchParams];
    return !calls.some(
      (c) =>
        c.method === method &&
        c.path.test(pathname) &&
        [...c.required].every(([k, v]) => v.test(url.searchParams.get(k) ?? '\u0000')) &&
        query.every(([k, v]) => (c.required.get(k) ?? c.optional.get(k))?.test(v)),
    );
  });
}

/** Runs `fn` against a fresh fake cluster, closed afterwards whatever happens. */
export async function withCluster<T>(
  options: Parameters<typeof startFakeCluster>[0],
  fn: (c: FakeCluster) => Promise<T>,
): Promise<T> {
  const cluster = await startFakeCluster(options);
  try {
    return await fn(cluster);
  } finally {
    await cluster.close();
  }
}

/** The status label of a recorded release Secret (`sophia-manifests.release.vN`). */
export function releaseStatus(cluster: FakeCluster, secret: string): string | undefined {
  return cluster.get('Secret', 'sophia-ai-prod', secret)?.metadata.labels?.[
    'manifests.sophia.ai/release-status'
  ];
}
