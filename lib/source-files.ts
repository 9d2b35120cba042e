import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { IConstruct } from 'constructs';
import { InvalidPropError } from './errors';

/** The API server's limit on a ConfigMap's data (etcd's object size). */
export const CONFIGMAP_MAX_BYTES = 1024 * 1024;
/** Client-side `kubectl apply` copies the object into an annotation limited to this. */
export const LAST_APPLIED_MAX_BYTES = 262144;

const CONFIGMAP_KEY = /^[-._a-zA-Z0-9]+$/;
/** Bytecode caches are build artefacts of running the code locally, never source. */
const IGNORED_DIRS = new Set(['__pycache__']);

export interface SourceFiles {
  /** UTF-8 files, by ConfigMap key (the file name). */
  readonly data: Record<string, string>;
  /** Other files, base64-encoded. */
  readonly binaryData: Record<string, string>;
  /** Every key, sorted. */
  readonly keys: readonly string[];
  readonly totalBytes: number;
  /** sha256 over names and contents: changes whenever any file changes. */
  readonly hash: string;
}

/**
 * Reads the regular files of a flat source folder for a ConfigMap. Sub-folders
 * and symlinks are rejected rather than flattened: a ConfigMap volume is flat,
 * and silently renaming `pkg/util.py` would break the imports that use it.
 */
export function readSourceFiles(scope: IConstruct, prop: string, dir: string): SourceFiles {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new InvalidPropError(
      scope,
      prop,
      dir,
      'an existing folder of source files (relative to the current directory)',
    );
  }
  if (!stat.isDirectory()) {
    throw new InvalidPropError(scope, prop, dir, 'a folder, not a file');
  }

  const data: Record<string, string> = {};
  const binaryData: Record<string, string> = {};
  const digest = createHash('sha256');
  let totalBytes = 0;
  const names = fs.readdirSync(dir).sort();
  const keys: string[] = [];

  for (const name of names) {
    const file = path.join(dir, name);
    const entry = fs.lstatSync(file);
    if (entry.isDirectory() && IGNORED_DIRS.has(name)) continue;
    if (entry.isSymbolicLink()) {
      throw new InvalidPropError(
        scope,
        prop,
        dir,
        `only regular files: "${name}" is a symlink (copy the file instead)`,
      );
    }
    if (entry.isDirectory()) {
      throw new InvalidPropError(
        scope,
        prop,
        dir,
        `a flat folder: "${name}" is a sub-folder, and a ConfigMap volume cannot hold one`,
      );
    }
    if (!entry.isFile()) {
      throw new InvalidPropError(scope, prop, dir, `only regular files: "${name}" is not one`);
    }
    if (
      !CONFIGMAP_KEY.test(name) ||
      name.length > 253 ||
      name === '.' ||
      name === '..' ||
      name.startsWith('..')
    ) {
      throw new InvalidPropError(
        scope,
        prop,
        dir,
        `file names that are valid ConfigMap keys (letters, digits, "-", "_", ".", at most 253 characters, not starting with ".."): "${name}" is not`,
      );
    }
    const content = fs.readFileSync(file);
    totalBytes += content.length;
    digest.update(`${name}\0${content.length}\0`).update(content);
    const text = content.toString('utf8');
    if (Buffer.from(text, 'utf8').equals(content)) {
      data[name] = text;
    } else {
      binaryData[name] = content.toString('base64');
    }
    keys.push(name);
  }

  if (keys.length === 0) {
    throw new InvalidPropError(scope, prop, dir, 'a folder with at least one regular file');
  }
  if (totalBytes > CONFIGMAP_MAX_BYTES) {
    throw new InvalidPropError(
      scope,
      prop,
      dir,
      `at most ${CONFIGMAP_MAX_BYTES} bytes of files in total (a ConfigMap's limit); these are ${totalBytes} bytes`,
    );
  }
  return { data, binaryData, keys, totalBytes, hash: digest.digest('hex') };
}
