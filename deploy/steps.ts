/**
 * The steps after the dry run: apply, prune, wait for the rollout, verify
 * the health endpoint, and explain a failure. Shared by a deploy and by the
 * rollback that follows a failed one.
 */
import { applyAll, formatRejection, type Plan } from './apply';
import { explain } from './explain';
import { FIELD_MANAGER, type Kube } from './kube';
import { describeRef, findBackend, refOf, type K8sObject } from './manifests';
import { plural } from './output';
import { revisionPods, type Pod, type Workload } from './pods';
import { deleteAll, pruneSet } from './prune';
import type { Release } from './release';
import { waitForRollout, type RolloutOutcome, type WorkloadRef } from './rollout';
import { PAST, type Session } from './session';
import { verify } from './verify';

function workloadsOf(objects: readonly K8sObject[], waitJobs: boolean): WorkloadRef[] {
  const kinds = new Set(['Deployment', 'DaemonSet', ...(waitJobs ? ['Job'] : [])]);
  return objects
    .filter((o) => kinds.has(o.kind))
    .map((o) => ({
      kind: o.kind as WorkloadRef['kind'],
      namespace: o.metadata.namespace ?? 'default',
      name: o.metadata.name,
    }));
}

const plain = <T>(o: unknown) => JSON.parse(JSON.stringify(o)) as T;

/**
 * The pods of a workload's newest revision, listed now: the explanation
 * shows the API's current state, not what a watch had delivered so far.
 */
async function currentPods(kube: Kube, w: WorkloadRef): Promise<Pod[]> {
  const apiVersion = w.kind === 'Job' ? 'batch/v1' : 'apps/v1';
  const workload = plain<Workload>(
    await kube.objects.read({
      apiVersion,
      kind: w.kind,
      metadata: { name: w.name, namespace: w.namespace },
    }),
  );
  const selector = (workload.spec?.selector?.matchLabels ?? {}) as Record<string, string>;
  const labelSelector = Object.entries(selector)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const [sets, pods] = await Promise.all([
    w.kind === 'Deployment'
      ? kube.objects.list(
          'apps/v1',
          'ReplicaSet',
          w.namespace,
          undefined,
          undefined,
          undefined,
          undefined,
          labelSelector,
        )
      : Promise.resolve({ items: [] }),
    kube.core.listNamespacedPod({ namespace: w.namespace, labelSelector }),
  ]);
  return revisionPods(
    w.kind,
    workload,
    plain<{ items: Workload[] }>(sets).items,
    plain<{ items: Pod[] }>(pods).items,
  );
}

/** Explains a failed rollout from a fresh listing (the watch's view when listing fails). */
async function explainFailure(
  s: Session,
  w: WorkloadRef | undefined,
  seen: Pod[],
  culprit?: Pod,
): Promise<void> {
  const pods = w ? await currentPods(s.kube, w).catch(() => seen) : seen;
  const fresh = culprit
    ? (pods.find((p) => p.metadata.name === culprit.metadata.name) ?? culprit)
    : undefined;
  await explain(s.kube, w, pods, fresh, s.report);
}

export interface Rollout {
  ok: boolean;
  reason?: string;
  interrupted?: boolean;
}

/** Wait, then verify; explain on failure. */
async function rollOut(s: Session, objects: readonly K8sObject[]): Promise<Rollout> {
  const workloads = workloadsOf(objects, s.options.waitJobs);
  s.report.step(
    `wait: ${plural(workloads.length, 'workload')} to roll out (timeout ${s.options.timeoutSeconds} s)`,
  );
  const outcome: RolloutOutcome = await waitForRollout(s.kube, workloads, s.report, {
    timeoutMs: s.options.timeoutSeconds * 1000,
    retryMs: s.timing.watchRetryMs,
    signal: s.signal,
  });
  if (!outcome.ok) {
    s.report.step(`rollout failed: ${outcome.reason}`);
    if (!outcome.interrupted)
      await explainFailure(s, outcome.workload, outcome.pods, outcome.culprit);
    return { ok: false, reason: outcome.reason, interrupted: outcome.interrupted };
  }
  const backend = findBackend(objects);
  if (!backend?.health) {
    s.report.step('verify: no backend health check in this set: skipped');
    return { ok: true };
  }
  const failure = await verify(s.kube, backend.health, s.report, {
    timeoutMs: s.timing.verifyTimeoutMs,
    intervalMs: s.timing.verifyIntervalMs,
    signal: s.signal,
  });
  if (failure === undefined) return { ok: true };
  await explainFailure(
    s,
    { kind: 'Deployment', namespace: backend.namespace, name: backend.name },
    [],
  );
  return { ok: false, reason: failure };
}

/** Apply, prune, roll out: shared by a deploy and a rollback. */
export async function applyAndRollOut(
  s: Session,
  plans: readonly Plan[],
  objects: readonly K8sObject[],
  previous: readonly Release[],
): Promise<Rollout> {
  s.report.step(
    `apply: ${plural(plans.length, 'object')} (server-side apply, field manager ${FIELD_MANAGER}, force)`,
  );
  const applyRejections = await applyAll(s.kube, plans, (plan) => {
    if (plan.action !== 'unchanged')
      s.report.detail(`${PAST[plan.action].padEnd(9)} ${describeRef(refOf(plan.object))}`);
  });
  if (applyRejections.length > 0) {
    for (const r of applyRejections) s.report.detail(formatRejection(r));
    return { ok: false, reason: `the apply failed: ${formatRejection(applyRejections[0])}` };
  }
  const prune = pruneSet(previous, objects);
  if (prune.remove.length + prune.kept.length > 0) {
    const result = await deleteAll(s.kube, prune.remove, false);
    s.report.step(
      `prune: ${plural(result.deleted.length, 'object')} deleted, ${prune.kept.length} kept`,
    );
    for (const ref of result.deleted) s.report.detail(`deleted   ${describeRef(ref)}`);
    for (const ref of result.gone)
      s.report.detail(`gone      ${describeRef(ref)} (deleted already)`);
    for (const ref of prune.kept)
      s.report.detail(`kept      ${describeRef(ref)} (a ${ref.kind} is never pruned)`);
    for (const r of result.rejections) s.report.detail(formatRejection(r));
    if (result.rejections.length > 0)
      return { ok: false, reason: `the prune failed: ${formatRejection(result.rejections[0])}` };
  }
  return rollOut(s, objects);
}
