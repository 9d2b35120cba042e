// Argo CD Applications that sync folders of this output. Each folder is
// applied on its own (`kubectl apply -f <folder>`, or an Application whose
// source.path is that folder), so the other checks run per folder; but the
// Applications put their folders into one cluster, where two Applications
// managing the same object fight over it (Argo CD's SharedResourceWarning).
// Reported here: an Application whose source.path is inside the validated
// folder but holds no manifests, and two automatically synced Applications
// for the same destination that sync the same objects. A manually synced
// Application may share objects with an automated one: it is a standby
// alternative (this project's root-debug switch), synced only by a person
// who first turns the other one's automation off.
import * as path from 'path';
import { isNamespaced } from './schema';
import {
  apiGroup,
  finding,
  namespaceOf,
  obj,
  objs,
  str,
  type Finding,
  type LoadedDoc,
  type Obj,
} from './util';

interface App {
  d: LoadedDoc;
  name: string;
  destination: string;
  /** Synced automatically: it reverts whatever another Application changes. */
  automated: boolean;
  /** Folders it syncs, as output file names spell them. */
  folders: { folder: string; recurse: boolean }[];
}

function applications(docs: readonly LoadedDoc[]): App[] {
  const apps: App[] = [];
  for (const d of docs) {
    const o = obj(d.doc);
    if (str(o?.apiVersion) !== 'argoproj.io/v1alpha1' || str(o?.kind) !== 'Application') continue;
    const spec = obj(o?.spec);
    const destination = obj(spec?.destination);
    const sources = [obj(spec?.source), ...objs(spec?.sources)].filter(
      (s): s is Obj => s !== undefined,
    );
    apps.push({
      d,
      name: str(obj(o?.metadata)?.name) ?? '?',
      destination: str(destination?.server) ?? str(destination?.name) ?? '',
      automated: obj(obj(spec?.syncPolicy)?.automated) !== undefined,
      folders: sources
        .map((s) => ({ p: str(s.path), recurse: obj(s.directory)?.recurse === true }))
        .filter((s): s is { p: string; recurse: boolean } => s.p !== undefined)
        .map((s) => ({ folder: path.normalize(s.p).replace(/(.)\/+$/, '$1'), recurse: s.recurse })),
    });
  }
  return apps;
}

function inFolder(file: string, folder: string, recurse: boolean): boolean {
  const dir = path.dirname(file);
  if (dir === folder) return true;
  const rel = path.relative(folder, dir);
  return recurse && rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** `Kind name` or `Kind namespace/name`, and a key for comparing. */
function objectOf(doc: unknown): { key: string; label: string } | undefined {
  const o = obj(doc);
  const apiVersion = str(o?.apiVersion);
  const kind = str(o?.kind);
  const name = str(obj(o?.metadata)?.name);
  if (apiVersion === undefined || kind === undefined || name === undefined) return undefined;
  const namespace = isNamespaced(apiVersion, kind) ? namespaceOf(o) : '';
  return {
    key: JSON.stringify([apiGroup(apiVersion), kind, namespace, name]),
    label: `${kind} ${namespace === '' ? '' : `${namespace}/`}${name}`,
  };
}

/**
 * Findings about the Applications among `docs` (all documents of the output,
 * file names relative to the working directory); `root` is the validated
 * folder as those file names spell it.
 */
export function checkApplications(docs: readonly LoadedDoc[], root: string): Finding[] {
  const findings: Finding[] = [];
  const apps = applications(docs);
  const synced = new Map<App, Map<string, string>>();
  for (const app of apps) {
    const objects = new Map<string, string>();
    for (const { folder, recurse } of app.folders) {
      const files = docs.filter((d) => inFolder(d.file, folder, recurse));
      const rel = path.relative(root, folder);
      const insideRoot = root === '.' || (!rel.startsWith('..') && !path.isAbsolute(rel));
      if (files.length === 0 && insideRoot) {
        findings.push(
          finding(app.d, `source.path ${JSON.stringify(folder)} holds no manifests of the output`),
        );
      }
      for (const d of files) {
        const o = objectOf(d.doc);
        if (o) objects.set(o.key, o.label);
      }
    }
    synced.set(app, objects);
  }
  apps.forEach((app, i) => {
    for (const earlier of apps.slice(0, i)) {
      if (earlier.destination !== app.destination) continue;
      if (!earlier.automated || !app.automated) continue;
      const mine = synced.get(app) ?? new Map<string, string>();
      const shared = [...(synced.get(earlier) ?? new Map<string, string>()).entries()]
        .filter(([key]) => mine.has(key))
        .map(([, label]) => label);
      if (shared.length === 0) continue;
      const listed = shared.slice(0, 3).join(', ');
      const more = shared.length > 3 ? ` and ${shared.length - 3} more` : '';
      findings.push(
        finding(
          app.d,
          `syncs ${shared.length} of the objects Application ${JSON.stringify(earlier.name)} syncs to the same cluster (${listed}${more}); both sync automatically and would fight over them`,
        ),
      );
    }
  });
  return findings;
}
