/** The command line of `npm run deploy`. */
import { parseArgs } from 'util';
import { VARIANTS } from './manifests';

export const USAGE = `usage:
  npm run deploy -- --variant hardened|root-debug [--dir DIR] [--context NAME] [--timeout SECONDS]
                    [--dry-run] [--no-rollback] [--wait-jobs] [--ignore-argocd]
  npm run deploy -- --history [--context NAME] [--namespace NS]
  npm run deploy -- --rollback [--to REVISION] [--context NAME] [--namespace NS] [--timeout SECONDS]
                    [--dry-run] [--no-rollback] [--wait-jobs] [--ignore-argocd]`;

export class UsageError extends Error {}

export type Mode = 'deploy' | 'history' | 'rollback';

export interface Options {
  mode: Mode;
  variant?: string;
  dir?: string;
  context?: string;
  /** The namespace holding the release history (default: the backend's in dist/). */
  namespace?: string;
  timeoutSeconds: number;
  dryRun: boolean;
  /** Roll back when the deploy fails (--no-rollback turns it off). */
  rollback: boolean;
  waitJobs: boolean;
  ignoreArgoCd: boolean;
  to?: number;
}

export const DEFAULT_TIMEOUT_SECONDS = 600;

const ALLOWED: Record<Mode, string[]> = {
  deploy: [
    'variant',
    'dir',
    'context',
    'timeout',
    'dry-run',
    'no-rollback',
    'wait-jobs',
    'ignore-argocd',
  ],
  history: ['history', 'context', 'namespace'],
  rollback: [
    'rollback',
    'to',
    'context',
    'namespace',
    'timeout',
    'dry-run',
    'no-rollback',
    'wait-jobs',
    'ignore-argocd',
  ],
};

export function parseOptions(argv: readonly string[]): Options {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        variant: { type: 'string' },
        dir: { type: 'string' },
        context: { type: 'string' },
        namespace: { type: 'string' },
        timeout: { type: 'string' },
        'dry-run': { type: 'boolean' },
        'no-rollback': { type: 'boolean' },
        'wait-jobs': { type: 'boolean' },
        'ignore-argocd': { type: 'boolean' },
        history: { type: 'boolean' },
        rollback: { type: 'boolean' },
        to: { type: 'string' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]);
  }
  const modes: Mode[] = [];
  if (values.variant !== undefined) modes.push('deploy');
  if (values.history) modes.push('history');
  if (values.rollback) modes.push('rollback');
  if (modes.length !== 1) {
    throw new UsageError('give exactly one of --variant, --history and --rollback');
  }
  const mode = modes[0];
  for (const key of Object.keys(values)) {
    if (!ALLOWED[mode].includes(key))
      throw new UsageError(
        `--${key} does not go with ${mode === 'deploy' ? '--variant' : `--${mode}`}`,
      );
  }
  const variant = values.variant as string | undefined;
  if (variant !== undefined && !(VARIANTS as readonly string[]).includes(variant)) {
    throw new UsageError(`--variant must be one of ${VARIANTS.join(', ')}, not "${variant}"`);
  }
  let timeoutSeconds = DEFAULT_TIMEOUT_SECONDS;
  if (values.timeout !== undefined) {
    timeoutSeconds = Number(values.timeout);
    if (!/^\d+(\.\d+)?$/.test(String(values.timeout)) || !(timeoutSeconds > 0)) {
      throw new UsageError(
        `--timeout must be a number of seconds above 0, not "${values.timeout}"`,
      );
    }
  }
  let to: number | undefined;
  if (values.to !== undefined) {
    to = Number(values.to);
    if (!/^[1-9]\d*$/.test(String(values.to))) {
      throw new UsageError(`--to must be a revision number (1, 2, ...), not "${values.to}"`);
    }
  }
  for (const key of ['dir', 'context', 'namespace'] as const) {
    if (values[key] === '') throw new UsageError(`--${key} must not be empty`);
  }
  return {
    mode,
    variant,
    dir: values.dir as string | undefined,
    context: values.context as string | undefined,
    namespace: values.namespace as string | undefined,
    timeoutSeconds,
    dryRun: Boolean(values['dry-run']),
    rollback: !values['no-rollback'],
    waitJobs: Boolean(values['wait-jobs']),
    ignoreArgoCd: Boolean(values['ignore-argocd']),
    to,
  };
}
