import { ApiObject } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { Application, AppProject } from '../imports/argoproj.io';
import { InvalidPropError } from './errors';

/** How Argo CD syncs an Application. */
export enum SyncMode {
  /** Every commit is applied; drift is reverted and removed objects pruned. */
  AUTOMATED = 'automated',
  /** Only a person's `argocd app sync` (or the UI) applies it. */
  MANUAL = 'manual',
}

export interface ArgoCdApplicationOptions {
  /** The Application's name. */
  readonly name: string;
  /** Folder of manifests in the repository, e.g. `dist/hardened`. */
  readonly path: string;
  readonly sync: SyncMode;
  /** The manifests synthesized into `path`: the project's whitelists are derived from them. */
  readonly manifests: IConstruct;
}

export interface ArgoCdProjectProps {
  /** The AppProject's name. */
  readonly name: string;
  readonly repoURL: string;
  /** Branch, tag or commit the Applications follow. */
  readonly revision: string;
  readonly applications: readonly ArgoCdApplicationOptions[];
  /**
   * Where Argo CD runs; AppProjects and Applications live there.
   * @default 'argocd'
   */
  readonly argoNamespace?: string;
  /**
   * The cluster the Applications deploy to.
   * @default 'https://kubernetes.default.svc' (the cluster Argo CD runs in)
   */
  readonly destinationServer?: string;
  /** @default - none */
  readonly description?: string;
}

interface GroupKind {
  readonly group: string;
  readonly kind: string;
}

/**
 * An Argo CD AppProject that admits exactly the namespaces and kinds its
 * Applications' manifests contain, and one Application per manifest folder.
 * The whitelists are derived from the constructs, so they cannot fall behind
 * what the charts synthesize.
 */
export class ArgoCdProject extends Construct {
  public readonly project: AppProject;
  public readonly applications: readonly Application[];

  constructor(scope: Construct, id: string, props: ArgoCdProjectProps) {
    super(scope, id);
    if (!/^https:\/\/\S+$|^git@\S+:\S+$|^ssh:\/\/\S+$/.test(props.repoURL)) {
      throw new InvalidPropError(
        this,
        'repoURL',
        props.repoURL,
        'a git URL: https://..., ssh://... or git@host:path',
      );
    }
    if (!/^[\w./-]+$/.test(props.revision)) {
      throw new InvalidPropError(this, 'revision', props.revision, 'a branch, tag or commit');
    }
    if (props.applications.length === 0) {
      throw new InvalidPropError(
        this,
        'applications',
        props.applications,
        'at least one application',
      );
    }
    const argoNamespace = props.argoNamespace ?? 'argocd';
    const server = props.destinationServer ?? 'https://kubernetes.default.svc';

    const namespaces = new Set<string>();
    const clusterKinds = new Map<string, GroupKind>();
    const namespacedKinds = new Map<string, GroupKind>();
    for (const app of props.applications) {
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(app.name)) {
        throw new InvalidPropError(this, 'applications[].name', app.name, 'a DNS-1123 label');
      }
      if (app.path.startsWith('/') || app.path.split('/').includes('..')) {
        throw new InvalidPropError(
          this,
          'applications[].path',
          app.path,
          'a relative folder inside the repository',
        );
      }
      for (const object of app.manifests.node.findAll().filter(ApiObject.isApiObject)) {
        const groupKind = {
          group: object.apiGroup === 'core' ? '' : object.apiGroup,
          kind: object.kind,
        };
        const key = `${groupKind.group}/${groupKind.kind}`;
        if (object.metadata.namespace === undefined) {
          clusterKinds.set(key, groupKind);
        } else {
          namespaces.add(object.metadata.namespace);
          namespacedKinds.set(key, groupKind);
        }
      }
    }
    const sorted = (kinds: Map<string, GroupKind>) =>
      [...kinds.keys()].sort().map((key) => kinds.get(key)!);

    this.project = new AppProject(this, 'Project', {
      metadata: { name: props.name, namespace: argoNamespace },
      spec: {
        description: props.description,
        sourceRepos: [props.repoURL],
        destinations: [...namespaces].sort().map((namespace) => ({ server, namespace })),
        clusterResourceWhitelist: sorted(clusterKinds),
        namespaceResourceWhitelist: sorted(namespacedKinds),
      },
    });

    this.applications = props.applications.map(
      (app) =>
        new Application(this, app.name, {
          metadata: { name: app.name, namespace: argoNamespace },
          spec: {
            project: props.name,
            source: { repoUrl: props.repoURL, targetRevision: props.revision, path: app.path },
            destination: { server },
            syncPolicy: {
              automated:
                app.sync === SyncMode.AUTOMATED ? { prune: true, selfHeal: true } : undefined,
              // Server-side apply: the source ConfigMap may exceed the 256 KiB
              // last-applied annotation of client-side apply.
              syncOptions: ['ServerSideApply=true'],
            },
          },
        }),
    );
  }
}
