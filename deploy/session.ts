/**
 * What the steps of one run share: the API clients, the output, the options
 * and timing, the release history as read in the preflight, and the way a
 * run ends (Stop: its last line and exit status).
 */
import type { Plan } from './apply';
import type { Options } from './cli';
import type { Kube } from './kube';
import type { K8sObject } from './manifests';
import type { Reporter } from './output';
import type { Release, ReleaseStore } from './release';

export interface Timing {
  /** Every API request but watches; bounds the preflight's GET /version. */
  requestTimeoutMs: number;
  /** How long a health check answered 502/503 (no endpoint yet) is retried. */
  verifyTimeoutMs: number;
  verifyIntervalMs: number;
  /** Pause before re-opening a watch the server closed. */
  watchRetryMs: number;
}

export const DEFAULT_TIMING: Timing = {
  requestTimeoutMs: 10_000,
  verifyTimeoutMs: 30_000,
  verifyIntervalMs: 1_000,
  watchRetryMs: 1_000,
};

/** Ends the command: `final` is its last line. */
export class Stop extends Error {
  constructor(
    readonly code: number,
    readonly final: string,
  ) {
    super(final);
  }
}

export const unchanged = (why: string) => new Stop(2, `FAILED (nothing was changed): ${why}`);

export interface Session {
  kube: Kube;
  report: Reporter;
  options: Options;
  timing: Timing;
  signal?: AbortSignal;
  releases: ReleaseStore;
  /** Newest first, as read in the preflight. */
  history: Release[];
  /** Where the Argo CD check found automation that a real deploy must refuse. */
  argoCdRefusal?: string;
}

export interface InstallSpec {
  objects: K8sObject[];
  variant: string;
  source: string;
  commit?: string;
  description: string;
}

export const PAST: Record<Plan['action'], string> = {
  create: 'created',
  change: 'changed',
  unchanged: 'unchanged',
  replace: 'replaced',
};

function count(plans: readonly Plan[], action: Plan['action']): number {
  return plans.filter((p) => p.action === action).length;
}

export function planSummary(
  plans: readonly Plan[],
  prune: number,
  kept: number,
  future = false,
): string {
  const parts = (['create', 'change', 'replace', 'unchanged'] as const)
    .filter((a) => a === 'unchanged' || count(plans, a) > 0)
    .map((a) => `${count(plans, a)} ${future && a !== 'unchanged' ? `to be ${PAST[a]}` : PAST[a]}`);
  if (prune > 0) parts.push(`${prune} ${future ? 'would be pruned' : 'pruned'}`);
  if (kept > 0) parts.push(`${kept} kept`);
  return parts.join(', ');
}
