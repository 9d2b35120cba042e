/**
 * Preflight, before any change: the cluster answers, what is live now, and
 * whether an Argo CD Application would fight the deploy.
 */
import { describeFailure, formatFailure, statusCode, type Kube } from './kube';
import { VARIANT_ANNOTATION, skeleton, type Backend } from './manifests';

/** The cluster cannot be used: nothing was changed. */
export class PreflightError extends Error {}

/** GET /version, bounded by the client's request timeout. */
export async function serverVersion(kube: Kube): Promise<string> {
  try {
    const info = await kube.version.getCode();
    return info.gitVersion;
  } catch (error) {
    const failure = formatFailure(describeFailure(error));
    if (statusCode(error) !== undefined) {
      throw new PreflightError(
        `the API server at ${kube.server} answered GET /version with ${failure}`,
      );
    }
    // Refused, DNS, TLS, a timeout, or no credentials (an exec plugin failed).
    throw new PreflightError(`cannot reach the API server at ${kube.server}: ${failure}`);
  }
}

/** The variant the backend Deployment runs now, or undefined when there is none. */
export async function liveVariant(
  kube: Kube,
  backend: Backend,
): Promise<string | undefined | null> {
  try {
    const live = await kube.objects.read(
      skeleton({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: backend.name,
        namespace: backend.namespace,
      }),
    );
    return live.metadata?.annotations?.[VARIANT_ANNOTATION] ?? null;
  } catch (error) {
    if (statusCode(error) === 404) return undefined;
    throw new PreflightError(
      `cannot read the live Deployment: ${formatFailure(describeFailure(error))}`,
    );
  }
}

interface Application {
  metadata?: { name?: string; namespace?: string };
  spec?: {
    destination?: { namespace?: string };
    syncPolicy?: { automated?: { enabled?: boolean; prune?: boolean; selfHeal?: boolean } | null };
  };
  status?: { resources?: { namespace?: string }[] };
}

export interface ArgoCdApp {
  name: string;
  namespace: string;
  /** `argocd app set ... --sync-policy none`. */
  pause: string;
  /** The command that restores its automation afterwards. */
  resume: string;
}

export type ArgoCdCheck =
  { installed: false } | { installed: true; automated: ArgoCdApp[]; error?: string };

function appArg(app: Application): string {
  const ns = app.metadata?.namespace;
  return ns && ns !== 'argocd'
    ? `${app.metadata?.name} --app-namespace ${ns}`
    : `${app.metadata?.name}`;
}

/**
 * Argo CD Applications with automated sync that manage one of `namespaces`:
 * their destination namespace is one of them, or their status lists objects
 * in one (the project's own Applications set no destination namespace). A
 * cluster without the argoproj.io API answers 404: not installed.
 */
export async function checkArgoCd(kube: Kube, namespaces: readonly string[]): Promise<ArgoCdCheck> {
  let items: Application[];
  try {
    const list = (await kube.custom.listClusterCustomObject({
      group: 'argoproj.io',
      version: 'v1alpha1',
      plural: 'applications',
    })) as { items?: Application[] };
    items = list.items ?? [];
  } catch (error) {
    if (statusCode(error) === 404) return { installed: false };
    return { installed: true, automated: [], error: formatFailure(describeFailure(error)) };
  }
  const wanted = new Set(namespaces);
  const automated: ArgoCdApp[] = [];
  for (const app of items) {
    const auto = app.spec?.syncPolicy?.automated;
    if (!auto || auto.enabled === false) continue;
    const manages =
      wanted.has(app.spec?.destination?.namespace ?? '') ||
      (app.status?.resources ?? []).some((r) => wanted.has(r.namespace ?? ''));
    if (!manages) continue;
    const flags = `${auto.prune ? ' --auto-prune' : ''}${auto.selfHeal ? ' --self-heal' : ''}`;
    automated.push({
      name: app.metadata?.name ?? '',
      namespace: app.metadata?.namespace ?? '',
      pause: `argocd app set ${appArg(app)} --sync-policy none`,
      resume: `argocd app set ${appArg(app)} --sync-policy automated${flags}`,
    });
  }
  return { installed: true, automated };
}
