/**
 * The command line of `npm run smoke`: arguments in, report lines out. Kept
 * apart from scripts/smoke.ts so the tests can check both without a process.
 */
import * as fs from 'fs';
import * as path from 'path';
import { PipIndexChoice } from './pip-access';
import { SmokeOptions, SmokeResult } from './pod-run';
import { readSecretArg, SecretSource } from './secrets';

export const USAGE = `usage: npm run smoke -- --variant <name> [options]
       npm run smoke -- --dir <folder> [options]

Runs the pod of dist/<name>/ (or of the manifests in <folder>) in local
sandboxes the way a kubelet would, and says whether it becomes ready.

  --variant NAME          a folder of dist/: hardened, root-debug
  --dir PATH              read the manifests from PATH instead of dist/<variant>
  --app NAME              the workload to run when there are several
  --pip-index host|none|URL
                          the index the pod's pip reaches: the host pip's
                          configuration (default), none (offline), or URL
  --secret NAME=FILE      a Secret the cluster holds but the manifests do not
                          (repeatable); FILE has KEY=VALUE lines, as read by
                          kubectl create secret generic NAME --from-env-file=FILE.
                          Without it a reference to NAME fails as in the
                          cluster (CreateContainerConfigError) unless optional
  --get PATH              once ready, GET PATH on the app's first port from
                          inside the pod (repeatable); a non-2xx answer fails
  --logs                  print the containers' output as it comes
  --tail N                log lines shown on failure (default 20)

Exit status: 0 ready, 1 not ready (the report says why), 2 cannot run.`;

export class UsageError extends Error {}

/** Parses the arguments; `root` is the repository (where dist/ is). */
export function parseArgs(argv: readonly string[], root: string): SmokeOptions {
  let variant: string | undefined;
  let dir: string | undefined;
  let app: string | undefined;
  let pipIndex: PipIndexChoice = { type: 'host' };
  let logs = false;
  let tail = 20;
  const secrets: SecretSource[] = [];
  const get: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s) : [arg];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--variant':
        variant = value();
        break;
      case '--dir':
        dir = value();
        break;
      case '--app':
        app = value();
        break;
      case '--pip-index': {
        const v = value();
        if (v === 'host' || v === 'none') pipIndex = { type: v };
        else if (/^(https?|file):\/\//.test(v)) pipIndex = { type: 'url', url: v };
        else
          throw new UsageError(`--pip-index: host, none or an http(s):// or file:// URL, not ${v}`);
        break;
      }
      case '--secret': {
        const v = value();
        let source: SecretSource;
        try {
          source = readSecretArg(v);
        } catch (error) {
          throw new UsageError(`--secret ${v}: ${(error as Error).message}`);
        }
        if (secrets.some((s) => s.name === source.name)) {
          throw new UsageError(`--secret ${source.name}: given twice`);
        }
        secrets.push(source);
        break;
      }
      case '--get': {
        const v = value();
        if (!/^\/[\x21-\x7e]*$/.test(v)) {
          throw new UsageError(`--get: an HTTP path starting with "/", not ${v}`);
        }
        get.push(v);
        break;
      }
      case '--logs':
        logs = true;
        break;
      case '--tail': {
        const v = value();
        if (!/^\d+$/.test(v)) throw new UsageError(`--tail: a number of lines, not ${v}`);
        tail = Number(v);
        break;
      }
      case '-h':
      case '--help':
        throw new UsageError(USAGE);
      default:
        throw new UsageError(`unknown argument ${arg}\n${USAGE}`);
    }
  }
  if (dir === undefined) {
    if (variant === undefined) throw new UsageError(`--variant or --dir is needed\n${USAGE}`);
    const dist = path.join(root, 'dist');
    const variants = fs.existsSync(dist)
      ? fs.readdirSync(dist).filter((d) => fs.statSync(path.join(dist, d)).isDirectory())
      : [];
    if (!variants.includes(variant)) {
      throw new UsageError(
        `--variant ${variant}: no dist/${variant}/ (have: ${variants.join(', ') || 'nothing; run npm run synth'})`,
      );
    }
    dir = path.join(dist, variant);
  }
  return { dir: path.resolve(dir), app, pipIndex, logs, tail, secrets, get };
}

/** The closing lines: READY, or what failed and what a kubelet would show. */
export function formatResult(result: SmokeResult): string[] {
  if (result.ready) return [];
  const lines = [
    `NOT READY after ${result.seconds.toFixed(1)} s${result.container ? `: container ${result.container}` : ''}${result.exitCode !== undefined ? `, exit code ${result.exitCode}` : ''}`,
    `pod status: ${result.podStatus}`,
    `reason: ${result.reason}`,
  ];
  if (result.logTail.length > 0) {
    lines.push(`last ${result.logTail.length} log line(s) of ${result.container}:`);
    lines.push(...result.logTail.map((line) => `  | ${line}`));
  } else if (
    result.container !== undefined &&
    result.podStatus.endsWith('CreateContainerConfigError')
  ) {
    lines.push(`(container ${result.container} never ran: no log)`);
  }
  return lines;
}
