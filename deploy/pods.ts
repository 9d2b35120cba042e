/**
 * Reading pods as the API returns them (plain JSON from watches and lists):
 * a one-word status as `kubectl get pods` shows it, the failures that make
 * waiting pointless, and which pods belong to a workload's new revision.
 */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { uid: string; kind?: string; name?: string; controller?: boolean }[];
  deletionTimestamp?: string;
  creationTimestamp?: string;
}

export interface ContainerState {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: {
    reason?: string;
    exitCode?: number;
    signal?: number;
    message?: string;
    finishedAt?: string;
  };
}

export interface ContainerStatus {
  name: string;
  ready?: boolean;
  restartCount?: number;
  state?: ContainerState;
  lastState?: ContainerState;
}

export interface Pod {
  metadata: ObjectMeta;
  spec?: {
    nodeName?: string;
    containers?: { name: string }[];
    initContainers?: { name: string }[];
  };
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
  };
}

/** A Deployment, DaemonSet, ReplicaSet or Job as plain JSON. */
export interface Workload {
  kind?: string;
  metadata: ObjectMeta;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- read by path, as kubectl does
  spec?: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  status?: any;
}

/** Waiting reasons after which a rollout will not succeed by itself. */
export const FAIL_FAST_REASONS = new Set([
  'CrashLoopBackOff',
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]);

export function ownedBy(
  object: { metadata: ObjectMeta },
  owner: { metadata: ObjectMeta },
): boolean {
  return (object.metadata.ownerReferences ?? []).some((r) => r.uid === owner.metadata.uid);
}

function readyCount(pod: Pod): string {
  const statuses = pod.status?.containerStatuses ?? [];
  const total = pod.spec?.containers?.length ?? statuses.length;
  return `${statuses.filter((s) => s.ready).length}/${total}`;
}

export function restarts(pod: Pod): number {
  return (pod.status?.containerStatuses ?? []).reduce((n, s) => n + (s.restartCount ?? 0), 0);
}

/** The STATUS column of `kubectl get pods`. */
export function podStatusWord(pod: Pod): string {
  if (pod.metadata.deletionTimestamp) return 'Terminating';
  const status = pod.status ?? {};
  if (status.reason) return status.reason;
  const inits = status.initContainerStatuses ?? [];
  const initTotal = pod.spec?.initContainers?.length ?? inits.length;
  let initDone = 0;
  for (const s of inits) {
    const term = s.state?.terminated;
    if (term && term.exitCode === 0) {
      initDone++;
      continue;
    }
    if (term) return `Init:${term.reason ?? 'Error'}`;
    const reason = s.state?.waiting?.reason;
    if (reason && reason !== 'PodInitializing') return `Init:${reason}`;
    break;
  }
  // As kubectl: only init containers that report a status count as initializing.
  if (inits.length > 0 && initDone < initTotal) return `Init:${initDone}/${initTotal}`;
  for (const s of status.containerStatuses ?? []) {
    const reason = s.state?.waiting?.reason ?? s.state?.terminated?.reason;
    if (reason) return reason;
    if (s.state?.terminated)
      return s.state.terminated.signal
        ? `Signal:${s.state.terminated.signal}`
        : `ExitCode:${s.state.terminated.exitCode}`;
  }
  return status.phase ?? 'Pending';
}

/** `Running, 1/1 ready, 2 restarts`. */
export function podSummary(pod: Pod): string {
  const n = restarts(pod);
  return `${podStatusWord(pod)}, ${readyCount(pod)} ready${n > 0 ? `, ${n} restart${n === 1 ? '' : 's'}` : ''}`;
}

/**
 * Why this pod will not become ready by itself, or undefined while it still
 * may: a fail-fast waiting reason, or an init container that failed twice.
 */
export function podFailure(pod: Pod): string | undefined {
  const status = pod.status ?? {};
  const all: [string, ContainerStatus][] = [
    ...(status.initContainerStatuses ?? []).map((s): [string, ContainerStatus] => [
      'init container',
      s,
    ]),
    ...(status.containerStatuses ?? []).map((s): [string, ContainerStatus] => ['container', s]),
  ];
  for (const [what, s] of all) {
    const waiting = s.state?.waiting;
    if (waiting?.reason && FAIL_FAST_REASONS.has(waiting.reason)) {
      // The message (back-off delay, pull error) is in the explanation.
      return `${what} ${s.name}: ${waiting.reason}`;
    }
  }
  for (const s of status.initContainerStatuses ?? []) {
    const last = s.lastState?.terminated;
    const now = s.state?.terminated;
    if ((s.restartCount ?? 0) >= 1 && last && last.exitCode !== 0 && (!now || now.exitCode !== 0)) {
      return `init container ${s.name} failed twice (exit code ${last.exitCode})`;
    }
  }
  if (status.phase === 'Failed') return `pod failed${status.reason ? `: ${status.reason}` : ''}`;
  return undefined;
}

const REVISION = 'deployment.kubernetes.io/revision';

/**
 * The pods of a workload's newest revision, as kubectl rollout status sees
 * it: a Deployment's through the ReplicaSet of its current revision (none
 * until the controller observed the new spec); a DaemonSet's by their
 * pod-template-generation label; a Job's are all its pods.
 */
export function revisionPods(
  kind: string,
  workload: Workload,
  replicaSets: readonly Workload[],
  pods: readonly Pod[],
): Pod[] {
  if (kind === 'Deployment') {
    if ((workload.metadata.generation ?? 0) > (workload.status?.observedGeneration ?? 0)) return [];
    const revision = workload.metadata.annotations?.[REVISION];
    const rs = replicaSets.find(
      (r) => ownedBy(r, workload) && r.metadata.annotations?.[REVISION] === revision,
    );
    return rs ? pods.filter((p) => ownedBy(p, rs)) : [];
  }
  const owned = pods.filter((p) => ownedBy(p, workload));
  if (kind !== 'DaemonSet') return owned;
  const generation = String(workload.metadata.generation ?? '');
  const current = owned.filter(
    (p) => p.metadata.labels?.['pod-template-generation'] === generation,
  );
  // Without the (deprecated) label, every pod of the DaemonSet.
  return current.length > 0 || owned.every((p) => p.metadata.labels?.['pod-template-generation'])
    ? current
    : owned;
}
