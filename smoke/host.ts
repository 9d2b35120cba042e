/**
 * What the smoke run needs from this machine, checked before anything runs
 * so that a missing tool is one clear line, not a sandbox error.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { HOST_PYTHON } from './image';

/** The machine cannot run the smoke test (a tool is missing, not root). */
export class HostError extends Error {}

export interface HostTools {
  readonly bwrap: string;
  readonly nsenter: string;
  /** iproute2's `ip`: optional, gives the pod its own IP. */
  readonly ip?: string;
  /** The version of Debian's Python that stands in for the image's. */
  readonly pythonVersion: string;
}

/** Finds an executable on PATH or in the sbin folders (root's tools live there). */
export function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs.filter((d) => d !== '')) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Whether bubblewrap is installed: the tests skip (or fail under REQUIRE_SMOKE) without it. */
export function hasBubblewrap(): boolean {
  return which('bwrap') !== undefined;
}

export function checkHost(): HostTools {
  const problems: string[] = [];
  if (process.platform !== 'linux') problems.push('the smoke run needs Linux namespaces');
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    problems.push(
      'it must run as root: containers get their real uids (setpriv), as the runtime gives them, and the pod its network namespace (nsenter); run it as root or with sudo',
    );
  }
  const bwrap = which('bwrap');
  if (bwrap === undefined) problems.push('bubblewrap is missing: apt-get install -y bubblewrap');
  const nsenter = which('nsenter');
  if (nsenter === undefined) problems.push('nsenter is missing: apt-get install -y util-linux');
  // setpriv runs inside the sandbox, which sees only the host's /usr.
  if (!fs.existsSync('/usr/bin/setpriv')) {
    problems.push('/usr/bin/setpriv is missing: apt-get install -y util-linux');
  }
  let pythonVersion = '';
  if (!fs.existsSync(HOST_PYTHON)) {
    problems.push(`${HOST_PYTHON} is missing: apt-get install -y python3 python3-pip`);
  } else {
    // One interpreter start for both: the version, then whether Debian's pip
    // imports (`-m pip --version` loads pip's whole command line, 0.3 s of
    // CPU per smoke run, for the same answer).
    const probe = spawnSync(
      HOST_PYTHON,
      ['-c', 'import sys; print(sys.version.split()[0], flush=True); import pip'],
      { encoding: 'utf8' },
    );
    pythonVersion = probe.stdout.trim();
    if (probe.status !== 0) {
      problems.push(
        `Debian's pip is missing (${HOST_PYTHON} -m pip): apt-get install -y python3-pip`,
      );
    }
  }
  if (problems.length > 0) {
    throw new HostError(`this machine cannot run the pod:\n  - ${problems.join('\n  - ')}`);
  }
  return { bwrap: bwrap!, nsenter: nsenter!, ip: which('ip'), pythonVersion };
}
