import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { IConstruct } from 'constructs';
import { InvalidPropError } from './errors';

/** The API server's limit on a ConfigMap's data (etcd's object size). */
export const CONFIGMAP_MAX_BYTES = 1024 * 1024;
/** Client-side `kubectl apply` copies the object into an annotation limited to this. */
export const LAST_APPLIED_MAX_BYTES = 262144;

/** What a ConfigMap key may hold; a path segment must fit it too. */
const KEY_CHARS = /^[-._a-zA-Z0-9]+$/;
const KEY_MAX_LENGTH = 253;
/** Bytecode caches are build artefacts of running the code locally, never source. */
const IGNORED_DIRS = new Set(['__pycache__']);

/** One shipped file: its ConfigMap key and where the volume puts it. */
export interface SourceFile {
  readonly key: string;
  /** Relative to the code root, with `/` between folders. */
  readonly path: string;
}

export interface SourceFiles {
  /** UTF-8 files, by ConfigMap key. */
  readonly data: Record<string, string>;
  /** Other files, base64-encoded. */
  readonly binaryData: Record<string, string>;
  /** Every file, sorted by path: the volume's `items`. */
  readonly files: readonly SourceFile[];
  /** Every key, sorted. */
  readonly keys: readonly string[];
  /** Every relative path, sorted. */
  readonly paths: readonly string[];
  /** The first path segments (files and folders at the code root), sorted. */
  readonly topLevel: readonly string[];
  readonly totalBytes: number;
  /** sha256 over paths and contents: changes when any file changes or moves. */
  readonly hash: string;
}

/**
 * The ConfigMap key of a relative path: its folders joined by `.`, as Python
 * names the module (`routers/health.py` is `routers.health.py`). The
 * volume's `items` map each key back to its path, so the name only has to be
 * unique; readSourceFiles rejects the rare tree where two paths meet.
 */
export function configMapKey(relativePath: string): string {
  return relativePath.split('/').join('.');
}

/**
 * Reads every regular file under `dir`, at any depth, for a ConfigMap.
 * Skipped: `__pycache__` folders, `*.pyc` files and names starting with a
 * dot (`.git`, `.venv`, `.env`: never source, sometimes secrets). Symlinks
 * and names a ConfigMap key cannot carry are errors naming the file: the tree
 * the pod sees must be the tree on disk.
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
  const bad = (why: string) => new InvalidPropError(scope, prop, dir, why);

  const data: Record<string, string> = {};
  const binaryData: Record<string, string> = {};
  const digest = createHash('sha256');
  const files: SourceFile[] = [];
  const byKey = new Map<string, string>();
  let totalBytes = 0;

  for (const relative of walk(dir, '', bad).sort(byCodePoint)) {
    const key = configMapKey(relative);
    if (key.length > KEY_MAX_LENGTH) {
      throw bad(
        `paths of at most ${KEY_MAX_LENGTH} characters (a ConfigMap key's limit): "${relative}" is ${key.length}`,
      );
    }
    const other = byKey.get(key);
    if (other !== undefined) {
      throw bad(
        `paths with distinct ConfigMap keys: "${other}" and "${relative}" both become "${key}" (rename one)`,
      );
    }
    byKey.set(key, relative);
    const content = fs.readFileSync(path.join(dir, relative));
    totalBytes += content.length;
    digest.update(`${relative}\0${content.length}\0`).update(content);
    const text = content.toString('utf8');
    if (Buffer.from(text, 'utf8').equals(content)) {
      data[key] = text;
    } else {
      binaryData[key] = content.toString('base64');
    }
    files.push({ key, path: relative });
  }

  if (files.length === 0) {
    throw bad('a folder with at least one regular file');
  }
  if (totalBytes > CONFIGMAP_MAX_BYTES) {
    throw bad(
      `at most ${CONFIGMAP_MAX_BYTES} bytes of files in total (a ConfigMap's limit); these are ${totalBytes} bytes`,
    );
  }
  const paths = files.map((f) => f.path);
  return {
    data,
    binaryData,
    files,
    keys: [...byKey.keys()].sort(),
    paths,
    topLevel: [...new Set(paths.map((p) => p.split('/')[0]))].sort(),
    totalBytes,
    hash: digest.digest('hex'),
  };
}

/** Code-point order, not the locale's: the same tree gives the same output everywhere. */
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Relative paths of the files to ship under `dir/prefix`. */
function walk(dir: string, prefix: string, bad: (why: string) => Error): string[] {
  const result: string[] = [];
  for (const name of fs.readdirSync(path.join(dir, prefix)).sort(byCodePoint)) {
    const relative = prefix === '' ? name : `${prefix}/${name}`;
    if (name.startsWith('.')) continue;
    const entry = fs.lstatSync(path.join(dir, relative));
    if (entry.isDirectory() && IGNORED_DIRS.has(name)) continue;
    if (entry.isFile() && name.endsWith('.pyc')) continue;
    if (!KEY_CHARS.test(name)) {
      throw bad(
        `file and folder names of letters, digits, "-", "_" and "." (what a ConfigMap key can carry): "${relative}" is not`,
      );
    }
    if (entry.isSymbolicLink()) {
      throw bad(`only regular files: "${relative}" is a symlink (copy the file instead)`);
    }
    if (entry.isDirectory()) {
      result.push(...walk(dir, relative, bad));
    } else if (entry.isFile()) {
      result.push(relative);
    } else {
      throw bad(`only regular files and folders: "${relative}" is neither`);
    }
  }
  return result;
}
