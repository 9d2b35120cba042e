/**
 * A small, honest fake of the Kubernetes API for the deploy tests: a real
 * HTTP server on 127.0.0.1 answering the REST calls `npm run deploy` makes
 * the way kube-apiserver answers them, with controllers that roll out what
 * is applied and a scripted kubelet (./kubelet) whose pods the test decides:
 * ready, crash-looping with a traceback in the previous log, failing to pull
 * their image. The command under test only ever sees the API.
 *
 * Not emulated: admission (Pod Security), strategic lists in server-side
 * apply (lists are atomic), most defaulting, field validation, real RBAC
 * (a test names the requests that are forbidden), rolling-update pacing
 * (all new pods start at once; old pods go when every new one is ready).
 */
import * as fs from 'fs';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { Controllers, type TimelineEntry } from './controllers';
import type { PodBehaviour } from './kubelet';
import { ARGO_CD_RESOURCES, CORE_RESOURCES, type Resource } from './resources';
import { createServer, type Forbidden } from './server';
import { Store, type Obj } from './store';

export type { PodBehaviour } from './kubelet';
export type { Obj } from './store';

export interface FakeClusterOptions {
  /** How the pods of each workload revision behave (default: ready after 30 ms). */
  behaviour?: (workload: Obj) => PodBehaviour;
  /** The app's answer to a GET through the service proxy (default: 200 on /health). */
  health?: (pod: Obj, path: string) => { status: number; body: string };
  /** Requests answered 403, by verb and resource (`patch`, `poddisruptionbudgets`). */
  forbidden?: Forbidden[];
  /** Bearer tokens accepted (default: any request). */
  tokens?: string[];
  /** Serve argoproj.io/v1alpha1 (Applications) as an Argo CD install does. */
  argoCd?: boolean;
  nodes?: Obj[];
  reactMs?: number;
  /** How long a Deployment's progress deadline lasts here (default: its seconds). */
  progressDeadlineMs?: (seconds: number) => number;
}

export interface FakeCluster {
  url: string;
  store: Store;
  /** Every request, `METHOD /path?query`, in order. */
  requests: string[];
  timeline: TimelineEntry[];
  options: Required<Pick<FakeClusterOptions, 'forbidden'>> & FakeClusterOptions;
  resource(kind: string): Resource;
  /** An object as stored, or undefined. */
  get(kind: string, namespace: string | undefined, name: string): Obj | undefined;
  list(kind: string, namespace?: string): Obj[];
  /** Writes a kubeconfig for this server into a temporary folder; returns its path. */
  kubeconfig(extra?: { token?: string; context?: string }): string;
  close(): Promise<void>;
}

export const HEALTHY: PodBehaviour = { kind: 'ready', afterMs: 30 };

export async function startFakeCluster(options: FakeClusterOptions = {}): Promise<FakeCluster> {
  const store = new Store();
  const opts = { forbidden: [], ...options };
  const resources = () => [...CORE_RESOURCES, ...(opts.argoCd ? ARGO_CD_RESOURCES : [])];
  const controllers = new Controllers(store, {
    behaviour: (w) => (opts.behaviour ?? (() => HEALTHY))(w),
    reactMs: opts.reactMs ?? 2,
    nodes: opts.nodes ?? [],
    progressDeadlineMs: opts.progressDeadlineMs ?? ((seconds) => seconds * 1000),
  });
  const requests: string[] = [];
  const server = createServer({
    store,
    controllers,
    resources,
    tokens: opts.tokens ?? [],
    get forbidden() {
      return opts.forbidden;
    },
    version: 'v1.28.5+k3s1',
    health: (pod, p) =>
      (
        opts.health ??
        ((_pod, q) =>
          q === '/health'
            ? { status: 200, body: '{"status":"ok"}' }
            : { status: 404, body: '{"detail":"Not Found"}' })
      )(pod, p),
    requests,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-kube-'));
  const resource = (kind: string) => {
    const found = resources().find((r) => r.kind === kind);
    if (!found) throw new Error(`the fake does not serve ${kind}`);
    return found;
  };
  return {
    url,
    store,
    requests,
    timeline: controllers.timeline,
    options: opts,
    resource,
    get: (kind, namespace, name) => store.get(resource(kind), namespace, name),
    list: (kind, namespace) => store.list(resource(kind), namespace),
    kubeconfig(extra = {}) {
      const context = extra.context ?? 'fake';
      const file = path.join(temp, `${context}.yaml`);
      const user = extra.token ? `\n      token: ${extra.token}` : ' {}';
      fs.writeFileSync(
        file,
        `apiVersion: v1
kind: Config
clusters:
  - name: ${context}
    cluster:
      server: ${url}
users:
  - name: ${context}-user
    user:${user}
contexts:
  - name: ${context}
    context:
      cluster: ${context}
      user: ${context}-user
current-context: ${context}
`,
      );
      return file;
    },
    async close() {
      controllers.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(temp, { recursive: true, force: true });
    },
  };
}
