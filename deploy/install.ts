/**
 * One release, from the dry run to the record: dry run every request, apply,
 * prune, wait, verify; on failure explain and roll back to the last
 * successful release (as `helm upgrade --atomic` does), then record.
 */
import { applyAll, dryRun, formatRejection } from './apply';
import { describeFailure, formatFailure, statusCode } from './kube';
import { describeRef, namespacesOf, refOf } from './manifests';
import { duration, plural } from './output';
import { deleteAll, pruneSet } from './prune';
import { ReleaseConflictError, current, liveReleases, type Release } from './release';
import { PAST, Stop, planSummary, unchanged, type InstallSpec, type Session } from './session';
import { applyAndRollOut, type Rollout } from './steps';

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
      report.detail(`${PAST[p.action].padEnd(9)} ${describeRef(refOf(p.object))}`);
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
  if (appNamespace?.action === 'create') {
    // On a fresh cluster the record's namespace comes first.
    const rejected = await applyAll(s.kube, [appNamespace], () => undefined);
    if (rejected.length > 0)
      throw unchanged(`cannot create the namespace: ${formatRejection(rejected[0])}`);
  }
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
