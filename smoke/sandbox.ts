/**
 * The bubblewrap command line of one container. The root filesystem is a
 * fresh tmpfs (the image's writable layer) holding the host's /usr and /etc
 * read-only and the image's own /usr/local; volumes go on top; then it is
 * made read-only when readOnlyRootFilesystem says so. The uid switch is done
 * by setpriv inside the sandbox, as the runtime does it: a real uid, not a
 * user-namespace mapping, so root-owned files stay root-owned.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ProcessIdentity } from './kubelet';
import { ManifestError } from './read';

export interface SandboxMount {
  readonly hostPath: string;
  readonly mountPath: string;
  readonly readOnly: boolean;
}

export interface SandboxSpec {
  /** The pod's hostname (the pod name). */
  readonly hostname: string;
  readonly identity: ProcessIdentity;
  /** Host folder bound at /usr/local: the image's Python. */
  readonly usrLocal: string;
  /** Files the kubelet manages in /etc: hosts, hostname, resolv.conf. */
  readonly etcFiles: Readonly<Record<string, string>>;
  /** Volumes and the pip mirrors, in order. */
  readonly mounts: readonly SandboxMount[];
  /** An empty file and an empty folder, bound over the host's pip configuration. */
  readonly emptyFile: string;
  readonly env: ReadonlyMap<string, string>;
  readonly workingDir: string;
  readonly argv: readonly string[];
}

/**
 * Host files an image would not have, hidden behind an empty file or folder:
 * the host pip's configuration (the pod gets only PIP_* variables) and the
 * host's secrets (a root container, as in root-debug, could read them).
 */
const HIDDEN_HOST_FILES = [
  '/etc/pip.conf',
  '/etc/shadow',
  '/etc/shadow-',
  '/etc/gshadow',
  '/etc/gshadow-',
  '/etc/sudoers',
];
const HIDDEN_HOST_DIRS = ['/etc/xdg/pip', '/etc/sudoers.d', '/etc/ssh', '/etc/ssl/private'];

/** The image's top-level folders a container finds in its root filesystem. */
const ROOT_DIRS: readonly (readonly [string, number])[] = [
  ['/home', 0o755],
  ['/mnt', 0o755],
  ['/media', 0o755],
  ['/opt', 0o755],
  ['/root', 0o700],
  ['/run', 0o755],
  ['/srv', 0o755],
  ['/tmp', 0o1777],
  ['/var', 0o755],
  ['/var/tmp', 0o1777],
];

function mode(value: number): string {
  return value.toString(8).padStart(4, '0');
}

/** Paths that are host bind mounts in the sandbox: nothing can be created under them. */
const HOST_TREES = ['/usr', '/etc'];

function under(p: string, root: string): boolean {
  return p === root || p.startsWith(`${root}/`);
}

/** The bwrap arguments (without `bwrap` itself) that run `spec.argv` as the container. */
export function bwrapArgs(spec: SandboxSpec): string[] {
  const args: string[] = [
    '--die-with-parent',
    '--new-session',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--hostname',
    spec.hostname,
    '--tmpfs',
    '/',
    '--ro-bind',
    '/usr',
    '/usr',
  ];
  // usrmerged hosts have /bin -> usr/bin; older ones real folders.
  for (const name of ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']) {
    const host = `/${name}`;
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(host);
    } catch {
      continue;
    }
    if (stat.isSymbolicLink()) args.push('--symlink', fs.readlinkSync(host), host);
    else if (stat.isDirectory()) args.push('--ro-bind', host, host);
  }
  args.push('--ro-bind', '/etc', '/etc');
  for (const file of HIDDEN_HOST_FILES) {
    if (fs.lstatSync(file, { throwIfNoEntry: false })?.isFile()) {
      args.push('--ro-bind', spec.emptyFile, file);
    }
  }
  for (const dir of HIDDEN_HOST_DIRS) {
    if (fs.lstatSync(dir, { throwIfNoEntry: false })?.isDirectory()) args.push('--tmpfs', dir);
  }
  for (const [file, hostFile] of Object.entries(spec.etcFiles)) {
    // A symlinked /etc/resolv.conf (systemd-resolved) points into /run, which the
    // sandbox does not have: bwrap could not bind over it.
    const stat = fs.lstatSync(file, { throwIfNoEntry: false });
    if (stat?.isFile()) args.push('--ro-bind', hostFile, file);
  }
  args.push(
    spec.identity.readOnlyRootFilesystem ? '--ro-bind' : '--bind',
    spec.usrLocal,
    '/usr/local',
  );
  for (const [dir, perms] of ROOT_DIRS) args.push('--perms', mode(perms), '--dir', dir);
  args.push('--dev', '/dev', '--perms', '1777', '--tmpfs', '/dev/shm', '--proc', '/proc');

  // Mount points missing from the image are created by the runtime, 0755.
  const created = new Set(['/', ...ROOT_DIRS.map(([dir]) => dir), '/dev', '/proc', '/usr/local']);
  const ensureDir = (dir: string) => {
    const parts = dir.split('/').filter((p) => p !== '');
    let current = '';
    for (const part of parts) {
      current += `/${part}`;
      if (created.has(current)) continue;
      if (HOST_TREES.some((t) => under(current, t))) return;
      args.push('--perms', '0755', '--dir', current);
      created.add(current);
    }
  };
  const mounts = [...spec.mounts].sort(
    (a, b) => a.mountPath.split('/').length - b.mountPath.split('/').length,
  );
  for (const mount of mounts) {
    const tree = HOST_TREES.find((t) => under(mount.mountPath, t));
    if (tree !== undefined) {
      // Those trees are the host's, read-only: a mount point can only be one the host has.
      if (under(mount.mountPath, '/usr/local') || !fs.existsSync(mount.mountPath)) {
        throw new ManifestError(
          `mountPath ${mount.mountPath}: a mount point the host lacks under ${tree} is not emulated`,
        );
      }
    } else {
      ensureDir(path.dirname(mount.mountPath));
    }
    created.add(mount.mountPath);
    args.push(mount.readOnly ? '--ro-bind' : '--bind', mount.hostPath, mount.mountPath);
  }
  // The runtime creates a missing working directory before it starts the process.
  if (!mounts.some((m) => under(spec.workingDir, m.mountPath))) ensureDir(spec.workingDir);
  if (spec.identity.readOnlyRootFilesystem) args.push('--remount-ro', '/');

  args.push('--clearenv');
  for (const [name, value] of spec.env) args.push('--setenv', name, value);
  args.push('--chdir', spec.workingDir);

  const id = spec.identity;
  const caps = id.capabilities.includes('all')
    ? '+all'
    : ['-all', ...id.capabilities.map((c) => `+${c}`)].join(',');
  args.push(
    '--',
    '/usr/bin/setpriv',
    `--reuid=${id.uid}`,
    `--regid=${id.gid}`,
    ...(id.groups.length > 0 ? [`--groups=${id.groups.join(',')}`] : ['--clear-groups']),
    `--bounding-set=${caps}`,
    '--inh-caps=-all',
    ...(id.noNewPrivs ? ['--no-new-privs'] : []),
    '--',
    ...spec.argv,
  );
  return args;
}
