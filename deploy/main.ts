/**
 * `npm run deploy`: the three commands (deploy a variant, --history,
 * --rollback) around the release pipeline of ./install. Exit status: 0
 * deployed and healthy (or a clean dry run, or history printed); 1 applied
 * but failed (rolled back unless --no-rollback); 2 nothing was changed.
 */
import * as fs from 'fs';
import * as path from 'path';
import { USAGE, UsageError, parseOptions, type Options } from './cli';
import { install } from './install';
import { DEFAULT_TIMING, Stop, unchanged, type Session, type Timing } from './session';
import { Kube, KubeConfigError, describeFailure, formatFailure, loadKubeConfig } from './kube';
import {
  FolderError,
  findBackend,
  namespacesOf,
  readFolder,
  shownPath,
  type K8sObject,
} from './manifests';
import { Reporter, plural, type Clock, type Sink } from './output';
import { PreflightError, checkArgoCd, liveVariant, serverVersion } from './preflight';
import { ReleaseStore, current, formatRelease, gitCommit, type Release } from './release';
import { parseYaml, yamlFiles } from '../validation';

export interface DeployContext {
  argv: readonly string[];
  /** KUBECONFIG and HOME are read from here. */
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The repository root: dist/<variant> is below it. */
  root: string;
  out: Sink;
  clock?: Clock;
  /** Aborted on Ctrl-C: the wait stops and the release is recorded as failed. */
  signal?: AbortSignal;
  timing?: Partial<Timing>;
}

function shown(ctx: DeployContext, dir: string): string {
  return shownPath(ctx.cwd, dir);
}

async function connect(
  ctx: DeployContext,
  options: Options,
  report: Reporter,
  timing: Timing,
): Promise<Kube> {
  let kube: Kube;
  try {
    kube = new Kube(loadKubeConfig(ctx.env, options.context), timing.requestTimeoutMs);
  } catch (error) {
    if (error instanceof KubeConfigError) throw unchanged(error.message);
    throw error;
  }
  try {
    const version = await serverVersion(kube);
    report.step(`cluster: ${version} at ${kube.server} (context ${kube.context})`);
  } catch (error) {
    if (error instanceof PreflightError) throw unchanged(error.message);
    throw error;
  }
  return kube;
}

async function readHistory(releases: ReleaseStore): Promise<Release[]> {
  try {
    return await releases.list();
  } catch (error) {
    throw unchanged(
      `cannot read the release history in namespace ${releases.namespace}: ${formatFailure(describeFailure(error))}`,
    );
  }
}

/** A pending release whose deadline passed was interrupted; one still running blocks. */
async function settlePending(releases: ReleaseStore, history: Release[]): Promise<void> {
  const latest = history[0];
  if (latest?.status !== 'pending') return;
  if (latest.deadline && Date.parse(latest.deadline) > Date.now()) {
    throw unchanged(
      `revision ${latest.revision} (${latest.variant}) is being deployed since ${latest.started} (another npm run deploy?); it times out at ${latest.deadline}`,
    );
  }
  latest.status = 'failed';
  latest.description = `${latest.description}: interrupted`;
  await releases.update(latest);
}

async function preflight(
  ctx: DeployContext,
  options: Options,
  report: Reporter,
  timing: Timing,
  objects: readonly K8sObject[],
  namespace: string,
  variant: string,
): Promise<Session> {
  const kube = await connect(ctx, options, report, timing);
  const releases = new ReleaseStore(kube, namespace);
  const history = await readHistory(releases);
  await settlePending(releases, history);
  const backend = findBackend(objects);
  if (backend) {
    const live = await liveVariant(kube, backend).catch((error: Error) => {
      throw unchanged(error.message);
    });
    const where = `Deployment ${backend.namespace}/${backend.name}`;
    if (live === undefined) report.step(`live: ${where} does not exist yet`);
    else if (live === null)
      report.step(`live: ${where} exists without a variant annotation; it becomes ${variant}`);
    else if (live === variant) report.step(`live: ${where} runs ${live}; it stays ${variant}`);
    else report.step(`live: ${where} runs ${live}; this switches it from ${live} to ${variant}`);
  }
  const last = current(history);
  report.step(
    last
      ? `release: revision ${last.revision} (${last.variant}) is the live release; ${plural(history.length, 'revision')} recorded in ${namespace}`
      : `release: none recorded in namespace ${namespace} yet`,
  );
  const session: Session = { kube, report, options, timing, signal: ctx.signal, releases, history };
  await argoCd(session, namespacesOf(objects).used);
  return session;
}

async function argoCd(s: Session, namespaces: readonly string[]): Promise<void> {
  const check = await checkArgoCd(s.kube, namespaces);
  if (!check.installed) {
    s.report.step('argo cd: the argoproj.io API is not served: no Application to pause');
    return;
  }
  if (check.error) {
    s.report.step(
      `argo cd: cannot list Applications (${check.error}); if one automates ${namespaces.join(', ')}, pause it first`,
    );
    return;
  }
  if (check.automated.length === 0) {
    s.report.step(`argo cd: no Application with automated sync manages ${namespaces.join(', ')}`);
    return;
  }
  const names = check.automated.map((a) => a.name).join(', ');
  const refusal = `Argo CD Application ${names} syncs ${namespaces.join(', ')} automatically and would revert this deploy`;
  s.report.step(`argo cd: ${refusal}`);
  s.report.detail(
    'pause its automation first, deploy, and resume it when Git holds what should run:',
  );
  for (const app of check.automated) s.report.detail(`  ${app.pause}`);
  for (const app of check.automated) s.report.detail(`  ${app.resume}   # afterwards`);
  if (s.options.ignoreArgoCd) s.report.detail('--ignore-argocd: deploying anyway');
  else if (s.options.dryRun) s.argoCdRefusal = `${refusal} (pause it, or --ignore-argocd)`;
  else
    throw unchanged(`${refusal}: pause it (${check.automated[0].pause}) or pass --ignore-argocd`);
}

async function runDeploy(
  ctx: DeployContext,
  options: Options,
  report: Reporter,
  timing: Timing,
): Promise<number> {
  const variant = options.variant as string;
  const dir = options.dir
    ? path.resolve(ctx.cwd, options.dir)
    : path.join(ctx.root, 'dist', variant);
  report.step(`deploy ${shown(ctx, dir)} (variant ${variant})`);
  let folder;
  try {
    folder = readFolder(dir, ctx.cwd);
  } catch (error) {
    if (error instanceof FolderError) throw unchanged(error.message);
    throw error;
  }
  if (folder.findings.length > 0) {
    report.step(`validate: ${plural(folder.findings.length, 'finding')} in ${shown(ctx, dir)}`);
    for (const f of folder.findings)
      report.detail(`${f.file}#${f.index} ${f.kind}/${f.name}: ${f.message}`);
    throw unchanged(`${shown(ctx, dir)} does not pass npm run validate's checks`);
  }
  const backend = findBackend(folder.objects);
  if (backend?.variant !== undefined && backend.variant !== variant) {
    throw unchanged(`${shown(ctx, dir)} holds the ${backend.variant} variant, not ${variant}`);
  }
  report.step(
    `validate: ${plural(folder.objects.length, 'object')} pass the schema, Pod Security and reference checks`,
  );
  const namespace =
    backend?.namespace ?? options.namespace ?? namespacesOf(folder.objects).used[0] ?? 'default';
  const commit = gitCommit(dir); // meanwhile
  const s = await preflight(ctx, options, report, timing, folder.objects, namespace, variant);
  return install(s, {
    objects: folder.objects,
    variant,
    source: shown(ctx, dir),
    commit: await commit,
    description: `deploy ${shown(ctx, dir)}`,
  });
}

/** The app's namespace: --namespace, else the backend's in the first dist/ folder that has one. */
function historyNamespace(ctx: DeployContext, options: Options): string {
  if (options.namespace) return options.namespace;
  const dist = path.join(ctx.root, 'dist');
  const folders = fs.existsSync(dist) ? fs.readdirSync(dist).sort() : [];
  for (const name of folders) {
    const dir = path.join(dist, name);
    if (!fs.statSync(dir).isDirectory()) continue;
    const objects = yamlFiles(dir).flatMap((file) =>
      parseYaml(file, fs.readFileSync(file, 'utf8')).docs.map((d) => d.doc as K8sObject),
    );
    const backend = findBackend(objects);
    if (backend) return backend.namespace;
  }
  throw unchanged('no backend Deployment in dist/ to take the namespace from: pass --namespace');
}

async function runHistory(
  ctx: DeployContext,
  options: Options,
  report: Reporter,
  timing: Timing,
): Promise<number> {
  const namespace = historyNamespace(ctx, options);
  const kube = await connect(ctx, options, report, timing);
  const history = await readHistory(new ReleaseStore(kube, namespace));
  if (history.length === 0) report.line(`no release recorded in namespace ${namespace}`);
  for (const release of history) report.line(formatRelease(release));
  return 0;
}

async function runRollback(
  ctx: DeployContext,
  options: Options,
  report: Reporter,
  timing: Timing,
): Promise<number> {
  const namespace = historyNamespace(ctx, options);
  report.step(`rollback in namespace ${namespace}`);
  const kube = await connect(ctx, options, report, timing);
  const history = await readHistory(new ReleaseStore(kube, namespace));
  const live = current(history);
  let target: Release | undefined;
  if (options.to !== undefined) {
    target = history.find((r) => r.revision === options.to);
    if (!target) {
      const kept = history.map((r) => r.revision).join(', ') || 'none';
      throw unchanged(
        `revision ${options.to} is not recorded in namespace ${namespace} (recorded: ${kept})`,
      );
    }
  } else {
    target = history.find(
      (r) =>
        r.revision < (live?.revision ?? Infinity) &&
        (r.status === 'superseded' || r.status === 'deployed'),
    );
    if (!target) throw unchanged(`no release to roll back to in namespace ${namespace}`);
  }
  report.step(
    `rollback: to revision ${target.revision} (${target.variant}, ${target.status}, from ${target.source}${target.commit ? ` at ${target.commit.slice(0, 12)}` : ''})`,
  );
  const s = await preflight(
    ctx,
    options,
    report,
    timing,
    target.objects,
    namespace,
    target.variant,
  );
  return install(s, {
    objects: target.objects,
    variant: target.variant,
    source: `revision ${target.revision}`,
    commit: target.commit,
    description: `rollback to revision ${target.revision}`,
  });
}

export async function main(ctx: DeployContext): Promise<number> {
  const report = new Reporter(ctx.out, ctx.clock);
  const timing = { ...DEFAULT_TIMING, ...ctx.timing };
  try {
    let options: Options;
    try {
      options = parseOptions(ctx.argv);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      for (const line of USAGE.split('\n')) report.line(line);
      throw unchanged(error.message);
    }
    if (options.mode === 'history') return await runHistory(ctx, options, report, timing);
    if (options.mode === 'rollback') return await runRollback(ctx, options, report, timing);
    return await runDeploy(ctx, options, report, timing);
  } catch (error) {
    if (error instanceof Stop) {
      report.line(error.final);
      return error.code;
    }
    // Past the preflight something may have been applied: say so with 1.
    report.line(`FAILED: ${formatFailure(describeFailure(error))}`);
    return 1;
  }
}
