/**
 * The controllers a real control plane runs, reduced to what a rollout
 * shows through the API: the Deployment controller (one ReplicaSet per pod
 * template, revision annotations, new pods up, old pods down once the new
 * ones are ready, status and conditions), the DaemonSet controller (one pod
 * per matching node), the Job controller, the garbage collector (owned
 * objects go with their owner), and the kubelet (./kubelet) for each pod.
 * Everything happens asynchronously, after `reactMs`, as with real
 * controllers; nothing here knows what the command under test expects.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- objects are JSON */
import { createHash, randomBytes } from 'crypto';
import { isReady, nodeMatches, startPod, type KubeletHooks, type PodBehaviour } from './kubelet';
import { CORE_RESOURCES, type Resource } from './resources';
import { canonical, clone, now, type Obj, type Store, type StoreEvent } from './store';

const res = (kind: string) => CORE_RESOURCES.find((r) => r.kind === kind) as Resource;
const DEPLOYMENTS = res('Deployment');
const REPLICASETS = res('ReplicaSet');
const DAEMONSETS = res('DaemonSet');
const JOBS = res('Job');
const PODS = res('Pod');
const EVENTS = res('Event');
const REVISION = 'deployment.kubernetes.io/revision';

export interface TimelineEntry {
  /** Date.now() when the store first held this state. */
  at: number;
  what: string;
  pod: string;
}

export interface ControllerOptions {
  /** How the pods of a workload (its current template) behave. */
  behaviour: (workload: Obj) => PodBehaviour;
  /** Controller reaction delay. */
  reactMs: number;
  /** Node objects; DaemonSets run a pod on each matching one. */
  nodes: Obj[];
  /** A Deployment's progressDeadlineSeconds, in milliseconds of this fake. */
  progressDeadlineMs: (seconds: number) => number;
}

function ownerRef(owner: Obj) {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid as string,
    controller: true,
    blockOwnerDeletion: true,
  };
}

const owns = (owner: Obj, o: Obj) =>
  (o.metadata.ownerReferences ?? []).some((r) => r.uid === owner.metadata.uid);

/** k8s names pods `<owner>-<5 random chars>`. */
const suffix = () =>
  randomBytes(4)
    .toString('hex')
    .replace(/[0-9]/g, (d) => 'bcdfghjklm'[Number(d)])
    .slice(0, 5);

function templateHash(template: any): string {
  const hex = createHash('sha256').update(canonical(template)).digest('hex');
  return hex.replace(/[0-9]/g, (d) => 'bcdfghjkmn'[Number(d)]).slice(0, 10);
}

export class Controllers {
  readonly timeline: TimelineEntry[] = [];
  private readonly logs = new Map<string, { current: string[]; previous?: string[] }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Events by involved object, reason and message: a repeat counts up. */
  private readonly eventNames = new Map<string, string>();
  /** Per Deployment uid: its last progress, for the progress deadline. */
  private readonly progress = new Map<string, { key: string; at: number }>();
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly options: ControllerOptions,
  ) {
    store.subscribe((event) => this.after(() => this.react(event)));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
  }

  private after(fn: () => void, ms = this.options.reactMs): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  /** The log the kubelet would return for `GET .../pods/<name>/log`. */
  log(namespace: string, pod: string, container: string, previous: boolean): string[] | undefined {
    const entry = this.logs.get(`${namespace}/${pod}/${container}`);
    return previous ? entry?.previous : (entry?.current ?? []);
  }

  private react(event: StoreEvent): void {
    const o = event.object;
    const ns = o.metadata.namespace;
    if (event.type === 'DELETED') this.collectGarbage(o);
    switch (event.resource.kind) {
      case 'Deployment':
        if (event.type !== 'DELETED') this.syncDeployment(ns as string, o.metadata.name);
        break;
      case 'DaemonSet':
        if (event.type !== 'DELETED') this.syncDaemonSet(ns as string, o.metadata.name);
        break;
      case 'Job':
        if (event.type === 'ADDED') this.startJob(o);
        break;
      case 'ReplicaSet':
      case 'Pod':
        for (const ref of o.metadata.ownerReferences ?? []) {
          if (ref.kind === 'ReplicaSet') {
            const rs = this.store.get(REPLICASETS, ns, ref.name);
            for (const d of rs?.metadata.ownerReferences ?? [])
              this.syncDeployment(ns as string, d.name);
          }
          if (ref.kind === 'Deployment') this.syncDeployment(ns as string, ref.name);
          if (ref.kind === 'DaemonSet') this.syncDaemonSet(ns as string, ref.name);
        }
        break;
      default:
        break;
    }
  }

  private collectGarbage(owner: Obj): void {
    for (const r of [REPLICASETS, PODS]) {
      for (const o of this.store.list(r, owner.metadata.namespace)) {
        if (owns(owner, o)) this.store.delete(r, o.metadata.namespace, o.metadata.name);
      }
    }
  }

  private hooks(): KubeletHooks {
    return {
      writeStatus: (pod, status) => {
        const live = this.store.get(PODS, pod.metadata.namespace, pod.metadata.name);
        if (!live || live.metadata.uid !== pod.metadata.uid) return;
        this.store.put(PODS, { ...live, status });
      },
      event: (pod, type, reason, message) => this.event(pod, type, reason, message),
      setLog: (pod, container, lines, previous) => {
        const key = `${pod.metadata.namespace}/${pod.metadata.name}/${container}`;
        const entry = this.logs.get(key) ?? { current: [] };
        if (previous) entry.previous = lines;
        else entry.current = lines;
        this.logs.set(key, entry);
      },
      mark: (what, pod) => this.timeline.push({ at: Date.now(), what, pod: pod.metadata.name }),
      timer: (ms, fn) => this.after(fn, ms),
    };
  }

  /** Records an event as the kubelet or a controller does (repeats count up). */
  event(involved: Obj, type: string, reason: string, message: string): void {
    const ns = involved.metadata.namespace ?? 'default';
    const key = `${involved.metadata.uid}/${reason}/${message}`;
    const name = this.eventNames.get(key);
    const same = name ? this.store.get(EVENTS, ns, name) : undefined;
    const t = now();
    if (same) {
      this.store.put(EVENTS, { ...same, count: same.count + 1, lastTimestamp: t });
      return;
    }
    const eventName = `${involved.metadata.name}.${randomBytes(8).toString('hex')}`;
    this.eventNames.set(key, eventName);
    this.store.put(EVENTS, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: eventName, namespace: ns },
      involvedObject: {
        apiVersion: involved.apiVersion,
        kind: involved.kind,
        namespace: ns,
        name: involved.metadata.name,
        uid: involved.metadata.uid,
      },
      reason,
      message,
      type,
      count: 1,
      firstTimestamp: t,
      lastTimestamp: t,
      source: {
        component: involved.kind === 'Pod' ? 'kubelet' : 'controller-manager',
        host: 'fake-node-1',
      },
      reportingComponent: involved.kind === 'Pod' ? 'kubelet' : 'deployment-controller',
      reportingInstance: 'fake-node-1',
    });
  }

  private createPod(
    owner: Obj,
    template: any,
    behaviourOf: Obj,
    labels: Record<string, string>,
  ): void {
    const behaviour = this.options.behaviour(behaviourOf);
    const pod = this.store.put(PODS, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${owner.metadata.name}-${suffix()}`,
        namespace: owner.metadata.namespace,
        labels: { ...(template.metadata?.labels ?? {}), ...labels },
        annotations: template.metadata?.annotations,
        ownerReferences: [ownerRef(owner)],
      },
      // The scheduler's choice; an unschedulable pod gets none.
      spec: {
        ...clone(template.spec),
        ...(behaviour.kind === 'unschedulable' ? {} : { nodeName: 'fake-node-1' }),
      },
      status: { phase: 'Pending' },
    });
    startPod(pod, behaviour, this.hooks());
  }

  private syncDeployment(ns: string, name: string): void {
    const d = this.store.get(DEPLOYMENTS, ns, name);
    if (!d) return;
    const sets = this.store.list(REPLICASETS, ns).filter((rs) => owns(d, rs));
    const hash = templateHash(d.spec.template);
    const maxRevision = Math.max(
      0,
      ...sets.map((rs) => Number(rs.metadata.annotations?.[REVISION] ?? 0)),
    );
    let current = sets.find((rs) => rs.metadata.labels?.['pod-template-hash'] === hash);
    const replicas = d.spec.replicas ?? 1;
    if (!current) {
      const template = clone(d.spec.template);
      template.metadata = {
        ...template.metadata,
        labels: { ...template.metadata?.labels, 'pod-template-hash': hash },
      };
      current = this.store.put(REPLICASETS, {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: `${name}-${hash}`,
          namespace: ns,
          labels: template.metadata.labels,
          annotations: { [REVISION]: String(maxRevision + 1) },
          ownerReferences: [ownerRef(d)],
        },
        spec: {
          replicas,
          selector: { matchLabels: { ...d.spec.selector.matchLabels, 'pod-template-hash': hash } },
          template,
        },
      });
      this.event(
        d,
        'Normal',
        'ScalingReplicaSet',
        `Scaled up replica set ${current.metadata.name} to ${replicas}`,
      );
    } else if (Number(current.metadata.annotations?.[REVISION]) !== maxRevision) {
      // A template seen before (a rollback): its ReplicaSet becomes the newest revision.
      current.metadata.annotations = {
        ...current.metadata.annotations,
        [REVISION]: String(maxRevision + 1),
      };
      current = this.store.put(REPLICASETS, current);
    }
    const pods = this.store.list(PODS, ns);
    const podsOf = (rs: Obj) => pods.filter((p) => owns(rs, p));
    const mine = podsOf(current);
    for (let i = mine.length; i < replicas; i++)
      this.createPod(current, current.spec.template, d, { 'pod-template-hash': hash });
    for (const extra of mine.slice(replicas)) this.store.delete(PODS, ns, extra.metadata.name);
    const newReady = mine.filter(isReady).length;
    const old = sets.filter((rs) => rs.metadata.uid !== current?.metadata.uid);
    if (newReady >= replicas) {
      // maxUnavailable 0: old pods go only once the new ones are all ready.
      for (const rs of old)
        for (const p of podsOf(rs)) this.store.delete(PODS, ns, p.metadata.name);
    }
    const live = this.store
      .list(PODS, ns)
      .filter((p) => [current, ...old].some((rs) => owns(rs as Obj, p)));
    const updated = live.filter((p) => owns(current as Obj, p)).length;
    const ready = live.filter(isReady).length;
    const complete = updated === replicas && ready === replicas && live.length === replicas;
    // No progress (a new ReplicaSet, a pod more ready) within the deadline: stalled.
    const progressKey = `${current.metadata.name}/${updated}/${ready}`;
    const progress = this.progress.get(d.metadata.uid as string);
    if (progress?.key !== progressKey) {
      this.progress.set(d.metadata.uid as string, { key: progressKey, at: Date.now() });
      const deadline = this.options.progressDeadlineMs(d.spec.progressDeadlineSeconds ?? 600);
      if (!complete) this.after(() => this.syncDeployment(ns, name), deadline + 1);
    }
    const since = Date.now() - (this.progress.get(d.metadata.uid as string)?.at ?? Date.now());
    const stalled =
      !complete && since > this.options.progressDeadlineMs(d.spec.progressDeadlineSeconds ?? 600);
    d.metadata.annotations = {
      ...d.metadata.annotations,
      [REVISION]: current.metadata.annotations?.[REVISION] as string,
    };
    const previous = d.status?.conditions ?? [];
    const cond = (type: string, ok: boolean, reason: string, message: string) => {
      const before = previous.find((c: any) => c.type === type);
      const changed =
        !before || before.status !== (ok ? 'True' : 'False') || before.reason !== reason;
      return {
        type,
        status: ok ? 'True' : 'False',
        lastUpdateTime: changed ? now() : before.lastUpdateTime,
        lastTransitionTime: changed ? now() : before.lastTransitionTime,
        reason,
        message,
      };
    };
    d.status = {
      observedGeneration: d.metadata.generation,
      replicas: live.length,
      updatedReplicas: updated,
      readyReplicas: ready,
      availableReplicas: ready,
      ...(live.length - ready > 0 ? { unavailableReplicas: live.length - ready } : {}),
      conditions: [
        cond(
          'Available',
          ready >= replicas,
          ready >= replicas ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
          ready >= replicas
            ? 'Deployment has minimum availability.'
            : 'Deployment does not have minimum availability.',
        ),
        stalled
          ? cond(
              'Progressing',
              false,
              'ProgressDeadlineExceeded',
              `ReplicaSet "${current.metadata.name}" has timed out progressing.`,
            )
          : cond(
              'Progressing',
              true,
              complete ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated',
              `ReplicaSet "${current.metadata.name}" ${complete ? 'has successfully progressed' : 'is progressing'}.`,
            ),
      ],
    };
    this.store.put(DEPLOYMENTS, d);
  }

  private syncDaemonSet(ns: string, name: string): void {
    const ds = this.store.get(DAEMONSETS, ns, name);
    if (!ds) return;
    const nodes = this.options.nodes.filter((n) => nodeMatches(ds.spec.template, n));
    const generation = String(ds.metadata.generation);
    const pods = this.store.list(PODS, ns).filter((p) => owns(ds, p));
    for (const p of pods)
      if (p.metadata.labels?.['pod-template-generation'] !== generation)
        this.store.delete(PODS, ns, p.metadata.name);
    const current = pods.filter(
      (p) => p.metadata.labels?.['pod-template-generation'] === generation,
    );
    for (let i = current.length; i < nodes.length; i++)
      this.createPod(ds, ds.spec.template, ds, { 'pod-template-generation': generation });
    const ready = current.filter(isReady).length;
    ds.status = {
      observedGeneration: ds.metadata.generation,
      desiredNumberScheduled: nodes.length,
      currentNumberScheduled: current.length,
      updatedNumberScheduled: current.length,
      numberReady: ready,
      numberAvailable: ready,
      numberMisscheduled: 0,
    };
    this.store.put(DAEMONSETS, ds);
  }

  private startJob(job: Obj): void {
    const live = this.store.get(JOBS, job.metadata.namespace, job.metadata.name);
    if (!live) return;
    const behaviour = this.options.behaviour(live);
    live.status = { startTime: now(), active: 1 };
    this.store.put(JOBS, live);
    if (behaviour.kind !== 'ready') return;
    this.after(() => {
      const j = this.store.get(JOBS, job.metadata.namespace, job.metadata.name);
      if (!j || j.metadata.uid !== job.metadata.uid) return;
      j.status = {
        startTime: j.status.startTime,
        completionTime: now(),
        succeeded: 1,
        conditions: [
          { type: 'Complete', status: 'True', lastProbeTime: now(), lastTransitionTime: now() },
        ],
      };
      this.store.put(JOBS, j);
    }, behaviour.afterMs ?? 30);
  }
}
