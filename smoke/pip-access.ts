/**
 * How the pod's pip reaches a package index. In the cluster that is the
 * node's network; here the pod has its own empty network namespace, so this
 * is a deliberate deviation: the pod's pip is pointed (PIP_* variables, which
 * only pip reads) at the index the host's pip is configured with, local
 * mirrors are bind-mounted read-only at the same path, and remote indexes are
 * reached through a proxy on the host (PIP_PROXY).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { fileURLToPath } from 'url';

export type PipIndexChoice =
  | { readonly type: 'host' }
  | { readonly type: 'none' }
  | { readonly type: 'url'; readonly url: string };

/** The index settings of the host's pip (`pip config list`, environment included). */
export interface PipHostConfig {
  readonly indexUrl?: string;
  readonly extraIndexUrls: readonly string[];
  readonly findLinks: readonly string[];
  readonly noIndex: boolean;
  readonly trustedHosts: readonly string[];
  readonly cert?: string;
}

export interface PipAccess {
  /** PIP_* variables added to every container (PIP_PROXY comes once the proxy listens). */
  readonly env: ReadonlyMap<string, string>;
  /** Host folders bind-mounted read-only at the same path. */
  readonly binds: readonly string[];
  /** Whether a remote index is used, so the pod needs the proxy. */
  readonly proxy: boolean;
  /** Progress lines saying what was decided and why. */
  readonly notes: readonly string[];
}

export const PYPI = 'https://pypi.org/simple';

/** Parses `pip config list`: lines like `global.index-url='https://...'`. */
export function parsePipConfigList(output: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const line of output.split('\n')) {
    const match = /^([^=\s]+)=(['"])(.*)\2$/.exec(line.trim());
    if (match) result.set(match[1], match[3].replace(/\\(['"\\])/g, '$1'));
  }
  return result;
}

/** pip's precedence for the `install` command: environment, [install], then [global]. */
export function hostConfigFrom(settings: ReadonlyMap<string, string>): PipHostConfig {
  const get = (name: string) =>
    settings.get(`:env:.${name}`) ??
    settings.get(`install.${name}`) ??
    settings.get(`global.${name}`);
  const words = (name: string) => (get(name) ?? '').split(/\s+/).filter((w) => w !== '');
  const noIndex = get('no-index');
  return {
    indexUrl: get('index-url'),
    extraIndexUrls: words('extra-index-url'),
    findLinks: words('find-links'),
    noIndex: noIndex !== undefined && /^(1|true|yes|on)$/i.test(noIndex),
    trustedHosts: words('trusted-host'),
    cert: get('cert'),
  };
}

/** Reads the host pip's configuration with Debian's pip (the pod's pip). */
export function readHostPipConfig(python: string): PipHostConfig {
  const run = spawnSync(python, ['-m', 'pip', 'config', 'list'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (run.status !== 0) {
    throw new Error(`${python} -m pip config list failed: ${(run.stderr || run.stdout).trim()}`);
  }
  return hostConfigFrom(parsePipConfigList(run.stdout));
}

/** Whether an http(s) URL's host answers a TCP connection; the error if not. */
export function checkReachable(url: string, timeoutMs = 3000): Promise<string | undefined> {
  return new Promise((resolve) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      resolve('not a valid URL');
      return;
    }
    const port = Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80));
    const socket = net.connect({ host: parsed.hostname.replace(/^\[|\]$/g, ''), port });
    const done = (error: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(error);
    };
    const timer = setTimeout(() => done(`no answer in ${timeoutMs / 1000} s`), timeoutMs);
    socket.once('connect', () => done(undefined));
    socket.once('error', (error) => done(error.message));
  });
}

function isRemote(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

/** The host folder to bind for a local location; a `.../simple` index links to files beside it. */
function localFolder(location: string): string | undefined {
  let p: string;
  try {
    p = /^file:/i.test(location) ? fileURLToPath(location) : location;
  } catch {
    return undefined;
  }
  if (!path.isAbsolute(p)) return undefined;
  const trimmed = p.replace(/\/+$/, '');
  return path.basename(trimmed) === 'simple' ? path.dirname(trimmed) : trimmed;
}

/**
 * Decides the pod's pip settings. With `host`, an unreachable remote index is
 * left out (the host's pip would only get past it after minutes of retries)
 * and the first reachable mirror becomes the index; when nothing is left, the
 * unreachable index stays so that pip fails exactly like an offline pip.
 */
export async function resolvePipAccess(
  choice: PipIndexChoice,
  readHost: () => PipHostConfig,
  reachable: (url: string) => Promise<string | undefined> = checkReachable,
): Promise<PipAccess> {
  const env = new Map<string, string>();
  const notes: string[] = [];
  if (choice.type === 'none') {
    notes.push("pip: no index is reachable from the pod (like an offline cluster's pip)");
    return { env, binds: [], proxy: false, notes };
  }
  let index: string | undefined;
  let extras: string[] = [];
  let findLinks: string[] = [];
  let trusted: readonly string[] = [];
  let cert: string | undefined;
  if (choice.type === 'url') {
    index = choice.url;
  } else {
    const host = readHost();
    index = host.noIndex ? undefined : (host.indexUrl ?? PYPI);
    extras = [...host.extraIndexUrls];
    findLinks = [...host.findLinks];
    trusted = host.trustedHosts;
    cert = host.cert;
    const remote = [index, ...extras, ...findLinks].filter(
      (l): l is string => l !== undefined && isRemote(l),
    );
    const errors = new Map(
      await Promise.all(remote.map(async (l) => [l, await reachable(l)] as const)),
    );
    const unreachable = (l: string) => errors.get(l) !== undefined;
    for (const [location, error] of errors) {
      if (error !== undefined) {
        notes.push(`pip: ${location} is unreachable from this machine (${error})`);
      }
    }
    extras = extras.filter((l) => !unreachable(l));
    findLinks = findLinks.filter((l) => !unreachable(l));
    if (index !== undefined && unreachable(index)) {
      if (extras.length > 0) {
        notes.push(`pip: left out ${index}; the host's extra index ${extras[0]} becomes the index`);
        index = extras.shift();
      } else if (findLinks.length > 0) {
        notes.push(`pip: left out ${index}; only the host's find-links remain (--no-index)`);
        index = undefined;
      } else {
        notes.push(`pip: kept ${index}: nothing else is configured, so pip fails like offline`);
      }
    }
  }
  const binds = new Set<string>();
  const locations = [index, ...extras, ...findLinks].filter((l): l is string => l !== undefined);
  for (const location of locations.filter((l) => !isRemote(l))) {
    const folder = localFolder(location);
    if (folder !== undefined && fs.existsSync(folder)) binds.add(folder);
    else notes.push(`pip: ${location} does not exist on this machine`);
  }
  if (index !== undefined) env.set('PIP_INDEX_URL', index);
  else env.set('PIP_NO_INDEX', '1');
  if (extras.length > 0) env.set('PIP_EXTRA_INDEX_URL', extras.join(' '));
  if (findLinks.length > 0) env.set('PIP_FIND_LINKS', findLinks.join(' '));
  if (trusted.length > 0) env.set('PIP_TRUSTED_HOST', trusted.join(' '));
  if (cert !== undefined && fs.existsSync(cert)) {
    env.set('PIP_CERT', cert);
    if (!cert.startsWith('/etc/')) binds.add(cert);
  }
  const proxy = locations.some(isRemote);
  const summary = [
    index !== undefined ? `index ${index}` : 'no index',
    ...extras.map((l) => `extra index ${l}`),
    ...findLinks.map((l) => `find-links ${l}`),
  ].join(', ');
  notes.push(
    `pip: the pod's pip uses ${summary}${proxy ? ' (remote ones through a proxy on this machine)' : ''}`,
  );
  return { env, binds: [...binds], proxy, notes };
}
