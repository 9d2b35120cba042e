/**
 * The connection to the cluster: the kubeconfig exactly as kubectl finds it
 * (KUBECONFIG, a list of files merged in order, else ~/.kube/config; its
 * current context unless --context), loaded by @kubernetes/client-node, which
 * also handles token, client-certificate, basic and exec-credential users.
 * Every request goes through the library's API clients; this module only
 * adds a per-request timeout and turns errors into one line.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as k8s from '@kubernetes/client-node';

/** The kubeconfig cannot be read or names no usable cluster. */
export class KubeConfigError extends Error {}

/** Field manager of every apply, as kubectl's --field-manager. */
export const FIELD_MANAGER = 'sophia-manifests';

/**
 * Runs `fn` with KUBECONFIG and HOME taken from `env` (the library reads them
 * from process.env). Synchronous, so nothing else runs in between.
 */
function withEnv<T>(env: NodeJS.ProcessEnv, fn: () => T): T {
  const keys = ['KUBECONFIG', 'HOME'] as const;
  const saved = keys.map((key) => process.env[key]);
  try {
    for (const key of keys) {
      if (env[key] === undefined) delete process.env[key];
      else process.env[key] = env[key];
    }
    return fn();
  } finally {
    keys.forEach((key, i) => {
      if (saved[i] === undefined) delete process.env[key];
      else process.env[key] = saved[i];
    });
  }
}

function kubeconfigSource(env: NodeJS.ProcessEnv): string {
  return env.KUBECONFIG ? `KUBECONFIG=${env.KUBECONFIG}` : '~/.kube/config';
}

export function loadKubeConfig(env: NodeJS.ProcessEnv, context?: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  // Without any kubeconfig the library falls back to http://localhost:8080,
  // and the user would read "connection refused" instead of the cause.
  const home = env.HOME ?? '';
  if (
    !env.KUBECONFIG &&
    !env.KUBERNETES_SERVICE_HOST &&
    !(home && fs.existsSync(path.join(home, '.kube', 'config')))
  ) {
    throw new KubeConfigError(
      'no kubeconfig: KUBECONFIG is not set and ~/.kube/config does not exist (set KUBECONFIG or use kubectl config to create it)',
    );
  }
  try {
    withEnv(env, () => kc.loadFromDefault());
  } catch (error) {
    throw new KubeConfigError(`cannot read ${kubeconfigSource(env)}: ${(error as Error).message}`);
  }
  if (context !== undefined) {
    if (!kc.getContextObject(context)) {
      const known = kc.contexts.map((c) => c.name).join(', ') || 'none';
      throw new KubeConfigError(
        `context "${context}" is not in ${kubeconfigSource(env)} (contexts: ${known})`,
      );
    }
    kc.setCurrentContext(context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new KubeConfigError(
      `${kubeconfigSource(env)} has no current context with a cluster (use --context)`,
    );
  }
  // client-node 1.x refuses a plain http:// server unless the cluster is marked
  // insecure-skip-tls-verify, which means nothing without TLS; kubectl talks
  // to such a server as it is. Mark it, so the library builds an http agent.
  if (cluster.server.startsWith('http://') && !cluster.skipTLSVerify) {
    kc.loadFromOptions({
      clusters: kc.clusters.map((c) =>
        c.name === cluster.name ? { ...c, skipTLSVerify: true } : c,
      ),
      users: kc.users,
      contexts: kc.contexts,
      currentContext: kc.currentContext,
    });
  }
  return kc;
}

/** The API clients of one cluster, each request bounded by `requestTimeoutMs`. */
export class Kube {
  readonly server: string;
  readonly context: string;
  readonly objects: k8s.KubernetesObjectApi;
  readonly core: k8s.CoreV1Api;
  readonly custom: k8s.CustomObjectsApi;
  readonly version: k8s.VersionApi;
  readonly watch: k8s.Watch;

  constructor(
    readonly config: k8s.KubeConfig,
    requestTimeoutMs: number,
  ) {
    this.server = config.getCurrentCluster()?.server ?? '';
    this.context = config.getCurrentContext();
    // As KubeConfig.makeApiClient does, plus a timeout: a server that accepts
    // connections but never answers must not hang an emergency deploy.
    const configuration = k8s.createConfiguration({
      baseServer: new k8s.ServerConfiguration(this.server, {}),
      authMethods: { default: config },
      promiseMiddleware: [
        {
          pre: async (context: k8s.RequestContext) => {
            context.setSignal(AbortSignal.timeout(requestTimeoutMs));
            return context;
          },
          post: async (response: k8s.ResponseContext) => response,
        },
      ],
    });
    this.objects = new k8s.KubernetesObjectApi(configuration);
    this.core = new k8s.CoreV1Api(configuration);
    this.custom = new k8s.CustomObjectsApi(configuration);
    this.version = new k8s.VersionApi(configuration);
    // Watches stay open as long as they are needed: no timeout.
    this.watch = new k8s.Watch(config);
  }
}

/** A failed request, in the API server's words where it answered. */
export interface RequestFailure {
  /** HTTP status; undefined when the server did not answer. */
  code?: number;
  /** The Status object's reason (NotFound, Forbidden, ...). */
  reason?: string;
  message: string;
}

const NETWORK_CODES =
  /^(E[A-Z]+|ERR_SSL_.*|ERR_TLS_.*|CERT_.*|DEPTH_ZERO_.*|SELF_SIGNED_.*|UNABLE_TO_.*)$/;

export function describeFailure(error: unknown): RequestFailure {
  if (error instanceof k8s.ApiException) {
    const code = error.code;
    const body: unknown = error.body;
    if (typeof body === 'string' && body.trim().startsWith('{')) {
      try {
        const status = JSON.parse(body) as { message?: string; reason?: string };
        return { code, reason: status.reason, message: status.message ?? body };
      } catch {
        // not a Status object: fall through
      }
    }
    const text = typeof body === 'string' ? body.replace(/\s+/g, ' ').trim().slice(0, 200) : '';
    return {
      code,
      reason: code === 401 ? 'Unauthorized' : undefined,
      message: text || 'no message',
    };
  }
  const e = error as { name?: string; code?: string; message?: string; cause?: { code?: string } };
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') {
    return { message: 'no answer (request timed out)' };
  }
  return { message: e?.message ?? String(error) };
}

/** True when the server did not answer at all (refused, DNS, TLS, timeout). */
export function isUnreachable(error: unknown): boolean {
  if (error instanceof k8s.ApiException) return false;
  const e = error as { name?: string; code?: string; type?: string };
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return true;
  return (e?.type === 'system' || typeof e?.code === 'string') && NETWORK_CODES.test(e.code ?? '');
}

export function statusCode(error: unknown): number | undefined {
  return error instanceof k8s.ApiException ? error.code : undefined;
}

/** `403 Forbidden: <message>`, `HTTP 500: <body>`, or the network error. */
export function formatFailure(failure: RequestFailure): string {
  if (failure.code === undefined) return failure.message;
  return failure.reason
    ? `${failure.code} ${failure.reason}: ${failure.message}`
    : `HTTP ${failure.code}: ${failure.message}`;
}
