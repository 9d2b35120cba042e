import * as path from 'path';
import { IConstruct } from 'constructs';
import { InvalidPropError, warn } from './errors';
import { parseRequirements, Requirement, RequirementsError } from './requirements-file';
import { shellQuote, ShellStep } from './shell';
import { SourceFiles } from './source-files';

/** The default requirements file, used when sourceDir has one. */
export const DEFAULT_REQUIREMENTS_FILE = 'requirements.txt';

/** What pip installs before the app starts. */
export type PipInstall =
  | { readonly kind: 'packages'; readonly packages: readonly string[] }
  | {
      readonly kind: 'requirements';
      /** Relative to the code root; shipped in the source ConfigMap. */
      readonly file: string;
      readonly requirements: readonly Requirement[];
      /** Every requirement carries hashes: pip runs with `--require-hashes`. */
      readonly requireHashes: boolean;
    };

export interface PipInstallProps {
  readonly sourceDir: string;
  readonly requirementsFile?: string;
  /** The validated `packages` prop, undefined when not set. */
  readonly packages?: readonly string[];
  /** Whether the pod is held to one CPU architecture (a gpuPool's node selector). */
  readonly singleArchitecture: boolean;
}

/**
 * Decides what pip installs: the requirements file (the one named, or
 * `requirements.txt` when sourceDir has it), else `packages`, else the
 * default `fastapi uvicorn`. Undefined when there is nothing to install.
 */
export function resolvePipInstall(
  scope: IConstruct,
  props: PipInstallProps,
  sources: SourceFiles,
): PipInstall | undefined {
  const explicit = props.requirementsFile;
  if (explicit !== undefined) {
    if (typeof explicit !== 'string' || !sources.paths.includes(explicit)) {
      throw new InvalidPropError(
        scope,
        'requirementsFile',
        explicit,
        `a file in sourceDir "${props.sourceDir}", as a path relative to it (shipped files: ${summarize(sources.paths)})`,
      );
    }
  }
  const file =
    explicit ??
    (sources.paths.includes(DEFAULT_REQUIREMENTS_FILE) ? DEFAULT_REQUIREMENTS_FILE : undefined);
  if (file === undefined) {
    const packages = props.packages ?? ['fastapi', 'uvicorn'];
    return packages.length > 0 ? { kind: 'packages', packages } : undefined;
  }
  if (props.packages !== undefined) {
    throw new InvalidPropError(
      scope,
      'packages',
      props.packages,
      `either packages or a requirements file, not both: pip installs "${file}" from sourceDir "${props.sourceDir}"; put the packages there`,
    );
  }
  const shown = path.join(props.sourceDir, file);
  const text = readShipped(sources, file);
  let requirements: Requirement[];
  try {
    requirements = parseRequirements(text, shown);
  } catch (error) {
    if (!(error instanceof RequirementsError)) throw error;
    throw new InvalidPropError(scope, 'requirementsFile', file, error.message);
  }
  if (requirements.length === 0) return undefined;

  const hashed = requirements.filter((r) => r.hashes.length > 0);
  const requireHashes = hashed.length === requirements.length;
  if (hashed.length > 0 && !requireHashes) {
    const without = requirements.find((r) => r.hashes.length === 0)!;
    throw new InvalidPropError(
      scope,
      'requirementsFile',
      file,
      `${shown}:${without.line}: "${without.specifier}" has no --hash while ${shown}:${hashed[0].line} has: pip hash-checks all requirements or none and would refuse to start; hash every line or none`,
    );
  }
  for (const r of requirements.filter((r) => !r.pinned)) {
    if (requireHashes) {
      throw new InvalidPropError(
        scope,
        'requirementsFile',
        file,
        `${shown}:${r.line}: "${r.specifier}" is not pinned with == or ===: with hashes pip refuses an unpinned requirement`,
      );
    }
    warn(
      scope,
      `${shown}:${r.line}: "${r.specifier}" is not pinned with == or ===: not reproducible, each pod start may install another version.`,
    );
  }
  if (requireHashes && !props.singleArchitecture) {
    warn(
      scope,
      `${shown} is hash-locked and the pod may land on nodes of any CPU architecture (no gpuPool): compiled packages (pydantic-core...) have one wheel per architecture, so the file must hold the hashes of every architecture's wheels (pip-compile/uv for all platforms), or pip fails on the other nodes.`,
    );
  }
  return { kind: 'requirements', file, requirements, requireHashes };
}

function readShipped(sources: SourceFiles, file: string): string {
  const key = sources.files.find((f) => f.path === file)!.key;
  const text = sources.data[key];
  return text ?? Buffer.from(sources.binaryData[key], 'base64').toString('latin1');
}

function summarize(paths: readonly string[]): string {
  return paths.length <= 10 ? paths.join(', ') : `${paths.slice(0, 10).join(', ')}, ...`;
}

/** Where and how a mode runs pip. */
export interface PipStepOptions {
  /** The log tag of the script: `init` or `app`. */
  readonly tag: string;
  readonly indexUrl?: string;
  /** Where the shipped tree is readable, the requirements file in it. */
  readonly sourceRoot: string;
  /** The mode's own options (`--target`, `--root-user-action`). */
  readonly extra: readonly string[];
  /** Where the packages go, for the log line. */
  readonly into?: string;
}

/**
 * The pip step of a container script.
 *
 * Wheels only (`--only-binary=:all:`): python:3.11-slim has no compiler, so
 * a package without a wheel for the pod's Python and CPU architecture would
 * fail anyway, in a compiler error halfway through; this way pip says "No
 * matching distribution" and the script says why.
 */
export function pipInstallStep(install: PipInstall, options: PipStepOptions): ShellStep {
  const { tag, indexUrl, sourceRoot, extra, into } = options;
  const args = [
    'python',
    '-m',
    'pip',
    'install',
    '--no-cache-dir',
    '--disable-pip-version-check',
    '--no-input',
    '--progress-bar',
    'off',
    '--only-binary=:all:',
  ];
  if (install.kind === 'requirements' && install.requireHashes) args.push('--require-hashes');
  if (indexUrl !== undefined) args.push('--index-url', indexUrl);
  args.push(...extra);
  if (install.kind === 'requirements') args.push('-r', `${sourceRoot}/${install.file}`);
  else args.push(...install.packages);
  const line = args.map((arg) => (/^[-A-Za-z0-9_./=:]+$/.test(arg) ? arg : shellQuote(arg)));
  const what = install.kind === 'requirements' ? `-r ${install.file}` : install.packages.join(' ');
  const explain = shellQuote(
    `[${tag}] pip failed. It installs wheels only (--only-binary=:all:): the image has no compiler, so a package without a wheel for this Python and CPU architecture is "No matching distribution found".`,
  );
  return {
    say: `installing ${what}${into === undefined ? '' : ` into ${into}`}`,
    run: `${line.join(' ')} || { status=$?; echo ${explain}; exit "$status"; }`,
  };
}
