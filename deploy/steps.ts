/**
 * The steps after the dry run: apply, prune, wait for the rollout, verify
 * the health endpoint, and explain a failure. Shared by a deploy and by the
 * rollback that follows a failed one.
 */
import { applyAll, formatRejection, type Plan } from './apply';
import { explain } from './explain';
import { FIELD_MANAGER, type Kube } from './kube';
import { describeRef, findBackend, refOf, type Backend, type K8sObject } from './manifests';
import { plural } from './output';
import { ownedBy, type Pod } from './pods';
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

/** Pods of the backend's newest revision, for an explanation after a failed health check. */
async function backendPods(kube: Kube, backend: Backend): Promise<Pod[]> {
  const selector = (
    backend.deployment.spec as { selector?: { matchLabels?: Record<string, string> } }
  )?.selector;
  const labelSelector = Object.entries(selector?.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const ns = backend.namespace;
  const [deployment, sets, pods] = await Promise.all([
    kube.objects.read({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: backend.name, namespace: ns },
    }),
    kube.objects.list(
      'apps/v1',
      'ReplicaSet',
      ns,
      undefined,
      undefined,
      undefined,
      undefined,
      labelSelector,
    ),
    kube.core.listNamespacedPod({ namespace: ns, labelSelector }),
  ]);
  const plain = <T>(o: unknown) => JSON.parse(JSON.stringify(o)) as T;
  const d = plain<Pod>(deployment);
  const revision = d.metadata.annotations?.['deployment.kubernetes.io/revision'];
  const rs = plain<{ items: Pod[] }>(sets).items.find(
    (r) =>
      ownedBy(r, d) && r.metadata.annotations?.['deployment.kubernetes.io/revision'] === revision,
  );
  return plain<{ items: Pod[] }>(pods).items.filter((p) => rs && ownedBy(p, rs));
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
      await explain(s.kube, outcome.workload, outcome.pods, outcome.culprit, s.report);
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
  const pods = await backendPods(s.kube, backend).catch(() => []);
  const workload: WorkloadRef = {
    kind: 'Deployment',
    namespace: backend.namespace,
    name: backend.name,
  };
  await explain(s.kube, workload, pods, undefined, s.report);
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
