/**
 * Server-side apply of the folder's objects: first a dry run of every object
 * (the same PATCH the apply sends, with dryRun=All, so admission, validation
 * and RBAC answer as they will), then the apply itself, group by group.
 */
import { FIELD_MANAGER, describeFailure, formatFailure, statusCode, type Kube } from './kube';
import {
  applyGroups,
  describeRef,
  refKey,
  refOf,
  skeleton,
  type K8sObject,
  type ObjectRef,
} from './manifests';
import * as k8s from '@kubernetes/client-node';

export type Action = 'create' | 'change' | 'unchanged' | 'replace';

export interface Plan {
  object: K8sObject;
  action: Action;
}

/** One request the API server refused. */
export interface Rejection {
  ref: ObjectRef;
  verb: string;
  message: string;
}

export function formatRejection(r: Rejection): string {
  return `${r.verb} ${describeRef(r.ref)}: ${r.message}`;
}

const APPLY = 'PATCH (server-side apply)';

/** Runs `fn` over `items`, at most `limit` at a time, keeping the order of results. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

const CONCURRENCY = 8;

function apply(kube: Kube, object: K8sObject, dryRun: boolean): Promise<k8s.KubernetesObject> {
  // structuredClone: the library fills in defaults (namespace) on what it is given.
  return kube.objects.patch(
    structuredClone(object),
    undefined,
    dryRun ? 'All' : undefined,
    FIELD_MANAGER,
    true,
    k8s.PatchStrategy.ServerSideApply,
  );
}

/** The live object, or undefined when there is none. */
async function read(kube: Kube, ref: ObjectRef): Promise<k8s.KubernetesObject | undefined> {
  try {
    return await kube.objects.read(skeleton(ref));
  } catch (error) {
    if (statusCode(error) === 404) return undefined;
    throw error;
  }
}

/** What the server fills in or owns: never a difference the folder makes. */
export function comparable(object: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(object)) as Record<string, unknown> & {
    metadata?: Record<string, unknown>;
  };
  delete copy.status;
  if (copy.metadata) {
    for (const key of [
      'managedFields',
      'resourceVersion',
      'generation',
      'uid',
      'creationTimestamp',
    ]) {
      delete copy.metadata[key];
    }
  }
  return sortKeys(copy);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(comparable(a)) === JSON.stringify(comparable(b));
}

function isImmutableJobChange(object: K8sObject, error: unknown): boolean {
  const failure = describeFailure(error);
  return (
    object.kind === 'Job' && failure.code === 422 && /field is immutable/.test(failure.message)
  );
}

/**
 * Dry-runs every object. `creates` names the Namespaces the folder creates:
 * an object in one that does not exist yet is answered 404 (namespace not
 * found) by a real API server, and will simply be created with it.
 */
export async function dryRun(
  kube: Kube,
  objects: readonly K8sObject[],
  creates: ReadonlySet<string>,
): Promise<{ plans: Plan[]; rejections: Rejection[] }> {
  const rejections: Rejection[] = [];
  const planOne = async (object: K8sObject): Promise<Plan | undefined> => {
    const ref = refOf(object);
    let live: k8s.KubernetesObject | undefined;
    try {
      live = await read(kube, ref);
    } catch (error) {
      rejections.push({ ref, verb: 'GET', message: formatFailure(describeFailure(error)) });
      return undefined;
    }
    try {
      const result = await apply(kube, object, true);
      return {
        object,
        action: live === undefined ? 'create' : same(result, live) ? 'unchanged' : 'change',
      };
    } catch (error) {
      const failure = describeFailure(error);
      const missingNamespace =
        failure.code === 404 &&
        ref.namespace !== undefined &&
        creates.has(ref.namespace) &&
        live === undefined;
      if (missingNamespace && /namespaces? "[^"]+" not found/.test(failure.message)) {
        return { object, action: 'create' };
      }
      if (live !== undefined && isImmutableJobChange(object, error)) {
        // A Job's pod template cannot change: it is deleted and created again.
        try {
          await kube.objects.delete(
            skeleton(ref),
            undefined,
            'All',
            undefined,
            undefined,
            'Background',
          );
          return { object, action: 'replace' };
        } catch (deleteError) {
          rejections.push({
            ref,
            verb: 'DELETE (dryRun=All)',
            message: formatFailure(describeFailure(deleteError)),
          });
          return undefined;
        }
      }
      rejections.push({ ref, verb: `${APPLY} dryRun=All`, message: formatFailure(failure) });
      return undefined;
    }
  };
  // One object per API version first: the client then knows every resource
  // from one discovery request per version, instead of one per parallel request.
  const ordered = applyGroups(objects).flat();
  const seen = new Set<string>();
  const first = ordered.filter((o) => !seen.has(o.apiVersion) && Boolean(seen.add(o.apiVersion)));
  const rest = ordered.filter((o) => !first.includes(o));
  const plans = [
    ...(await mapLimit(first, CONCURRENCY, planOne)),
    ...(await mapLimit(rest, CONCURRENCY, planOne)),
  ];
  const order = new Map(ordered.map((o, i) => [o, i]));
  return {
    plans: plans
      .filter((p): p is Plan => p !== undefined)
      .sort((a, b) => (order.get(a.object) ?? 0) - (order.get(b.object) ?? 0)),
    rejections,
  };
}

async function waitUntilGone(kube: Kube, ref: ObjectRef, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await read(kube, ref)) !== undefined) {
    if (Date.now() > deadline)
      throw new Error(`${describeRef(ref)} still exists ${timeoutMs / 1000} s after its deletion`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function applyOne(kube: Kube, plan: Plan): Promise<void> {
  if (plan.action === 'replace') {
    const ref = refOf(plan.object);
    await kube.objects.delete(
      skeleton(ref),
      undefined,
      undefined,
      undefined,
      undefined,
      'Background',
    );
    await waitUntilGone(kube, ref, 30_000);
  }
  await apply(kube, plan.object, false);
}

/**
 * Applies the plans group by group (applyGroups' order); stops at the first
 * group with a failure and returns the rejections.
 */
export async function applyAll(
  kube: Kube,
  plans: readonly Plan[],
  onApplied: (plan: Plan) => void,
): Promise<Rejection[]> {
  const byKey = new Map(plans.map((p) => [refKey(refOf(p.object)), p]));
  for (const group of applyGroups(plans.map((p) => p.object))) {
    const rejections: Rejection[] = [];
    await mapLimit(group, CONCURRENCY, async (object) => {
      const plan = byKey.get(refKey(refOf(object))) as Plan;
      try {
        await applyOne(kube, plan);
        onApplied(plan);
      } catch (error) {
        const verb = plan.action === 'replace' ? 'DELETE and PATCH (replace)' : APPLY;
        rejections.push({
          ref: refOf(object),
          verb,
          message: formatFailure(describeFailure(error)),
        });
      }
    });
    if (rejections.length > 0) return rejections;
  }
  return [];
}
