/**
 * Probe timing as the kubelet's prober applies it: nothing before
 * initialDelaySeconds after the container started, one attempt per
 * periodSeconds, each bounded by timeoutSeconds, success after
 * successThreshold successes in a row, failure after failureThreshold
 * failures in a row. Messages are the kubelet's (`kubectl describe pod`).
 */
import { ContainerSpec, ProbeSpec } from './pod-spec';
import { resolvePort } from './kubelet';

export type ProbeTarget =
  | {
      readonly type: 'http';
      readonly scheme: 'HTTP' | 'HTTPS';
      readonly host: string;
      readonly port: number;
      readonly path: string;
      readonly headers: Readonly<Record<string, string>>;
    }
  | { readonly type: 'tcp'; readonly host: string; readonly port: number };

/** What the network helper saw: a status code, an error code, or a timeout. */
export interface ProbeReply {
  readonly status?: number;
  readonly error?: string;
  readonly timeout?: boolean;
}

export interface ProbeTransport {
  send(target: ProbeTarget, timeoutMs: number): Promise<ProbeReply>;
}

export interface ProbeOutcome {
  readonly ok: boolean;
  /** The kubelet's wording: what `Startup probe failed: ...` would say, or the success. */
  readonly message: string;
}

/** The probe's target inside the pod: the pod IP unless `host` is set, a named port resolved. */
export function probeTarget(
  container: ContainerSpec,
  probe: ProbeSpec,
  podIP: string,
  kubernetesVersion = '1.28',
): ProbeTarget {
  const action = probe.action;
  if (action.type === 'httpGet') {
    const headers: Record<string, string> = {
      'User-Agent': `kube-probe/${kubernetesVersion}`,
      Accept: '*/*',
    };
    for (const h of action.headers) headers[h.name] = h.value;
    return {
      type: 'http',
      scheme: action.scheme,
      host: action.host ?? podIP,
      port: resolvePort(container, action.port),
      path: action.path.startsWith('/') ? action.path : `/${action.path}`,
      headers,
    };
  }
  if (action.type === 'tcpSocket') {
    return { type: 'tcp', host: action.host ?? podIP, port: resolvePort(container, action.port) };
  }
  throw new Error(`${action.type} probes are not emulated by the smoke run`);
}

export function describeTarget(target: ProbeTarget): string {
  return target.type === 'http'
    ? `GET ${target.scheme.toLowerCase()}://${target.host}:${target.port}${target.path}`
    : `TCP ${target.host}:${target.port}`;
}

/** Go's wording of a dial error, as it appears in kubelet events. */
function dialError(code: string): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connect: connection refused';
    case 'ECONNRESET':
      return 'read: connection reset by peer';
    case 'EHOSTUNREACH':
      return 'connect: no route to host';
    case 'ENETUNREACH':
      return 'connect: network is unreachable';
    default:
      return code;
  }
}

/** Turns the helper's reply into the kubelet's verdict and message. */
export function judge(target: ProbeTarget, reply: ProbeReply): ProbeOutcome {
  const hostPort = `${target.host}:${target.port}`;
  if (target.type === 'tcp') {
    if (reply.timeout) return { ok: false, message: `dial tcp ${hostPort}: i/o timeout` };
    if (reply.error)
      return { ok: false, message: `dial tcp ${hostPort}: ${dialError(reply.error)}` };
    return { ok: true, message: 'connected' };
  }
  const url = `${target.scheme.toLowerCase()}://${hostPort}${target.path}`;
  if (reply.timeout) {
    return {
      ok: false,
      message: `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
    };
  }
  if (reply.error) {
    const dial = /^E[A-Z]+$/.test(reply.error) && reply.error !== 'ECONNRESET';
    return {
      ok: false,
      message: dial
        ? `Get "${url}": dial tcp ${hostPort}: ${dialError(reply.error)}`
        : `Get "${url}": ${dialError(reply.error)}`,
    };
  }
  const status = reply.status ?? 0;
  // The kubelet's HTTP prober: 200 <= code < 400 is a success.
  if (status >= 200 && status < 400) return { ok: true, message: `HTTP ${status}` };
  return { ok: false, message: `HTTP probe failed with statuscode: ${status}` };
}

export interface ProbeClock {
  now(): number;
  /** Resolves after `ms`, rejects when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const realClock: ProbeClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    }),
};

export interface ProbeAttempt {
  readonly number: number;
  readonly outcome: ProbeOutcome;
  /** Consecutive failures so far (0 after a success). */
  readonly failures: number;
}

export interface ProbeVerdict {
  readonly ok: boolean;
  readonly attempts: number;
  /** Consecutive failures at the end (the failureThreshold when not ok). */
  readonly failures: number;
  readonly last: ProbeOutcome;
}

/**
 * Polls one probe until it succeeds or fails for good. `startedAt` is when
 * the container started; `notBefore` delays the first attempt further (the
 * readiness probe waits for the startup probe).
 */
export async function pollProbe(
  spec: ProbeSpec,
  target: ProbeTarget,
  transport: ProbeTransport,
  options: {
    readonly startedAt: number;
    readonly notBefore?: number;
    readonly clock?: ProbeClock;
    readonly signal: AbortSignal;
    readonly onAttempt?: (attempt: ProbeAttempt) => void;
  },
): Promise<ProbeVerdict> {
  const clock = options.clock ?? realClock;
  let next = Math.max(
    options.startedAt + spec.initialDelaySeconds * 1000,
    options.notBefore ?? 0,
    clock.now(),
  );
  let successes = 0;
  let failures = 0;
  for (let number = 1; ; number++) {
    const wait = next - clock.now();
    if (wait > 0) await clock.sleep(wait, options.signal);
    if (options.signal.aborted) throw options.signal.reason;
    const reply = await transport.send(target, spec.timeoutSeconds * 1000);
    if (options.signal.aborted) throw options.signal.reason;
    const outcome = judge(target, reply);
    if (outcome.ok) {
      successes++;
      failures = 0;
    } else {
      failures++;
      successes = 0;
    }
    options.onAttempt?.({ number, outcome, failures });
    if (successes >= spec.successThreshold) {
      return { ok: true, attempts: number, failures, last: outcome };
    }
    if (failures >= spec.failureThreshold) {
      return { ok: false, attempts: number, failures, last: outcome };
    }
    next += spec.periodSeconds * 1000;
  }
}
