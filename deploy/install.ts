/**
 * One release, from the dry run to the record: dry run every request, apply,
 * prune, wait, verify; on failure explain and roll back to the last
 * successful release (as `helm upgrade --atomic` does), then record.
 */
import { applyAll, dryRun, formatRejection, type Plan } from './apply';
import type { Options } from './cli';
import { explain } from './explain';
import { FIELD_MANAGER, describeFailure, formatFailure, statusCode, type Kube } from './kube';
import {
  describeRef,
  findBackend,
  namespacesOf,
  refOf,
  type Backend,
  type K8sObject,
} from './manifests';
import { duration, plural, type Reporter } from './output';
import { ownedBy, type Pod } from './pods';
import { deleteAll, pruneSet } from './prune';
import {
  ReleaseConflictError,
  current,
  liveReleases,
  type Release,
  type ReleaseStore,
} from './release';
import { waitForRollout, type RolloutOutcome, type WorkloadRef } from './rollout';
import { verify } from './verify';

export interface Timing {
  /** Every API request but watches; bounds the preflight's GET /version. */
  requestTimeoutMs: number;
  /** How long a health check answered 502/503 (no endpoint yet) is retried. */
  verifyTimeoutMs: number;
  verifyIntervalMs: number;
  /** Pause before re-opening a watch the server closed. */
  watchRetryMs: number;
}

export const DEFAULT_TIMING: Timing = {
  requestTimeoutMs: 10_000,
  verifyTimeoutMs: 30_000,
  verifyIntervalMs: 1_000,
  watchRetryMs: 1_000,
};

/** Ends the command: `final` is its last line. */
export class Stop extends Error {
  constructor(
    readonly code: number,
    readonly final: string,
  ) {
    super(final);
  }
}

export const unchanged = (why: string) => new Stop(2, `FAILED (nothing was changed): ${why}`);

export interface Session {
  kube: Kube;
  report: Reporter;
  options: Options;
  timing: Timing;
  signal?: AbortSignal;
  releases: ReleaseStore;
  /** Newest first, as read in the preflight. */
  history: Release[];
  /** Where the Argo CD check found automation that a real deploy must refuse. */
  argoCdRefusal?: string;
}

export interface InstallSpec {
  objects: K8sObject[];
  variant: string;
  source: string;
  commit?: string;
  description: string;
}

const PAST: Record<Plan['action'], string> = {
  create: 'created',
  change: 'changed',
  unchanged: 'unchanged',
  replace: 'replaced',
};

function count(plans: readonly Plan[], action: Plan['action']): number {
  return plans.filter((p) => p.action === action).length;
}

function planSummary(plans: readonly Plan[], prune: number, kept: number, future = false): string {
  const parts = (['create', 'change', 'replace', 'unchanged'] as const)
    .filter((a) => a === 'unchanged' || count(plans, a) > 0)
    .map((a) => `${count(plans, a)} ${future && a !== 'unchanged' ? `to be ${PAST[a]}` : PAST[a]}`);
  if (prune > 0) parts.push(`${prune} ${future ? 'would be pruned' : 'pruned'}`);
  if (kept > 0) parts.push(`${kept} kept`);
  return parts.join(', ');
}

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

interface Rollout {
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
async function applyAndRollOut(
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

async function dryRunAll(s: Session, spec: InstallSpec, release: Release) {
  const { created } = namespacesOf(spec.objects);
  const prune = pruneSet(liveReleases(s.history), spec.objects);
  s.report.step(
    `dry run: ${plural(spec.objects.length, 'object')} (server-side apply, dryRun=All)`,
  );
  const [{ plans, rejections }, deletions] = await Promise.all([
    dryRun(s.kube, spec.objects, created),
    deleteAll(s.kube, prune.remove, true),
  ]);
  rejections.push(...deletions.rejections);
  try {
    await s.releases.create(release, true);
  } catch (error) {
    const missing = statusCode(error) === 404 && created.has(s.releases.namespace);
    if (!missing) {
      const ref = {
        apiVersion: 'v1',
        kind: 'Secret',
        namespace: s.releases.namespace,
        name: `release record v${release.revision}`,
      };
      rejections.push({
        ref,
        verb: 'POST dryRun=All',
        message: formatFailure(describeFailure(error)),
      });
    }
  }
  return { plans, rejections, prune };
}

/** Runs one release; returns the exit status, having printed the last line. */
export async function install(s: Session, spec: InstallSpec): Promise<number> {
  const { report } = s;
  const revision = Math.max(0, ...s.history.map((r) => r.revision)) + 1;
  const now = new Date().toISOString();
  const release: Release = {
    revision,
    variant: spec.variant,
    status: 'pending',
    started: now,
    updated: now,
    commit: spec.commit,
    source: spec.source,
    description: spec.description,
    deadline: new Date(
      Date.now() + (s.options.timeoutSeconds + s.timing.verifyTimeoutMs / 1000 + 120) * 1000,
    ).toISOString(),
    objects: spec.objects,
  };
  const { plans, rejections, prune } = await dryRunAll(s, spec, release);
  if (rejections.length > 0) {
    report.step(
      `dry run: the API server rejected ${plural(rejections.length, 'request')}; nothing was applied`,
    );
    for (const r of rejections) report.detail(formatRejection(r));
    throw unchanged(
      `the API server rejected ${plural(rejections.length, 'request')} in the dry run`,
    );
  }
  report.step(
    `dry run: all accepted: ${planSummary(plans, prune.remove.length, prune.kept.length, true)}`,
  );
  if (s.options.dryRun) {
    for (const p of plans)
      report.detail(
        `${p.action === 'unchanged' ? 'unchanged' : `${PAST[p.action]}`.padEnd(9)} ${describeRef(refOf(p.object))}`,
      );
    for (const ref of prune.remove) report.detail(`would be pruned ${describeRef(ref)}`);
    for (const ref of prune.kept)
      report.detail(`kept      ${describeRef(ref)} (a ${ref.kind} is never pruned)`);
    if (s.argoCdRefusal) report.step(`note: a real deploy would be refused: ${s.argoCdRefusal}`);
    throw new Stop(
      0,
      `DRY RUN ${spec.variant}: ${planSummary(plans, prune.remove.length, prune.kept.length, true)}; nothing was changed`,
    );
  }

  // The record goes first, so that a deploy cut short still names what it applied.
  const appNamespace = plans.find(
    (p) => p.object.kind === 'Namespace' && p.object.metadata.name === s.releases.namespace,
  );
  if (appNamespace?.action === 'create') await applyAll(s.kube, [appNamespace], () => undefined);
  try {
    await s.releases.create(release);
  } catch (error) {
    if (error instanceof ReleaseConflictError) throw unchanged(error.message);
    throw error;
  }
  const previous = current(s.history);
  const outcome = await applyAndRollOut(s, plans, spec.objects, liveReleases(s.history));
  const took = duration(report.elapsed() * 1000);
  if (outcome.ok) {
    release.status = 'deployed';
    await s.releases.update(release);
    for (const old of s.history.filter((r) => r.status === 'deployed')) {
      old.status = 'superseded';
      await s.releases.update(old);
    }
    await s.releases.trim([release, ...s.history]);
    report.step(
      `release: revision ${revision} recorded as deployed in namespace ${s.releases.namespace}`,
    );
    return finish(s, 0, `DEPLOYED ${spec.variant} as revision ${revision} in ${took}`);
  }
  const failed = `FAILED revision ${revision} (${spec.variant}): ${outcome.reason}`;
  release.description = `${spec.description}: ${outcome.reason}`;
  if (outcome.interrupted || !s.options.rollback || !previous) {
    release.status = 'failed';
    await s.releases.update(release);
    const why = outcome.interrupted
      ? 'not rolled back'
      : !s.options.rollback
        ? 'not rolled back (--no-rollback)'
        : 'nothing to roll back to (no earlier successful release)';
    return finish(s, 1, `${failed}; ${why}`);
  }
  return rollBack(s, release, previous, failed);
}

/** Re-applies `target` after `failedRelease` failed, and records both. */
async function rollBack(
  s: Session,
  failedRelease: Release,
  target: Release,
  failed: string,
): Promise<number> {
  s.report.step(`rollback: re-applying revision ${target.revision} (${target.variant})`);
  // A dry run again: it finds the Jobs to replace, and what changes.
  const { plans, rejections } = await dryRun(
    s.kube,
    target.objects,
    namespacesOf(target.objects).created,
  );
  const outcome: Rollout =
    rejections.length > 0
      ? { ok: false, reason: `the dry run failed: ${formatRejection(rejections[0])}` }
      : await applyAndRollOut(s, plans, target.objects, [
          failedRelease,
          ...liveReleases(s.history),
        ]);
  const now = new Date().toISOString();
  const record: Release = {
    ...target,
    revision: failedRelease.revision + 1,
    started: now,
    updated: now,
    deadline: undefined,
    source: `revision ${target.revision}`,
    status: outcome.ok ? 'deployed' : 'failed',
    description: `rollback to revision ${target.revision} after revision ${failedRelease.revision} failed${outcome.ok ? '' : `: ${outcome.reason}`}`,
  };
  failedRelease.status = outcome.ok ? 'rolled back' : 'failed';
  await s.releases.update(failedRelease);
  await s.releases.create(record);
  if (!outcome.ok)
    return finish(
      s,
      1,
      `${failed}; rollback to revision ${target.revision} failed too: ${outcome.reason}`,
    );
  target.status = 'superseded';
  await s.releases.update(target);
  await s.releases.trim([record, failedRelease, ...s.history]);
  s.report.step(
    `rolled back to revision ${target.revision} (${target.variant}), recorded as revision ${record.revision}`,
  );
  return finish(s, 1, `${failed}; rolled back to revision ${target.revision} (${target.variant})`);
}

function finish(s: Session, code: number, final: string): number {
  s.report.line(final);
  return code;
}
