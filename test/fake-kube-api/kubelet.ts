/**
 * What the kubelet writes about a pod, scripted: the pod statuses a real
 * node reports as a pod starts, becomes ready, crashes into CrashLoopBackOff
 * or fails to pull its image, the events it records, and the containers'
 * logs (current and previous instance). A test says which behaviour the pods
 * of a workload revision have; the status sequence is the kubelet's.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- objects are JSON */
import { now, type Obj } from './store';

export type PodBehaviour =
  /** Starts, then becomes ready after `afterMs`. */
  | { kind: 'ready'; afterMs?: number }
  /** Runs, exits with `exitCode` printing `log`, then waits in CrashLoopBackOff. */
  | { kind: 'crashLoop'; log: string[]; exitCode?: number; afterMs?: number; container?: string }
  /** Its first container's image cannot be pulled. */
  | { kind: 'imagePullError'; afterMs?: number }
  /** Never scheduled. */
  | { kind: 'unschedulable' };

export interface KubeletHooks {
  /** Writes the pod's new status (a full object update). */
  writeStatus(pod: Obj, status: any): void;
  event(pod: Obj, type: 'Normal' | 'Warning', reason: string, message: string): void;
  setLog(pod: Obj, container: string, lines: string[], previous: boolean): void;
  /** Records when the API first showed a state (for measurements). */
  mark(what: string, pod: Obj): void;
  timer(ms: number, fn: () => void): void;
}

function names(pod: Obj, key: 'containers' | 'initContainers'): string[] {
  return (pod.spec?.[key] ?? []).map((c: any) => c.name);
}

function images(pod: Obj): Record<string, string> {
  return Object.fromEntries(
    [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c: any) => [
      c.name,
      c.image,
    ]),
  );
}

function condition(type: string, ok: boolean, reason?: string, message?: string) {
  return {
    type,
    status: ok ? 'True' : 'False',
    lastProbeTime: null,
    lastTransitionTime: now(),
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
  };
}

function status(pod: Obj, phase: string, init: any[], containers: any[], ready: boolean): any {
  const initialized = init.every((s) => s.state?.terminated?.exitCode === 0);
  return {
    phase,
    conditions: [
      condition('Initialized', initialized, initialized ? undefined : 'ContainersNotInitialized'),
      condition('Ready', ready, ready ? undefined : 'ContainersNotReady'),
      condition('ContainersReady', ready, ready ? undefined : 'ContainersNotReady'),
      condition('PodScheduled', true),
    ],
    hostIP: '10.0.0.21',
    podIP: '10.42.0.17',
    startTime: pod.metadata.creationTimestamp,
    ...(init.length > 0 ? { initContainerStatuses: init } : {}),
    containerStatuses: containers,
  };
}

function containerStatus(pod: Obj, name: string, state: any, extra: any = {}): any {
  return {
    name,
    image: images(pod)[name],
    imageID: '',
    ready: false,
    restartCount: 0,
    started: Boolean(state.running),
    state,
    lastState: {},
    ...extra,
  };
}

const completed = (pod: Obj) =>
  names(pod, 'initContainers').map((n) =>
    containerStatus(
      pod,
      n,
      { terminated: { exitCode: 0, reason: 'Completed', startedAt: now(), finishedAt: now() } },
      { ready: true },
    ),
  );

/**
 * Runs the steps in order, each `ms` after the previous one ran: separate
 * timers could fire out of order when the event loop is busy.
 */
function sequence(hooks: KubeletHooks, steps: [number, () => void][]): void {
  const [first, ...rest] = steps;
  if (!first) return;
  hooks.timer(first[0], () => {
    first[1]();
    sequence(hooks, rest);
  });
}

/** The pod as the kubelet first reports it: scheduled, containers being created. */
export function startPod(pod: Obj, behaviour: PodBehaviour, hooks: KubeletHooks): void {
  const inits = names(pod, 'initContainers');
  const mains = names(pod, 'containers');
  if (behaviour.kind === 'unschedulable') {
    hooks.writeStatus(pod, {
      phase: 'Pending',
      conditions: [
        condition(
          'PodScheduled',
          false,
          'Unschedulable',
          '0/1 nodes are available: 1 Insufficient nvidia.com/gpu.',
        ),
      ],
    });
    hooks.event(
      pod,
      'Warning',
      'FailedScheduling',
      '0/1 nodes are available: 1 Insufficient nvidia.com/gpu.',
    );
    return;
  }
  const waiting = (reason: string) => ({ waiting: { reason } });
  hooks.writeStatus(
    pod,
    status(
      pod,
      'Pending',
      inits.map((n) => containerStatus(pod, n, waiting('PodInitializing'))),
      mains.map((n) =>
        containerStatus(
          pod,
          n,
          waiting(inits.length > 0 ? 'PodInitializing' : 'ContainerCreating'),
        ),
      ),
      false,
    ),
  );
  hooks.event(
    pod,
    'Normal',
    'Scheduled',
    `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to fake-node-1`,
  );
  const t = behaviour.afterMs ?? 30;
  const running = (ready: boolean) =>
    status(
      pod,
      'Running',
      completed(pod),
      mains.map((n) =>
        containerStatus(pod, n, { running: { startedAt: now() } }, { ready, started: true }),
      ),
      ready,
    );
  switch (behaviour.kind) {
    case 'ready':
      sequence(hooks, [
        [
          t / 2,
          () => {
            for (const n of mains) hooks.setLog(pod, n, [`[app] starting ${n}`], false);
            hooks.writeStatus(pod, running(false));
          },
        ],
        [t / 2, () => hooks.writeStatus(pod, running(true))],
      ]);
      return;
    case 'crashLoop': {
      const crashing = behaviour.container ?? mains[0];
      const exitCode = behaviour.exitCode ?? 1;
      const terminated = {
        exitCode,
        reason: 'Error',
        startedAt: now(),
        finishedAt: now(),
        containerID: `containerd://${pod.metadata.uid}`,
      };
      const started = () => hooks.writeStatus(pod, running(false));
      const crashed = () => {
        hooks.setLog(pod, crashing, behaviour.log, false);
        const s = running(false);
        s.containerStatuses = s.containerStatuses.map((c: any) =>
          c.name === crashing ? { ...c, started: false, state: { terminated } } : c,
        );
        hooks.writeStatus(pod, s);
        hooks.event(
          pod,
          'Normal',
          'Pulled',
          `Container image "${images(pod)[crashing]}" already present on machine`,
        );
      };
      const backOff = () => {
        // The kubelet restarted it once, it crashed again: back-off.
        hooks.setLog(pod, crashing, behaviour.log, true);
        hooks.setLog(pod, crashing, [], false);
        const s = running(false);
        const message = `back-off 10s restarting failed container=${crashing} pod=${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`;
        s.containerStatuses = s.containerStatuses.map((c: any) =>
          c.name === crashing
            ? {
                ...c,
                started: false,
                restartCount: 1,
                state: { waiting: { reason: 'CrashLoopBackOff', message } },
                lastState: { terminated },
              }
            : c,
        );
        hooks.writeStatus(pod, s);
        hooks.mark('CrashLoopBackOff', pod);
        hooks.event(
          pod,
          'Warning',
          'BackOff',
          `Back-off restarting failed container ${crashing} in pod ${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`,
        );
      };
      sequence(hooks, [
        [t / 2, started],
        [t / 2, crashed],
        [5, backOff],
      ]);
      return;
    }
    case 'imagePullError': {
      const target = inits[0] ?? mains[0];
      const image = images(pod)[target];
      const pullStatus = (reason: string, message: string) => {
        const waitingState = { waiting: { reason, message } };
        const init = inits.map((n) =>
          containerStatus(
            pod,
            n,
            n === target ? waitingState : { waiting: { reason: 'PodInitializing' } },
          ),
        );
        const main = mains.map((n) =>
          containerStatus(
            pod,
            n,
            n === target ? waitingState : { waiting: { reason: 'PodInitializing' } },
          ),
        );
        return status(pod, 'Pending', init, main, false);
      };
      const notFound = `failed to pull and unpack image "docker.io/library/${image}": failed to resolve reference "docker.io/library/${image}": docker.io/library/${image}: not found`;
      const errImagePull = () => {
        hooks.writeStatus(
          pod,
          pullStatus('ErrImagePull', `rpc error: code = NotFound desc = ${notFound}`),
        );
        hooks.event(
          pod,
          'Warning',
          'Failed',
          `Failed to pull image "${image}": rpc error: code = NotFound desc = ${notFound}`,
        );
        hooks.event(pod, 'Warning', 'Failed', 'Error: ErrImagePull');
      };
      const backOff = () => {
        hooks.writeStatus(pod, pullStatus('ImagePullBackOff', `Back-off pulling image "${image}"`));
        hooks.mark('ImagePullBackOff', pod);
        hooks.event(pod, 'Normal', 'BackOff', `Back-off pulling image "${image}"`);
        hooks.event(pod, 'Warning', 'Failed', 'Error: ImagePullBackOff');
      };
      sequence(hooks, [
        [t, errImagePull],
        [5, backOff],
      ]);
      return;
    }
  }
}

export function isReady(pod: Obj): boolean {
  return (
    (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True') &&
    !pod.metadata.deletionTimestamp
  );
}

/** The scheduler's node filter: nodeSelector and required node affinity (In, Exists). */
export function nodeMatches(template: any, node: Obj): boolean {
  const labels = node.metadata.labels ?? {};
  const selector = template.spec?.nodeSelector ?? {};
  if (!Object.entries(selector).every(([k, v]) => labels[k] === v)) return false;
  const terms =
    template.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
      ?.nodeSelectorTerms;
  if (!terms) return true;
  return terms.some((t: any) =>
    (t.matchExpressions ?? []).every((e: any) =>
      e.operator === 'In'
        ? e.values.includes(labels[e.key])
        : e.operator === 'Exists'
          ? e.key in labels
          : true,
    ),
  );
}
