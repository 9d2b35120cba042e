/**
 * Release history, kept in the cluster the way Helm keeps it: one Secret per
 * revision in the app's namespace (`sophia-manifests.release.v<N>`, type
 * `manifests.sophia.ai/release.v1`), labelled with its revision, status and
 * variant. Its `release` key holds the record as JSON, its `manifests` key
 * the applied manifests as gzip-compressed JSON. The newest 10 are kept.
 */
import { execFile } from 'child_process';
import { promisify } from 'util';
import { gunzipSync, gzipSync } from 'zlib';
import { FIELD_MANAGER, type Kube } from './kube';
import type { K8sObject } from './manifests';

export type ReleaseStatus = 'pending' | 'deployed' | 'failed' | 'superseded' | 'rolled back';

export interface Release {
  revision: number;
  variant: string;
  status: ReleaseStatus;
  /** When the deploy started (ISO 8601). */
  started: string;
  /** When the status last changed. */
  updated: string;
  /** `git rev-parse HEAD` of the deployed folder, `+dirty` when it had changes. */
  commit?: string;
  /** The folder, or `revision N` for a rollback. */
  source: string;
  description: string;
  /** A pending release whose deadline passed was interrupted. */
  deadline?: string;
  objects: K8sObject[];
}

export const KEEP_RELEASES = 10;
const run = promisify(execFile);
const PREFIX = 'sophia-manifests.release.v';
const SECRET_TYPE = 'manifests.sophia.ai/release.v1';
const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  revision: 'manifests.sophia.ai/release-revision',
  status: 'manifests.sophia.ai/release-status',
  variant: 'manifests.sophia.ai/release-variant',
};
const SELECTOR = `${LABELS.managedBy}=${FIELD_MANAGER},${LABELS.revision}`;

/** The commit of the git work tree holding `dir` (`+dirty` with changes below it), if any. */
export async function gitCommit(dir: string): Promise<string | undefined> {
  try {
    // One process: porcelain v2 heads its output with `# branch.oid <commit>`.
    const { stdout } = await run(
      'git',
      ['-C', dir, 'status', '--porcelain=v2', '--branch', '--', '.'],
      {
        encoding: 'utf8',
      },
    );
    const commit = /^# branch\.oid ([0-9a-f]{7,})$/m.exec(stdout)?.[1];
    if (!commit) return undefined;
    return stdout.split('\n').some((line) => line !== '' && !line.startsWith('#'))
      ? `${commit}+dirty`
      : commit;
  } catch {
    return undefined;
  }
}

function statusLabel(status: ReleaseStatus): string {
  return status.replace(' ', '-');
}

/** Compressed manifests by their array: a status update does not compress them again. */
const compressed = new WeakMap<readonly K8sObject[], string>();

function compress(objects: readonly K8sObject[]): string {
  let data = compressed.get(objects);
  if (data === undefined) {
    data = gzipSync(Buffer.from(JSON.stringify(objects))).toString('base64');
    compressed.set(objects, data);
  }
  return data;
}

function toSecret(release: Release, namespace: string, resourceVersion?: string): K8sObject {
  const { objects, ...record } = release;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: `${PREFIX}${release.revision}`,
      namespace,
      ...(resourceVersion ? { resourceVersion } : {}),
      labels: {
        [LABELS.managedBy]: FIELD_MANAGER,
        [LABELS.revision]: String(release.revision),
        [LABELS.status]: statusLabel(release.status),
        [LABELS.variant]: release.variant,
      },
    },
    type: SECRET_TYPE,
    data: {
      release: Buffer.from(JSON.stringify(record)).toString('base64'),
      manifests: compress(objects),
    },
  };
}

interface StoredSecret {
  metadata?: { resourceVersion?: string; name?: string };
  data?: Record<string, string>;
}

/** A concurrent deploy recorded the same revision first. */
export class ReleaseConflictError extends Error {}

export class ReleaseStore {
  private readonly versions = new Map<number, string>();

  constructor(
    private readonly kube: Kube,
    readonly namespace: string,
  ) {}

  /** Every recorded release, newest first. A namespace that does not exist has none. */
  async list(): Promise<Release[]> {
    let items: StoredSecret[];
    try {
      const list = await this.kube.objects.list(
        'v1',
        'Secret',
        this.namespace,
        undefined,
        undefined,
        undefined,
        undefined,
        SELECTOR,
      );
      items = list.items as StoredSecret[];
    } catch (error) {
      if ((error as { code?: number }).code === 404) return [];
      throw error;
    }
    const releases: Release[] = [];
    for (const item of items) {
      const { release: record, manifests } = item.data ?? {};
      if (!record || !manifests) continue;
      const objects = JSON.parse(
        gunzipSync(Buffer.from(manifests, 'base64')).toString('utf8'),
      ) as K8sObject[];
      compressed.set(objects, manifests);
      const release = {
        ...JSON.parse(Buffer.from(record, 'base64').toString('utf8')),
        objects,
      } as Release;
      this.versions.set(release.revision, item.metadata?.resourceVersion ?? '');
      releases.push(release);
    }
    return releases.sort((a, b) => b.revision - a.revision);
  }

  /** Records a new revision; fails when that revision exists already. */
  async create(release: Release, dryRun = false): Promise<void> {
    try {
      const created = await this.kube.objects.create(
        toSecret(release, this.namespace),
        undefined,
        dryRun ? 'All' : undefined,
        FIELD_MANAGER,
      );
      if (!dryRun) this.versions.set(release.revision, created.metadata?.resourceVersion ?? '');
    } catch (error) {
      if ((error as { code?: number }).code === 409 && !dryRun) {
        throw new ReleaseConflictError(
          `revision ${release.revision} was recorded meanwhile by another deploy`,
        );
      }
      throw error;
    }
  }

  /** Rewrites a recorded revision (its status changed). */
  async update(release: Release): Promise<void> {
    release.updated = new Date().toISOString();
    const replaced = await this.kube.objects.replace(
      toSecret(release, this.namespace, this.versions.get(release.revision)),
      undefined,
      undefined,
      FIELD_MANAGER,
    );
    this.versions.set(release.revision, replaced.metadata?.resourceVersion ?? '');
  }

  /** Deletes all but the newest KEEP_RELEASES revisions. */
  async trim(releases: readonly Release[]): Promise<number[]> {
    const old = [...releases].sort((a, b) => b.revision - a.revision).slice(KEEP_RELEASES);
    await Promise.all(
      old.map((r) =>
        this.kube.objects.delete({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: `${PREFIX}${r.revision}`, namespace: this.namespace },
        }),
      ),
    );
    return old.map((r) => r.revision);
  }
}

/** The release that is live: the newest deployed one. */
export function current(releases: readonly Release[]): Release | undefined {
  return releases.find((r) => r.status === 'deployed');
}

/**
 * Releases whose objects may still be in the cluster: the live one and every
 * newer one (a failed deploy that was not rolled back left its objects).
 */
export function liveReleases(releases: readonly Release[]): Release[] {
  const live = current(releases);
  return live ? releases.filter((r) => r.revision >= live.revision) : [...releases];
}

/** `  5  2024-05-14 08:12:03Z  deployed     hardened    bbc0ec6  description`. */
export function formatRelease(r: Release): string {
  const time = r.updated.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  const commit = r.commit ? r.commit.replace(/^([0-9a-f]{12})[0-9a-f]*/, '$1') : '-';
  return [
    `revision ${String(r.revision).padEnd(3)}`,
    time,
    r.status.padEnd(11),
    r.variant.padEnd(10),
    commit.padEnd(18),
    r.description,
  ].join('  ');
}
