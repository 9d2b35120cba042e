/**
 * The "image": this machine's Debian Python 3.11 dressed as python:3.11-slim
 * (itself Debian with a Python 3.11 in /usr/local). Only what a container
 * sees of an image is emulated: its /usr/local/bin, its user, its
 * environment, its ENTRYPOINT/CMD.
 */
import * as fs from 'fs';
import * as path from 'path';

/** Debian's interpreter; `python3` on PATH may be a pyenv or venv one. */
export const HOST_PYTHON = '/usr/bin/python3';

export interface ImageConfig {
  /** The image reference in the YAML. */
  readonly reference: string;
  /** Whether the reference is a python:3.11 image, which this emulation stands for. */
  readonly matches: boolean;
  /** The image's USER: python:3.11-slim has none, so root. */
  readonly user: { readonly uid: number; readonly gid: number };
  readonly env: readonly (readonly [string, string])[];
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  /** The primary group of a uid in the image's /etc/passwd (0 when unknown). */
  groupOf(uid: number): number;
  /** HOME as runc sets it when the pod does not: from /etc/passwd, else "/". */
  homeOf(uid: number): string;
}

const PYTHON_311 =
  /^(?:(?:docker\.io\/)?(?:library\/)?)python:3\.11(?:\.\d+)?(?:-[a-z0-9.-]+)?(?:@sha256:[a-f0-9]{64})?$/;

/** python:3.11-slim's image config, with the version of the Python that stands in for it. */
export function pythonImage(reference: string, pythonVersion: string): ImageConfig {
  return {
    reference,
    matches: PYTHON_311.test(reference),
    user: { uid: 0, gid: 0 },
    env: [
      ['PATH', '/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin'],
      ['LANG', 'C.UTF-8'],
      ['PYTHON_VERSION', pythonVersion],
      // python:3.11-slim's Python has no EXTERNALLY-MANAGED marker (PEP 668),
      // Debian's has: without this a root `pip install` that works in the
      // image would be refused here.
      ['PIP_BREAK_SYSTEM_PACKAGES', '1'],
    ],
    entrypoint: [],
    cmd: ['python3'],
    groupOf: () => 0,
    homeOf: (uid) => (uid === 0 ? '/root' : '/'),
  };
}

/**
 * Writes the image's /usr/local: `python`, `python3`, `python3.11` point at
 * Debian's interpreter and `pip*` run its pip, as in python:3.11-slim where
 * they live in /usr/local/bin ahead of everything else on PATH.
 */
export function writeUsrLocal(dir: string): void {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin, { recursive: true, mode: 0o755 });
  fs.mkdirSync(path.join(dir, 'sbin'), { mode: 0o755 });
  fs.mkdirSync(path.join(dir, 'lib'), { mode: 0o755 });
  const interpreter = fs.realpathSync(HOST_PYTHON);
  for (const name of ['python', 'python3', 'python3.11']) {
    fs.symlinkSync(interpreter, path.join(bin, name));
  }
  for (const name of ['pip', 'pip3', 'pip3.11']) {
    fs.writeFileSync(path.join(bin, name), '#!/bin/sh\nexec /usr/local/bin/python -m pip "$@"\n', {
      mode: 0o755,
    });
  }
}
