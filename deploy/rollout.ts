/**
 * Waiting for the rollout, as `kubectl rollout status` judges it, but over
 * watches of the workloads, their ReplicaSets and their pods: every change
 * is seen as it happens, progress is printed when it changes, and the wait
 * stops as soon as a pod of the new revision cannot succeed (CrashLoopBackOff,
 * an image that cannot be pulled, ...) or a Deployment exceeds its progress
 * deadline, instead of running into the timeout.
 */
import type { Kube } from './kube';
import { describeRef } from './manifests';
import type { Reporter } from './output';
import { podFailure, podSummary, revisionPods, type Pod, type Workload } from './pods';

export interface WorkloadRef {
  kind: 'Deployment' | 'DaemonSet' | 'Job';
  namespace: string;
  name: string;
}

export type RolloutOutcome =
  | { ok: true }
  | {
      ok: false;
      workload?: WorkloadRef;
      reason: string;
      /** Pods of the workload's new revision, as last seen. */
      pods: Pod[];
      /** The pod whose failure stopped the wait. */
      culprit?: Pod;
      interrupted?: boolean;
    };

interface Judgement {
  done: boolean;
  message: string;
  failed?: string;
}

function condition(workload: Workload, type: string) {
  return (workload.status?.conditions ?? []).find((c: { type: string }) => c.type === type) as
    { status: string; reason?: string; message?: string } | undefined;
}

/** kubectl's DeploymentStatusViewer. */
function judgeDeployment(d: Workload): Judgement {
  if ((d.metadata.generation ?? 0) > (d.status?.observedGeneration ?? 0)) {
    return { done: false, message: 'waiting for the controller to observe the new spec' };
  }
  const progressing = condition(d, 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return {
      done: false,
      message: 'stuck',
      failed: `ProgressDeadlineExceeded: ${progressing.message ?? ''}`.trim(),
    };
  }
  const replicas: number = d.spec?.replicas ?? 1;
  const updated: number = d.status?.updatedReplicas ?? 0;
  const total: number = d.status?.replicas ?? 0;
  const available: number = d.status?.availableReplicas ?? 0;
  if (updated < replicas)
    return { done: false, message: `${updated} of ${replicas} new replicas updated` };
  if (total > updated)
    return { done: false, message: `${total - updated} old replicas pending termination` };
  if (available < updated)
    return { done: false, message: `${available} of ${updated} updated replicas available` };
  return { done: true, message: `rolled out, ${available} of ${replicas} available` };
}

/** kubectl's DaemonSetStatusViewer. */
function judgeDaemonSet(ds: Workload): Judgement {
  if (ds.spec?.updateStrategy?.type === 'OnDelete')
    return { done: true, message: 'OnDelete: not rolled' };
  if ((ds.metadata.generation ?? 0) > (ds.status?.observedGeneration ?? 0)) {
    return { done: false, message: 'waiting for the controller to observe the new spec' };
  }
  const desired: number = ds.status?.desiredNumberScheduled ?? 0;
  const updated: number = ds.status?.updatedNumberScheduled ?? 0;
  const available: number = ds.status?.numberAvailable ?? 0;
  if (updated < desired)
    return { done: false, message: `${updated} of ${desired} updated pods scheduled` };
  if (available < desired)
    return { done: false, message: `${available} of ${desired} updated pods available` };
  if (desired === 0) return { done: true, message: 'no node matches its selector: nothing to run' };
  return { done: true, message: `rolled out, ${available} of ${desired} available` };
}

function judgeJob(job: Workload): Judgement {
  const failed = condition(job, 'Failed');
  if (failed?.status === 'True') {
    return {
      done: false,
      message: 'failed',
      failed: `${failed.reason ?? 'Failed'}: ${failed.message ?? ''}`.trim(),
    };
  }
  if (condition(job, 'Complete')?.status === 'True') return { done: true, message: 'complete' };
  return {
    done: false,
    message: `${job.status?.active ?? 0} active, ${job.status?.succeeded ?? 0} succeeded`,
  };
}

/** One watched collection: `/apis/apps/v1/namespaces/x/deployments`. */
class Collection<T extends { metadata: { name: string; resourceVersion?: string } }> {
  readonly items = new Map<string, T>();
  resourceVersion?: string;
  constructor(readonly path: string) {}
}

export interface WaitOptions {
  timeoutMs: number;
  /** Pause before re-opening a watch that the server closed. */
  retryMs: number;
  signal?: AbortSignal;
}

export async function waitForRollout(
  kube: Kube,
  workloads: readonly WorkloadRef[],
  report: Reporter,
  options: WaitOptions,
): Promise<RolloutOutcome> {
  if (workloads.length === 0) return { ok: true };
  const kinds = { Deployment: 'deployments', DaemonSet: 'daemonsets', Job: 'jobs' } as const;
  const groups = { Deployment: 'apps/v1', DaemonSet: 'apps/v1', Job: 'batch/v1' } as const;
  const collections = new Map<string, Collection<Workload | Pod>>();
  const collection = (path: string) => {
    if (!collections.has(path)) collections.set(path, new Collection(path));
    return collections.get(path) as Collection<Workload | Pod>;
  };
  const workloadsOf = (w: WorkloadRef) =>
    collection(`/apis/${groups[w.kind]}/namespaces/${w.namespace}/${kinds[w.kind]}`);
  const replicaSets = (ns: string) => collection(`/apis/apps/v1/namespaces/${ns}/replicasets`);
  const pods = (ns: string) => collection(`/api/v1/namespaces/${ns}/pods`);
  for (const w of workloads) {
    workloadsOf(w);
    if (w.kind === 'Deployment') replicaSets(w.namespace);
    pods(w.namespace);
  }

  /** Pods of the workload's newest revision (none until the controller made it). */
  const newPods = (w: WorkloadRef, object: Workload): Pod[] =>
    revisionPods(
      w.kind,
      object,
      w.kind === 'Deployment' ? ([...replicaSets(w.namespace).items.values()] as Workload[]) : [],
      [...pods(w.namespace).items.values()] as Pod[],
    );

  return new Promise<RolloutOutcome>((resolve) => {
    const lastMessage = new Map<string, string>();
    const done = new Set<WorkloadRef>();
    const keyOf = (w: WorkloadRef) => describeRef({ apiVersion: '', ...w });
    const controllers = new Set<AbortController>();
    const timers = new Set<NodeJS.Timeout>();
    let finished = false;
    const finish = (outcome: RolloutOutcome) => {
      if (finished) return;
      finished = true;
      for (const c of controllers) c.abort();
      for (const t of timers) clearTimeout(t);
      options.signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const say = (key: string, message: string) => {
      if (lastMessage.get(key) === message) return;
      lastMessage.set(key, message);
      report.step(`wait: ${key}: ${message}`);
    };
    const podsOfFailure = (w: WorkloadRef) => {
      const object = workloadsOf(w).items.get(w.name) as Workload | undefined;
      return object ? newPods(w, object) : [];
    };

    const evaluate = () => {
      if (finished) return;
      let allDone = true;
      for (const w of workloads) {
        const key = keyOf(w);
        const object = workloadsOf(w).items.get(w.name) as Workload | undefined;
        if (!object) {
          // Not listed by its watch yet: it was just applied.
          allDone = false;
          continue;
        }
        const judged =
          w.kind === 'Deployment'
            ? judgeDeployment(object)
            : w.kind === 'DaemonSet'
              ? judgeDaemonSet(object)
              : judgeJob(object);
        const current = newPods(w, object);
        for (const pod of current) say(`pod ${w.namespace}/${pod.metadata.name}`, podSummary(pod));
        const culprit = current.find((p) => podFailure(p) !== undefined);
        if (culprit) {
          const reason = `pod ${culprit.metadata.name}: ${podFailure(culprit)}`;
          return finish({ ok: false, workload: w, reason, pods: current, culprit });
        }
        if (judged.failed)
          return finish({ ok: false, workload: w, reason: judged.failed, pods: current });
        say(key, judged.message);
        if (judged.done) done.add(w);
        else {
          done.delete(w);
          allDone = false;
        }
      }
      if (allDone) finish({ ok: true });
    };

    const open = (c: Collection<Workload | Pod>) => {
      if (finished) return;
      const params: Record<string, string | boolean> = { allowWatchBookmarks: true };
      if (c.resourceVersion) params.resourceVersion = c.resourceVersion;
      else c.items.clear(); // without a resourceVersion the server first lists what exists
      const reopen = (fresh: boolean) => {
        if (finished) return;
        if (fresh) c.resourceVersion = undefined;
        const timer = setTimeout(() => {
          timers.delete(timer);
          open(c);
        }, options.retryMs);
        timers.add(timer);
      };
      kube.watch
        .watch(
          c.path,
          params,
          (type: string, object: Workload & { code?: number }) => {
            if (type === 'ERROR') {
              // 410 Gone: the resourceVersion is too old; start from the current state.
              c.resourceVersion = undefined;
              return;
            }
            c.resourceVersion = object.metadata?.resourceVersion ?? c.resourceVersion;
            if (type === 'BOOKMARK') return;
            if (type === 'DELETED') c.items.delete(object.metadata.name);
            else c.items.set(object.metadata.name, object);
            evaluate();
          },
          (error: { statusCode?: number } | null) => {
            if (finished) return;
            const code = error?.statusCode;
            if (code === 401 || code === 403 || code === 404) {
              finish({ ok: false, reason: `cannot watch ${c.path}: HTTP ${code}`, pods: [] });
              return;
            }
            reopen(code === 410);
          },
        )
        .then((controller) => {
          if (finished) controller.abort();
          else controllers.add(controller);
        })
        .catch(() => reopen(false));
    };

    const onAbort = () => finish({ ok: false, reason: 'interrupted', pods: [], interrupted: true });
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort);
    const timeout = setTimeout(() => {
      const w = workloads.find((x) => !done.has(x)) ?? workloads[0];
      const key = keyOf(w);
      finish({
        ok: false,
        workload: w,
        reason: `not rolled out within ${Math.round(options.timeoutMs / 1000)} s: ${key}: ${lastMessage.get(key) ?? 'no status'}`,
        pods: podsOfFailure(w),
      });
    }, options.timeoutMs);
    timers.add(timeout);
    for (const c of collections.values()) open(c);
  });
}
