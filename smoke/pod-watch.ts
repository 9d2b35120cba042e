/**
 * Watches a pod's running containers until the verdict: all ready (startup
 * probe, then readiness probe), one exited, or one probe failed for good.
 */
import { ContainerExit, ContainerProcess } from './container-process';
import { PodNetwork } from './pod-network';
import { ContainerSpec } from './pod-spec';
import { describeTarget, pollProbe, ProbeVerdict, probeTarget, realClock } from './probes';

const NO_PROBE_GRACE_MS = 1000;

export type Verdict =
  | { readonly type: 'ready' }
  | { readonly type: 'exit'; readonly process: ContainerProcess; readonly exit: ContainerExit }
  | {
      readonly type: 'probe';
      readonly process: ContainerProcess;
      readonly probe: 'Startup' | 'Readiness';
      readonly verdict: ProbeVerdict;
    };

/** Waits for the containers' verdict: all ready, one exited, or one probe failed. */
export async function watchContainers(
  procs: readonly ContainerProcess[],
  specs: readonly ContainerSpec[],
  network: PodNetwork,
  step: (message: string) => void,
  signal: AbortSignal,
): Promise<Verdict> {
  const stop = new AbortController();
  const onAbort = () => stop.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await new Promise<Verdict>((resolve, reject) => {
      let ready = 0;
      procs.forEach((proc, i) => {
        void proc.exited.then((exit) => resolve({ type: 'exit', process: proc, exit }));
        probeContainer(proc, specs[i], network, step, stop.signal).then((verdict) => {
          if (verdict !== undefined) resolve(verdict);
          else if (++ready === procs.length) resolve({ type: 'ready' });
        }, reject);
      });
      stop.signal.addEventListener('abort', () => reject(stop.signal.reason), { once: true });
    });
  } finally {
    signal.removeEventListener('abort', onAbort);
    stop.abort(new Error('verdict reached'));
  }
}

/** The startup probe, then readiness; undefined when the container is ready. */
async function probeContainer(
  proc: ContainerProcess,
  spec: ContainerSpec,
  network: PodNetwork,
  step: (message: string) => void,
  signal: AbortSignal,
): Promise<Verdict | undefined> {
  if (spec.startupProbe === undefined && spec.readinessProbe === undefined) {
    // The kubelet calls such a container ready as soon as it runs; a second
    // of grace lets an immediate crash be reported instead of READY.
    await realClock.sleep(NO_PROBE_GRACE_MS, signal);
    step(`${proc.name}: no startup or readiness probe, running for ${NO_PROBE_GRACE_MS / 1000} s`);
    return undefined;
  }
  let notBefore = 0;
  for (const [kind, probe] of [
    ['Startup', spec.startupProbe],
    ['Readiness', spec.readinessProbe],
  ] as const) {
    if (probe === undefined) continue;
    const target = probeTarget(spec, probe, network.ip);
    const verdict = await pollProbe(probe, target, network, {
      startedAt: proc.startedAt,
      notBefore,
      signal,
      onAttempt: (a) => {
        const result = a.outcome.ok
          ? `${a.outcome.message}, success`
          : `failed (${a.failures}/${probe.failureThreshold}): ${a.outcome.message}`;
        step(
          `${proc.name}: ${kind.toLowerCase()} probe #${a.number} ${describeTarget(target)} -> ${result}`,
        );
      },
    });
    if (!verdict.ok) return { type: 'probe', process: proc, probe: kind, verdict };
    // The kubelet triggers a readiness probe as soon as the startup probe succeeds.
    notBefore = Date.now();
  }
  return undefined;
}
