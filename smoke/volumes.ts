/**
 * The pod's volumes as host folders, laid out the way the kubelet lays them
 * out, so that a script that works here works on the node: ConfigMap keys
 * are symlinks into `..data/`, emptyDirs are world-writable, fsGroup owns
 * both.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ManifestSet, Workload } from './manifest';
import { DataVolumeSource, PodSpec, VolumeSpec } from './pod-spec';
import { ManifestError } from './read';

/** The kubelet cannot set a volume up: the pod stays in ContainerCreating. */
export class MountError extends Error {}

export interface PreparedVolume {
  readonly name: string;
  readonly hostPath: string;
  /** ConfigMap and Secret volumes are mounted read-only whatever the mount says. */
  readonly alwaysReadOnly: boolean;
  /** One line for the progress output. */
  readonly description: string;
}

/** Creates every volume of the pod under `root`; throws MountError like the kubelet's FailedMount. */
export function prepareVolumes(
  workload: Workload,
  manifests: ManifestSet,
  root: string,
  now: Date = new Date(),
): Map<string, PreparedVolume> {
  const pod = workload.pod;
  const result = new Map<string, PreparedVolume>();
  for (const volume of pod.volumes) {
    const hostPath = path.join(root, volume.name);
    fs.mkdirSync(hostPath, { recursive: true });
    result.set(volume.name, prepareVolume(volume, hostPath, workload, manifests, pod, now));
  }
  return result;
}

function prepareVolume(
  volume: VolumeSpec,
  hostPath: string,
  workload: Workload,
  manifests: ManifestSet,
  pod: PodSpec,
  now: Date,
): PreparedVolume {
  const fsGroup = pod.securityContext.fsGroup;
  const source = volume.source;
  const failed = (why: string) =>
    new MountError(`MountVolume.SetUp failed for volume "${volume.name}" : ${why}`);
  switch (source.type) {
    case 'emptyDir': {
      // The kubelet makes an emptyDir world-writable; fsGroup then owns it with setgid.
      fs.chmodSync(hostPath, 0o777);
      if (fsGroup !== undefined) applyFsGroup(hostPath, fsGroup, false);
      const size = source.sizeLimit ? `, sizeLimit ${source.sizeLimit} not enforced` : '';
      return {
        name: volume.name,
        hostPath,
        alwaysReadOnly: false,
        description: `${volume.name}: emptyDir${source.medium ? ` (${source.medium})` : ''}${size}`,
      };
    }
    case 'configMap':
    case 'secret': {
      const store = source.type === 'configMap' ? manifests.configMaps : manifests.secrets;
      const data = store.get(`${workload.namespace}/${source.objectName}`);
      if (data === undefined && !source.optional) {
        const label = source.type === 'configMap' ? 'configmap' : 'secret';
        throw failed(`${label} "${source.objectName}" not found`);
      }
      const files = dataFiles(source, data ?? new Map(), failed);
      writeAtomicLayout(hostPath, files, now);
      if (fsGroup !== undefined) applyFsGroup(hostPath, fsGroup, true);
      return {
        name: volume.name,
        hostPath,
        alwaysReadOnly: true,
        description: `${volume.name}: ${source.type} ${source.objectName} (${files.length} key(s), mode ${source.defaultMode.toString(8).padStart(4, '0')})`,
      };
    }
    default:
      // Not a pod failure: the smoke run cannot say what the kubelet would do.
      throw new ManifestError(
        `volume ${volume.name}: type ${source.kind} is not emulated by the smoke run`,
      );
  }
}

interface DataFile {
  readonly path: string;
  readonly content: Buffer;
  readonly mode: number;
}

function dataFiles(
  source: DataVolumeSource,
  data: ReadonlyMap<string, Buffer>,
  failed: (why: string) => MountError,
): DataFile[] {
  if (source.items === undefined) {
    return [...data].map(([key, content]) => ({ path: key, content, mode: source.defaultMode }));
  }
  return source.items.flatMap((item) => {
    const content = data.get(item.key);
    if (content === undefined) {
      if (source.optional) return [];
      throw failed(`${source.type.toLowerCase()} references non-existent config key: ${item.key}`);
    }
    if (item.path.startsWith('/') || item.path.split('/').includes('..')) {
      throw failed(`invalid path ${item.path}`);
    }
    return [{ path: item.path, content, mode: item.mode ?? source.defaultMode }];
  });
}

/**
 * The kubelet's AtomicWriter layout: the files in a timestamped folder,
 * `..data` pointing at it, and one symlink per top-level entry through
 * `..data`, so an update can swap all keys at once.
 */
export function writeAtomicLayout(dir: string, files: readonly DataFile[], now: Date): void {
  fs.chmodSync(dir, 0o777);
  const stamp = now
    .toISOString()
    .replace(/\.\d+Z$/, '')
    .replace(/[-T:]/g, '_');
  const random = String(Math.floor(Math.random() * 1e9)).padStart(9, '0');
  const tsName = `..${stamp}.${random}`;
  const tsDir = path.join(dir, tsName);
  fs.mkdirSync(tsDir, { mode: 0o755 });
  const topLevel = new Set<string>();
  for (const file of files) {
    const target = path.join(tsDir, file.path);
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
    fs.writeFileSync(target, file.content);
    fs.chmodSync(target, file.mode);
    topLevel.add(file.path.split('/')[0]);
  }
  fs.symlinkSync(tsName, path.join(dir, '..data'));
  for (const entry of [...topLevel].sort()) {
    fs.symlinkSync(`..data/${entry}`, path.join(dir, entry));
  }
}

/**
 * SetVolumeOwnership: every entry gets the fsGroup, folders the setgid bit,
 * files group read (and write where the volume is writable).
 */
function applyFsGroup(dir: string, gid: number, readOnly: boolean): void {
  const walk = (entry: string) => {
    const stat = fs.lstatSync(entry);
    fs.lchownSync(entry, stat.uid, gid);
    if (stat.isSymbolicLink()) return;
    if (stat.isDirectory()) {
      fs.chmodSync(entry, (stat.mode & 0o7777) | 0o2000 | 0o050);
      for (const child of fs.readdirSync(entry)) walk(path.join(entry, child));
    } else {
      fs.chmodSync(entry, (stat.mode & 0o7777) | (readOnly ? 0o040 : 0o060));
    }
  };
  walk(dir);
}
