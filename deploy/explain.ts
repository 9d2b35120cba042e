/**
 * Says why a rollout failed, from the API alone: per pod of the new revision
 * its phase, readiness and restarts; per container (init containers too) the
 * waiting reason, the last termination reason and exit code; the newest
 * Warning events; and the last lines of the previous container's log, which
 * is where a Python traceback is.
 */
import { describeFailure, formatFailure, type Kube } from './kube';
import type { Reporter } from './output';
import {
  podFailure,
  podStatusWord,
  restarts,
  type ContainerState,
  type ContainerStatus,
  type Pod,
} from './pods';
import type { WorkloadRef } from './rollout';

export const LOG_LINES = 20;
const MAX_EVENTS = 5;
const MAX_PODS = 5;

function describeState(state: ContainerState | undefined): string {
  if (state?.waiting) {
    return `waiting ${state.waiting.reason ?? ''}${state.waiting.message ? ` (${state.waiting.message})` : ''}`.trim();
  }
  if (state?.running) return 'running';
  if (state?.terminated) {
    const t = state.terminated;
    return `terminated ${t.reason ?? ''} (exit code ${t.exitCode})`.replace('  ', ' ');
  }
  return 'not started';
}

function describeContainer(kind: string, s: ContainerStatus): string {
  const parts = [`${kind} ${s.name}: ${describeState(s.state)}`];
  const last = s.lastState?.terminated;
  if (last)
    parts.push(
      `last terminated ${last.reason ?? ''} (exit code ${last.exitCode})`.replace('  ', ' '),
    );
  if ((s.restartCount ?? 0) > 0) parts.push(`${s.restartCount} restarts`);
  return parts.join('; ');
}

interface CoreEvent {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  involvedObject?: { kind?: string; name?: string };
  lastTimestamp?: Date | string;
  eventTime?: Date | string;
  firstTimestamp?: Date | string;
  metadata?: { creationTimestamp?: Date | string };
}

function eventTime(e: CoreEvent): number {
  const t = e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp;
  return t ? new Date(t).getTime() : 0;
}

async function warningEvents(kube: Kube, namespace: string, names: Set<string>, report: Reporter) {
  try {
    const list = await kube.core.listNamespacedEvent({ namespace, fieldSelector: 'type=Warning' });
    const events = (list.items as CoreEvent[])
      .filter((e) => names.has(e.involvedObject?.name ?? ''))
      .sort((a, b) => eventTime(b) - eventTime(a))
      .slice(0, MAX_EVENTS);
    if (events.length === 0) {
      report.detail('no Warning events');
      return;
    }
    report.detail(`newest Warning events (at most ${MAX_EVENTS}):`);
    for (const e of events) {
      const count = (e.count ?? 1) > 1 ? ` (x${e.count})` : '';
      const what = `${(e.involvedObject?.kind ?? '').toLowerCase()}/${e.involvedObject?.name}`;
      report.detail(`  ${e.reason} ${what}: ${e.message ?? ''}${count}`);
    }
  } catch (error) {
    report.detail(`events: ${formatFailure(describeFailure(error))}`);
  }
}

/** Containers worth a log: those that terminated (previous or current instance). */
function logSources(pod: Pod): { container: string; previous: boolean }[] {
  const status = pod.status ?? {};
  const sources: { container: string; previous: boolean }[] = [];
  for (const s of [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])]) {
    const completedInit =
      (status.initContainerStatuses ?? []).includes(s) && s.state?.terminated?.exitCode === 0;
    if (completedInit) continue;
    if (s.lastState?.terminated) sources.push({ container: s.name, previous: true });
    else if (s.state?.terminated && s.state.terminated.exitCode !== 0)
      sources.push({ container: s.name, previous: false });
  }
  return sources;
}

async function printLog(
  kube: Kube,
  pod: Pod,
  container: string,
  previous: boolean,
  report: Reporter,
) {
  const namespace = pod.metadata.namespace ?? 'default';
  const which = previous ? 'previous' : 'current';
  try {
    const text = await kube.core.readNamespacedPodLog({
      name: pod.metadata.name,
      namespace,
      container,
      previous,
      tailLines: LOG_LINES,
    });
    const lines = String(text).replace(/\n$/, '').split('\n').slice(-LOG_LINES);
    report.detail(
      `${which} log of pod ${pod.metadata.name}, container ${container} (last ${LOG_LINES} lines):`,
    );
    for (const line of lines) report.detail(`  | ${line}`);
  } catch (error) {
    report.detail(
      `${which} log of ${pod.metadata.name}/${container}: ${formatFailure(describeFailure(error))}`,
    );
  }
}

/**
 * Prints the explanation. `culprit` is the pod that stopped the wait; without
 * one (a timeout, a failed health check) the first pod that restarted or is
 * not ready is the one whose log is shown.
 */
export async function explain(
  kube: Kube,
  workload: WorkloadRef | undefined,
  pods: readonly Pod[],
  culprit: Pod | undefined,
  report: Reporter,
): Promise<void> {
  const what = workload ? `${workload.kind} ${workload.namespace}/${workload.name}` : 'the rollout';
  report.step(
    `explain: ${what}, ${pods.length} pod${pods.length === 1 ? '' : 's'} of the new revision`,
  );
  const sorted = [...pods].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  for (const pod of sorted.slice(0, MAX_PODS)) {
    const status = pod.status ?? {};
    const ready = (status.containerStatuses ?? []).filter((s) => s.ready).length;
    const total = pod.spec?.containers?.length ?? (status.containerStatuses ?? []).length;
    const node = pod.spec?.nodeName ? `, node ${pod.spec.nodeName}` : '';
    report.detail(
      `pod ${pod.metadata.name}: ${status.phase ?? 'Pending'} (${podStatusWord(pod)}), ready ${ready}/${total}, restarts ${restarts(pod)}${node}`,
    );
    const unscheduled = (status.conditions ?? []).find(
      (c) => c.type === 'PodScheduled' && c.status === 'False',
    );
    if (unscheduled)
      report.detail(
        `  not scheduled: ${unscheduled.reason ?? ''} ${unscheduled.message ?? ''}`.trimEnd(),
      );
    for (const s of status.initContainerStatuses ?? [])
      report.detail(`  ${describeContainer('init container', s)}`);
    for (const s of status.containerStatuses ?? [])
      report.detail(`  ${describeContainer('container', s)}`);
  }
  if (sorted.length > MAX_PODS) report.detail(`(${sorted.length - MAX_PODS} more pods)`);
  const namespace = workload?.namespace ?? pods[0]?.metadata.namespace;
  if (namespace) {
    const names = new Set(pods.map((p) => p.metadata.name));
    if (workload) names.add(workload.name);
    for (const p of pods)
      for (const o of p.metadata.ownerReferences ?? []) if (o.name) names.add(o.name);
    await warningEvents(kube, namespace, names, report);
  }
  const withLog =
    (culprit && logSources(culprit).length > 0 ? culprit : undefined) ??
    sorted.find((p) => podFailure(p) !== undefined && logSources(p).length > 0) ??
    sorted.find((p) => logSources(p).length > 0);
  if (withLog) {
    for (const { container, previous } of logSources(withLog))
      await printLog(kube, withLog, container, previous, report);
  } else if (
    sorted[0] &&
    (sorted[0].status?.containerStatuses ?? []).some((s) => s.state?.running)
  ) {
    // Running but not healthy (a failed health check, a timeout): its current log.
    const running = (sorted[0].status?.containerStatuses ?? []).filter((s) => s.state?.running);
    for (const s of running) await printLog(kube, sorted[0], s.name, false, report);
  } else {
    report.detail('no container of the new revision ran: no log');
  }
}
