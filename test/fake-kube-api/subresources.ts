/**
 * The fake's streaming and subresource answers: watch streams
 * (newline-delimited events), pod logs (plain text, previous=true, tailLines)
 * and the service proxy (the pod's own answer, or 503 without endpoints).
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- objects are JSON */
import type * as http from 'http';
import { isReady } from './kubelet';
import type { Resource } from './resources';
import { send, statusBody, type Route, type ServerOptions } from './server';
import { clone, matchesFields, matchesLabels, type Obj } from './store';

export function watch(
  o: ServerOptions,
  r: Route,
  q: URLSearchParams,
  res: http.ServerResponse,
): void {
  const selected = (x: Obj) =>
    (r.namespace === undefined || x.metadata.namespace === r.namespace) &&
    matchesLabels(q.get('labelSelector') ?? undefined, x.metadata.labels) &&
    matchesFields(q.get('fieldSelector') ?? undefined, x);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
  const write = (type: string, object: Obj) => res.write(`${JSON.stringify({ type, object })}\n`);
  const from = Number(q.get('resourceVersion') || 0);
  if (!from) {
    // "Get state and start at most recent": the current objects as ADDED.
    for (const x of o.store.peekList(r.res, r.namespace)) if (selected(x)) write('ADDED', x);
  } else {
    for (const e of o.store.log)
      if (e.rv > from && e.resource === r.res && selected(e.object)) write(e.type, e.object);
  }
  const unsubscribe = o.store.subscribe((e) => {
    if (e.resource === r.res && selected(e.object)) write(e.type, e.object);
  });
  const timeout = Number(q.get('timeoutSeconds') || 0);
  const timer = timeout ? setTimeout(() => res.end(), timeout * 1000) : undefined;
  const close = () => {
    unsubscribe();
    if (timer) clearTimeout(timer);
  };
  // Not req's 'close': that fires once the request body is read.
  res.on('close', close);
}

export function podLog(
  o: ServerOptions,
  r: Route,
  q: URLSearchParams,
  res: http.ServerResponse,
  notFound: (name: string) => void,
): void {
  const pod = o.store.peek(r.res, r.namespace, r.name as string);
  if (!pod) return notFound(r.name as string);
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map(
    (c: any) => c.name,
  );
  const container =
    q.get('container') ??
    (pod.spec?.containers?.length === 1 ? pod.spec.containers[0].name : undefined);
  if (!container || !containers.includes(container)) {
    const message = container
      ? `container ${container} is not valid for pod ${r.name}`
      : `a container name must be specified for pod ${r.name}, choose one of: [${pod.spec.containers.map((c: any) => c.name).join(' ')}]`;
    return send(res, 400, statusBody(400, 'BadRequest', message));
  }
  const previous = q.get('previous') === 'true';
  const lines = o.controllers.log(r.namespace as string, r.name as string, container, previous);
  if (!lines) {
    return send(
      res,
      400,
      statusBody(
        400,
        'BadRequest',
        `previous terminated container "${container}" in pod "${r.name}" not found`,
      ),
    );
  }
  const tail = Number(q.get('tailLines') || 0);
  const shown = tail > 0 ? lines.slice(-tail) : lines;
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end(shown.map((l) => `${l}\n`).join(''));
}

export function serviceProxy(o: ServerOptions, r: Route, res: http.ServerResponse): void {
  const [name, port] = (r.name as string).split(':');
  const service = o.store.peek(r.res, r.namespace, name);
  if (!service) {
    return send(
      res,
      404,
      statusBody(404, 'NotFound', `services "${name}" not found`, { name, kind: 'services' }),
    );
  }
  const servicePort = (service.spec.ports ?? []).find(
    (p: any) => port === undefined || p.name === port || String(p.port) === port,
  );
  if (!servicePort)
    return send(
      res,
      503,
      statusBody(
        503,
        'ServiceUnavailable',
        `no service port "${port}" found for service "${name}"`,
      ),
    );
  const podsRes = o.resources().find((x) => x.kind === 'Pod') as Resource;
  const endpoint = o.store
    .list(podsRes, r.namespace)
    .find(
      (p) =>
        isReady(p) &&
        Object.entries(service.spec.selector ?? {}).every(([k, v]) => p.metadata.labels?.[k] === v),
    );
  if (!endpoint) {
    return send(
      res,
      503,
      statusBody(503, 'ServiceUnavailable', `no endpoints available for service "${name}"`),
    );
  }
  const answer = o.health(clone(endpoint), `/${r.rest ?? ''}`);
  res.writeHead(answer.status, { 'Content-Type': 'application/json' });
  res.end(answer.body);
}
