/**
 * Verify: GET the backend's health path through the API server's service
 * proxy (`/api/v1/namespaces/<ns>/services/<name>:<port>/proxy/<path>`), the
 * way a client of the Service reaches it, with no port-forward.
 */
import { describeFailure, formatFailure, isUnreachable, statusCode, type Kube } from './kube';
import type { HealthTarget } from './manifests';
import { duration, type Reporter } from './output';

export interface VerifyOptions {
  /** How long 502/503 answers (no endpoint yet) are retried. */
  timeoutMs: number;
  intervalMs: number;
  signal?: AbortSignal;
}

export function proxyPath(t: HealthTarget): string {
  return `/api/v1/namespaces/${t.namespace}/services/${t.service}:${t.port}/proxy${t.path}`;
}

function snippet(body: unknown): string {
  const text = (typeof body === 'string' ? body : (JSON.stringify(body) ?? ''))
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** Returns undefined when healthy, else why not. */
export async function verify(
  kube: Kube,
  target: HealthTarget,
  report: Reporter,
  options: VerifyOptions,
): Promise<string | undefined> {
  const deadline = Date.now() + options.timeoutMs;
  const url = proxyPath(target);
  for (;;) {
    const start = performance.now();
    try {
      const body = await kube.core.connectGetNamespacedServiceProxyWithPath({
        name: `${target.service}:${target.port}`,
        namespace: target.namespace,
        // The generated client adds the slash between proxy/ and the path.
        path: target.path.replace(/^\//, ''),
      });
      report.step(
        `verify: GET ${url} -> 200 in ${duration(performance.now() - start)}: ${snippet(body)}`,
      );
      return undefined;
    } catch (error) {
      const latency = duration(performance.now() - start);
      const code = statusCode(error);
      const failure = formatFailure(describeFailure(error));
      const retry = code === 502 || code === 503 || isUnreachable(error);
      if (!retry || Date.now() + options.intervalMs > deadline || options.signal?.aborted) {
        report.step(`verify: GET ${url} -> ${failure} (in ${latency})`);
        return `health check failed: ${failure}`;
      }
      report.step(`verify: GET ${url} -> ${failure} (in ${latency}); retrying`);
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
    }
  }
}
