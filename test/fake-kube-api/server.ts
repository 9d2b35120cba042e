/**
 * The fake's HTTP front: a node http server on 127.0.0.1 that routes the
 * Kubernetes REST paths the command uses and answers as kube-apiserver does
 * (object JSON; Status objects for errors; newline-delimited watch events;
 * plain-text logs; the service proxy passing the pod's answer through).
 */
import { randomUUID } from 'crypto';
import * as http from 'http';
import { parse as parseYaml } from 'yaml';
import {
  ApplyConflictError,
  InvalidError,
  applyDefaults,
  checkImmutable,
  serverSideApply,
} from './apply';
import type { Controllers } from './controllers';
import { discovery, groupVersion, type Resource } from './resources';
import { matchesFields, matchesLabels, type Obj, type Store } from './store';
import { podLog, serviceProxy, watch } from './subresources';

export interface Forbidden {
  verb: string;
  resource: string;
  name?: string;
  namespace?: string;
}

export interface ServerOptions {
  store: Store;
  controllers: Controllers;
  resources: () => Resource[];
  /** Bearer tokens accepted; empty: anyone. */
  tokens: string[];
  forbidden: Forbidden[];
  version: string;
  health: (pod: Obj, path: string) => { status: number; body: string };
  /** Every request, as `METHOD path?query`. */
  requests: string[];
}

export interface Route {
  res: Resource;
  namespace?: string;
  name?: string;
  subresource?: string;
  rest?: string;
}

export function statusBody(code: number, reason: string, message: string, details?: object) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

export function qualified(res: Resource): string {
  return res.group ? `${res.name}.${res.group}` : res.name;
}

/** `/apis/apps/v1/namespaces/x/deployments/y/status` → its parts. */
export function route(resources: readonly Resource[], pathname: string): Route | undefined {
  const all = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const core = all[0] === 'api';
  if (!core && all[0] !== 'apis') return undefined;
  const gv = core ? all[1] : `${all[1]}/${all[2]}`;
  let parts = all.slice(core ? 2 : 3);
  let namespace: string | undefined;
  if (parts[0] === 'namespaces' && parts.length >= 3) {
    namespace = parts[1];
    parts = parts.slice(2);
  }
  const res = resources.find((r) => groupVersion(r) === gv && r.name === parts[0]);
  if (!res) return undefined;
  return { res, namespace, name: parts[1], subresource: parts[2], rest: parts.slice(3).join('/') };
}

export function createServer(o: ServerOptions): http.Server {
  return http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        handle(o, req, res, Buffer.concat(chunks).toString('utf8'));
      } catch (error) {
        send(res, 500, statusBody(500, 'InternalError', (error as Error).message));
      }
    });
  });
}

export function send(res: http.ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

function verbOf(method: string, r: Route, query: URLSearchParams): string {
  if (method === 'GET')
    return query.get('watch') === 'true' ? 'watch' : r.name === undefined ? 'list' : 'get';
  return (
    { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' }[method] ??
    method.toLowerCase()
  );
}

function handle(
  o: ServerOptions,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  body: string,
): void {
  const url = new URL(req.url ?? '/', 'http://fake');
  const q = url.searchParams;
  const method = req.method ?? 'GET';
  o.requests.push(`${method} ${url.pathname}${url.search}`);
  const auth = req.headers.authorization ?? '';
  if (o.tokens.length > 0 && !o.tokens.some((t) => auth === `Bearer ${t}`)) {
    return send(res, 401, statusBody(401, 'Unauthorized', 'Unauthorized'));
  }
  if (url.pathname === '/version') {
    const [major, minor] = o.version.replace(/^v/, '').split('.');
    return send(res, 200, {
      major,
      minor,
      gitVersion: o.version,
      gitCommit: 'fake',
      gitTreeState: 'clean',
      buildDate: '2024-01-01T00:00:00Z',
      goVersion: 'go1.20',
      compiler: 'gc',
      platform: 'linux/amd64',
    });
  }
  const resources = o.resources();
  const gv = url.pathname.replace(/^\/(api|apis)\//, '');
  if (/^\/(api\/v1|apis\/[^/]+\/[^/]+)$/.test(url.pathname)) {
    const doc = discovery(resources, gv);
    return doc
      ? send(res, 200, doc)
      : send(
          res,
          404,
          statusBody(404, 'NotFound', 'the server could not find the requested resource'),
        );
  }
  const r = route(resources, url.pathname);
  if (!r)
    return send(
      res,
      404,
      statusBody(404, 'NotFound', 'the server could not find the requested resource'),
    );
  const user = 'deployer';
  const sub = r.subresource ? `${r.res.name}/${r.subresource.replace(/:.*/, '')}` : r.res.name;
  const verb = verbOf(method, r, q);
  const denied = o.forbidden.find(
    (f) =>
      f.verb === verb &&
      f.resource === sub &&
      (f.name === undefined || f.name === r.name) &&
      (f.namespace === undefined || f.namespace === r.namespace),
  );
  if (denied) {
    const what = r.name
      ? `${qualified(r.res)} "${r.name}" is forbidden`
      : `${qualified(r.res)} is forbidden`;
    const scope = r.namespace
      ? ` in the namespace "${r.namespace}"`
      : r.res.namespaced
        ? ''
        : ' at the cluster scope';
    const message = `${what}: User "${user}" cannot ${verb} resource "${sub}" in API group "${r.res.group}"${scope}`;
    return send(
      res,
      403,
      statusBody(403, 'Forbidden', message, { name: r.name, group: r.res.group, kind: r.res.name }),
    );
  }
  const notFound = (name: string, res2: Resource = r.res) =>
    send(
      res,
      404,
      statusBody(404, 'NotFound', `${qualified(res2)} "${name}" not found`, {
        name,
        group: res2.group,
        kind: res2.name,
      }),
    );
  if (r.subresource === 'log' && method === 'GET') return podLog(o, r, q, res, notFound);
  if (r.subresource === 'proxy' && r.res.name === 'services') return serviceProxy(o, r, res);
  if (r.subresource)
    return send(
      res,
      404,
      statusBody(404, 'NotFound', 'the server could not find the requested resource'),
    );
  const namespaceMissing = () => {
    const nsRes = resources.find((x) => x.kind === 'Namespace') as Resource;
    if (!r.res.namespaced || !r.namespace || o.store.peek(nsRes, undefined, r.namespace))
      return false;
    send(
      res,
      404,
      statusBody(404, 'NotFound', `namespaces "${r.namespace}" not found`, {
        name: r.namespace,
        kind: 'namespaces',
      }),
    );
    return true;
  };
  const dryRun = q.get('dryRun') === 'All';
  switch (method) {
    case 'GET': {
      if (r.name) {
        const object = o.store.peek(r.res, r.namespace, r.name);
        return object ? send(res, 200, object) : notFound(r.name);
      }
      if (q.get('watch') === 'true') return watch(o, r, q, res);
      const items = o.store
        .peekList(r.res, r.namespace)
        .filter(
          (x) =>
            matchesLabels(q.get('labelSelector') ?? undefined, x.metadata.labels) &&
            matchesFields(q.get('fieldSelector') ?? undefined, x),
        )
        .map(({ apiVersion: _a, kind: _k, ...rest }) => rest);
      return send(res, 200, {
        kind: `${r.res.kind}List`,
        apiVersion: groupVersion(r.res),
        metadata: { resourceVersion: String(o.store.resourceVersion()) },
        items,
      });
    }
    case 'PATCH': {
      const type = String(req.headers['content-type'] ?? '').split(';')[0];
      if (type !== 'application/apply-patch+yaml') {
        return send(
          res,
          415,
          statusBody(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml`,
          ),
        );
      }
      const manager = q.get('fieldManager');
      if (!manager)
        return send(
          res,
          422,
          statusBody(
            422,
            'Invalid',
            'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
          ),
        );
      if (namespaceMissing()) return;
      // JSON is YAML; the API server decodes JSON bodies directly, so does this.
      const applied = (
        body.trimStart().startsWith('{') ? JSON.parse(body) : parseYaml(body)
      ) as Obj;
      const live = o.store.peek(r.res, r.namespace, r.name as string);
      let next: Obj;
      try {
        next = serverSideApply(live, applied, manager, q.get('force') === 'true');
        next.metadata.uid = live?.metadata.uid ?? randomUUID();
        applyDefaults(next, live);
        checkImmutable(next, live);
      } catch (error) {
        if (error instanceof ApplyConflictError)
          return send(
            res,
            409,
            statusBody(409, 'Conflict', error.message, {
              causes: error.conflicts.map((c) => ({
                reason: 'FieldManagerConflict',
                message: `conflict with "${c.manager}"`,
                field: `.${c.path}`,
              })),
            }),
          );
        if (error instanceof InvalidError) {
          const message =
            `${r.res.kind}.${r.res.group || 'core'} "${r.name}" is invalid: ${error.field}: ${error.detail}`.replace(
              '.core "',
              ' "',
            );
          return send(
            res,
            422,
            statusBody(422, 'Invalid', message, {
              name: r.name,
              group: r.res.group,
              kind: r.res.kind,
              causes: [{ reason: 'FieldValueInvalid', message: error.detail, field: error.field }],
            }),
          );
        }
        throw error;
      }
      if (r.res.namespaced) next.metadata.namespace = r.namespace;
      else delete next.metadata.namespace;
      return send(res, live ? 200 : 201, o.store.put(r.res, next, dryRun));
    }
    case 'POST': {
      if (namespaceMissing()) return;
      const object = JSON.parse(body) as Obj;
      if (o.store.peek(r.res, r.namespace, object.metadata.name)) {
        const name = object.metadata.name;
        return send(
          res,
          409,
          statusBody(409, 'AlreadyExists', `${qualified(r.res)} "${name}" already exists`, {
            name,
            group: r.res.group,
            kind: r.res.name,
          }),
        );
      }
      object.metadata.namespace = r.namespace;
      applyDefaults(object, undefined);
      return send(res, 201, o.store.put(r.res, object, dryRun));
    }
    case 'PUT': {
      const object = JSON.parse(body) as Obj;
      const live = o.store.peek(r.res, r.namespace, r.name as string);
      if (!live) return notFound(r.name as string);
      if (
        object.metadata.resourceVersion &&
        object.metadata.resourceVersion !== live.metadata.resourceVersion
      ) {
        const message = `Operation cannot be fulfilled on ${qualified(r.res)} "${r.name}": the object has been modified; please apply your changes to the latest version and try again`;
        return send(
          res,
          409,
          statusBody(409, 'Conflict', message, {
            name: r.name,
            group: r.res.group,
            kind: r.res.name,
          }),
        );
      }
      object.metadata = { ...object.metadata, namespace: r.namespace };
      applyDefaults(object, live);
      return send(res, 200, o.store.put(r.res, object, dryRun));
    }
    case 'DELETE': {
      const live = o.store.peek(r.res, r.namespace, r.name as string);
      if (!live) return notFound(r.name as string);
      if (!dryRun) o.store.delete(r.res, r.namespace, r.name as string);
      return send(res, 200, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: { name: r.name, group: r.res.group, kind: r.res.name, uid: live.metadata.uid },
      });
    }
    default:
      return send(res, 405, statusBody(405, 'MethodNotAllowed', `${method} is not supported`));
  }
}
