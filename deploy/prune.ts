/**
 * Prune: objects that the recorded releases still in the cluster applied and
 * that the new set no longer holds are deleted. The set comes from the
 * release records only, never from a label search across the cluster, and a
 * Namespace, PersistentVolumeClaim or CustomResourceDefinition is never
 * deleted (deleting a Namespace deletes everything in it): those are kept.
 */
import { mapLimit, type Rejection } from './apply';
import { describeFailure, formatFailure, statusCode, type Kube } from './kube';
import {
  NEVER_PRUNED,
  applyGroups,
  refKey,
  refOf,
  skeleton,
  type K8sObject,
  type ObjectRef,
} from './manifests';
import type { Release } from './release';

export interface PruneSet {
  /** To delete, workloads first (the reverse of the apply order). */
  remove: ObjectRef[];
  /** Left in place although no longer in the set. */
  kept: ObjectRef[];
}

export function pruneSet(previous: readonly Release[], next: readonly K8sObject[]): PruneSet {
  const wanted = new Set(next.map((o) => refKey(refOf(o))));
  const old = new Map<string, K8sObject>();
  for (const release of previous) {
    for (const object of release.objects) {
      const key = refKey(refOf(object));
      if (!wanted.has(key) && !old.has(key)) old.set(key, object);
    }
  }
  const ordered = applyGroups([...old.values()])
    .flat()
    .reverse();
  return {
    remove: ordered.filter((o) => !NEVER_PRUNED.has(o.kind)).map(refOf),
    kept: ordered.filter((o) => NEVER_PRUNED.has(o.kind)).map(refOf),
  };
}

function deleteObject(kube: Kube, ref: ObjectRef, dryRun: boolean) {
  // Background: the garbage collector removes what the object owns (a
  // Deployment's ReplicaSets and pods), as kubectl delete does.
  return kube.objects.delete(
    skeleton(ref),
    undefined,
    dryRun ? 'All' : undefined,
    undefined,
    undefined,
    'Background',
  );
}

/**
 * Deletes (or, with dryRun, dry-runs the deletion of) `refs`. Returns those
 * that were gone already and the requests that failed.
 */
export async function deleteAll(
  kube: Kube,
  refs: readonly ObjectRef[],
  dryRun: boolean,
): Promise<{ deleted: ObjectRef[]; gone: ObjectRef[]; rejections: Rejection[] }> {
  const deleted: ObjectRef[] = [];
  const gone: ObjectRef[] = [];
  const rejections: Rejection[] = [];
  await mapLimit(refs, 8, async (ref) => {
    try {
      await deleteObject(kube, ref, dryRun);
      deleted.push(ref);
    } catch (error) {
      if (statusCode(error) === 404) gone.push(ref);
      else {
        const verb = dryRun ? 'DELETE dryRun=All' : 'DELETE';
        rejections.push({ ref, verb, message: formatFailure(describeFailure(error)) });
      }
    }
  });
  const order = (list: ObjectRef[]) => refs.filter((r) => list.includes(r));
  return { deleted: order(deleted), gone: order(gone), rejections };
}
