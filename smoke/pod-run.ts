/**
 * Runs one pod from synthesized YAML the way a kubelet would: volumes, then
 * the init containers in order (each to completion), then the containers,
 * then the startup and readiness probes. Stops at the first verdict (ready,
 * or the status `kubectl get pod` would show) and removes everything it
 * made.
 */
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ContainerExit, ContainerProcess } from './container-process';
import { checkHost, HostTools } from './host';
import { HOST_PYTHON, pythonImage, writeUsrLocal } from './image';
import {
  containerArgv,
  ContainerConfigError,
  containerEnv,
  PodIdentity,
  ProcessIdentity,
  processIdentity,
} from './kubelet';
import { loadManifests, ManifestSet, selectWorkload, Workload } from './manifest';
import { ContainerSpec } from './pod-spec';
import { PipAccess, PipIndexChoice, readHostPipConfig, resolvePipAccess } from './pip-access';
import { POD_IP, PodNetwork } from './pod-network';
import { describeTarget, pollProbe, ProbeVerdict, probeTarget, realClock } from './probes';
import { ManifestError } from './read';
import { bwrapArgs, SandboxMount } from './sandbox';
import { MountError, PreparedVolume, prepareVolumes } from './volumes';

export interface SmokeOptions {
  /** The folder of manifests (dist/<variant>). */
  readonly dir: string;
  /** The workload's name; see selectWorkload. */
  readonly app?: string;
  readonly pipIndex: PipIndexChoice;
  /** Print every container log line as it comes. */
  readonly logs?: boolean;
  /** How many log lines a failure shows. */
  readonly tail?: number;
}

export interface SmokeResult {
  readonly ready: boolean;
  /** Seconds from the start of the pod (volumes) to the verdict. */
  readonly seconds: number;
  /** The STATUS column of `kubectl get pod` (Running when ready). */
  readonly podStatus: string;
  /** One line: what happened. */
  readonly reason: string;
  readonly container?: string;
  readonly exitCode?: number;
  readonly logTail: readonly string[];
}

const NO_PROBE_GRACE_MS = 1000;

/** What is alive right now, for the synchronous last-resort cleanup at exit. */
const live = { groups: new Set<number>(), pids: new Set<number>(), dirs: new Set<string>() };

/**
 * Kills whatever a run left and removes its folders. For `process.on('exit')`:
 * the normal path cleans up itself, this covers a hard exit in between.
 */
export function emergencyCleanup(): void {
  for (const pgid of live.groups) trySync(() => process.kill(-pgid, 'SIGKILL'));
  for (const pid of live.pids) trySync(() => process.kill(pid, 'SIGKILL'));
  for (const dir of live.dirs) trySync(() => fs.rmSync(dir, { recursive: true, force: true }));
  live.groups.clear();
  live.pids.clear();
  live.dirs.clear();
}

function trySync(action: () => void): void {
  try {
    action();
  } catch {
    // best effort: it is gone already
  }
}

/**
 * Runs the pod. Throws ManifestError or HostError when it cannot start at all
 * (bad YAML, missing tool), rejects with `signal.reason` when aborted (after
 * cleaning up), and otherwise resolves to the verdict.
 */
export async function smokeRun(
  options: SmokeOptions,
  out: (line: string) => void,
  signal: AbortSignal,
): Promise<SmokeResult> {
  const manifests = loadManifests(options.dir);
  const workload = selectWorkload(manifests, options.app);
  const host = checkHost();
  const run = new PodRun(options, manifests, workload, host, out, signal);
  try {
    return await run.run();
  } finally {
    await run.cleanup();
  }
}

interface PreparedContainer {
  readonly spec: ContainerSpec;
  readonly identity: ProcessIdentity;
  readonly argv: string[];
}

type Verdict =
  | { readonly type: 'ready' }
  | { readonly type: 'exit'; readonly process: ContainerProcess; readonly exit: ContainerExit }
  | {
      readonly type: 'probe';
      readonly process: ContainerProcess;
      readonly probe: 'Startup' | 'Readiness';
      readonly verdict: ProbeVerdict;
    };

class PodRun {
  /** When the pod started (volumes): the origin of every timestamp. */
  private t0 = Date.now();
  private readonly identity: PodIdentity;
  private readonly processes: ContainerProcess[] = [];
  private workDir?: string;
  private network?: PodNetwork;
  private pip?: PipAccess;
  private volumes = new Map<string, PreparedVolume>();

  constructor(
    private readonly options: SmokeOptions,
    private readonly manifests: ManifestSet,
    private readonly workload: Workload,
    private readonly host: HostTools,
    private readonly out: (line: string) => void,
    private readonly signal: AbortSignal,
  ) {
    const suffix = randomUUID().replace(/-/g, '').slice(0, 5);
    const name =
      workload.kind === 'Pod'
        ? workload.name
        : `${workload.name.slice(0, 50)}-smoke-${suffix}`.replace(/-+$/, '');
    this.identity = { name, namespace: workload.namespace, uid: randomUUID(), ip: POD_IP };
  }

  async run(): Promise<SmokeResult> {
    const pod = this.workload.pod;
    const relative = path.relative(process.cwd(), this.workload.file);
    const file = relative.startsWith('..') ? this.workload.file : relative;
    this.out(
      `smoke: ${this.workload.kind} ${this.workload.namespace}/${this.workload.name} from ${file}, as pod ${this.identity.name}`,
    );
    const images = [...new Set([...pod.initContainers, ...pod.containers].map((c) => c.image))];
    for (const image of images) {
      const note = pythonImage(image, '').matches ? '' : ' (warning: not a python:3.11 image)';
      this.out(
        `image: ${image} emulated by Debian's Python ${this.host.pythonVersion} (${HOST_PYTHON})${note}`,
      );
    }
    this.validate();
    this.pip = await resolvePipAccess(this.options.pipIndex, () => readHostPipConfig(HOST_PYTHON));
    for (const note of this.pip.notes) this.out(note);
    this.checkAborted();

    this.workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sophia-smoke-'));
    live.dirs.add(this.workDir);
    this.t0 = Date.now();
    try {
      this.volumes = prepareVolumes(
        this.workload,
        this.manifests,
        path.join(this.workDir, 'volumes'),
      );
    } catch (error) {
      if (!(error instanceof MountError)) throw error;
      const status =
        pod.initContainers.length > 0 ? `Init:0/${pod.initContainers.length}` : 'ContainerCreating';
      return this.fail(status, `FailedMount: ${error.message}`);
    }
    for (const volume of this.volumes.values()) this.step(`volume ${volume.description}`);

    this.network = await PodNetwork.start({
      bwrap: this.host.bwrap,
      nsenter: this.host.nsenter,
      ip: this.host.ip,
      proxySocket: this.pip.proxy ? path.join(this.workDir, 'pip-proxy.sock') : undefined,
      writable: [this.workDir],
    });
    if (this.network.helperPid !== undefined) live.pids.add(this.network.helperPid);
    this.step(
      `pod network: own namespace, pod IP ${this.network.ip}${this.network.ip === POD_IP ? '' : ' (no `ip` tool: probes go to localhost)'}${this.network.proxyPort ? `, pip proxy on 127.0.0.1:${this.network.proxyPort}` : ''}`,
    );
    this.writeEtcFiles();

    for (const [i, spec] of pod.initContainers.entries()) {
      const label = `init container ${spec.name}`;
      let prepared: PreparedContainer;
      try {
        prepared = this.prepare(spec);
      } catch (error) {
        if (!(error instanceof ContainerConfigError)) throw error;
        return this.fail('Init:CreateContainerConfigError', `Error: ${error.message}`, spec.name);
      }
      const proc = this.start(prepared, label);
      const exit = await this.untilAborted(proc.exited);
      const seconds = ((exit.at - proc.startedAt) / 1000).toFixed(1);
      if (exit.code !== 0) {
        this.step(`${label}: exited with code ${exit.code} after ${seconds} s (Error)`);
        return this.fail(
          'Init:Error',
          `init container ${spec.name} exited with code ${exit.code}; the kubelet restarts it and the pod goes to Init:CrashLoopBackOff`,
          spec.name,
          exit.code,
          proc,
        );
      }
      this.step(
        `${label}: completed (exit code 0) after ${seconds} s [${i + 1}/${pod.initContainers.length}]`,
      );
    }

    const prepared: PreparedContainer[] = [];
    for (const spec of pod.containers) {
      try {
        prepared.push(this.prepare(spec));
      } catch (error) {
        if (!(error instanceof ContainerConfigError)) throw error;
        return this.fail('CreateContainerConfigError', `Error: ${error.message}`, spec.name);
      }
    }
    const procs = prepared.map((p) => this.start(p, `container ${p.spec.name}`));
    const verdict = await this.watch(procs);
    if (verdict.type === 'ready') {
      const seconds = (Date.now() - this.t0) / 1000;
      this.out(`READY in ${seconds.toFixed(1)} s`);
      return {
        ready: true,
        seconds,
        podStatus: 'Running',
        reason: `${procs.length}/${procs.length} containers ready`,
        logTail: [],
      };
    }
    if (verdict.type === 'exit') {
      const { process: proc, exit } = verdict;
      const after = ((exit.at - proc.startedAt) / 1000).toFixed(1);
      const state = exit.code === 0 ? 'Completed' : 'Error';
      this.step(
        `container ${proc.name}: exited with code ${exit.code} after ${after} s (${state})`,
      );
      return this.fail(
        'CrashLoopBackOff',
        `container ${proc.name} exited with code ${exit.code} (last state: Terminated, reason ${state}); the kubelet restarts it with a growing back-off`,
        proc.name,
        exit.code,
        proc,
      );
    }
    const { process: proc, probe, verdict: v } = verdict;
    const restart =
      probe === 'Startup'
        ? `the kubelet kills it ("Container ${proc.name} failed startup probe, will be restarted") and the pod goes to CrashLoopBackOff`
        : 'the pod stays Running but not ready, out of its Service';
    return this.fail(
      probe === 'Startup' ? 'CrashLoopBackOff' : `Running (0/${procs.length} ready)`,
      `${probe} probe failed: ${v.last.message} (${v.failures} failures in a row, the failureThreshold, after ${v.attempts} attempt(s)); ${restart}`,
      proc.name,
      undefined,
      proc,
    );
  }

  /** Checks what the API server would have refused, before anything runs. */
  private validate(): void {
    const pod = this.workload.pod;
    const names = new Set(pod.volumes.map((v) => v.name));
    for (const c of [...pod.initContainers, ...pod.containers]) {
      for (const m of c.volumeMounts) {
        if (!names.has(m.name)) {
          throw new ManifestError(`container ${c.name}: volumeMount ${m.name}: no such volume`);
        }
      }
      for (const probe of [c.startupProbe, c.readinessProbe]) {
        if (probe === undefined) continue;
        try {
          probeTarget(c, probe, POD_IP);
        } catch (error) {
          throw new ManifestError(`container ${c.name}: ${(error as Error).message}`);
        }
      }
    }
  }

  private prepare(spec: ContainerSpec): PreparedContainer {
    const image = pythonImage(spec.image, this.host.pythonVersion);
    const identity = processIdentity(this.workload.pod, spec, image, this.identity);
    const kubeEnv = containerEnv(this.workload, spec, this.manifests, this.identity);
    const argv = containerArgv(spec, image, kubeEnv);
    // The image's environment first, then the runtime's HOSTNAME, then the
    // smoke run's pip settings (the deviation), then the pod's own, which wins.
    const env = new Map<string, string>(image.env);
    env.set('HOSTNAME', this.identity.name);
    for (const [k, v] of this.pip!.env) env.set(k, v);
    if (this.network!.proxyPort)
      env.set('PIP_PROXY', `http://127.0.0.1:${this.network!.proxyPort}`);
    for (const [k, v] of kubeEnv) env.set(k, v);
    if (!env.has('HOME')) env.set('HOME', image.homeOf(identity.uid));

    const dir = path.join(this.workDir!, 'containers', spec.name);
    fs.mkdirSync(dir, { recursive: true });
    const usrLocal = path.join(dir, 'usr-local');
    writeUsrLocal(usrLocal);
    const sandbox = bwrapArgs({
      hostname: this.identity.name,
      identity,
      usrLocal,
      etcFiles: {
        '/etc/hosts': path.join(this.workDir!, 'etc', 'hosts'),
        '/etc/hostname': path.join(this.workDir!, 'etc', 'hostname'),
        '/etc/resolv.conf': path.join(this.workDir!, 'etc', 'resolv.conf'),
      },
      emptyFile: path.join(this.workDir!, 'etc', 'empty'),
      mounts: this.mounts(spec),
      env,
      workingDir: spec.workingDir ?? '/',
      argv,
    });
    return { spec, identity, argv: [...this.network!.enter(), this.host.bwrap, ...sandbox] };
  }

  private mounts(spec: ContainerSpec): SandboxMount[] {
    const mounts: SandboxMount[] = spec.volumeMounts.map((m) => {
      const volume = this.volumes.get(m.name)!;
      let hostPath = volume.hostPath;
      if (m.subPath !== undefined) {
        if (path.isAbsolute(m.subPath) || m.subPath.split('/').includes('..')) {
          throw new ContainerConfigError(`failed to prepare subPath for volumeMount "${m.name}"`);
        }
        hostPath = path.join(hostPath, m.subPath);
        // The kubelet creates a missing subPath as a folder in a writable volume.
        if (!fs.existsSync(hostPath) && !volume.alwaysReadOnly) {
          fs.mkdirSync(hostPath, { recursive: true, mode: 0o755 });
        }
        if (!fs.existsSync(hostPath)) {
          throw new ContainerConfigError(`failed to prepare subPath for volumeMount "${m.name}"`);
        }
      }
      return { hostPath, mountPath: m.mountPath, readOnly: m.readOnly || volume.alwaysReadOnly };
    });
    for (const bind of this.pip!.binds) {
      mounts.push({ hostPath: bind, mountPath: bind, readOnly: true });
    }
    return mounts;
  }

  /** The files the kubelet writes into every container's /etc. */
  private writeEtcFiles(): void {
    const etc = path.join(this.workDir!, 'etc');
    fs.mkdirSync(etc);
    const { name, namespace } = this.identity;
    const ip = this.network!.ip;
    fs.writeFileSync(
      path.join(etc, 'hosts'),
      `# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${ip === '127.0.0.1' ? '' : `${ip}\t${name}\n`}`,
      { mode: 0o644 },
    );
    fs.writeFileSync(path.join(etc, 'hostname'), `${name}\n`, { mode: 0o644 });
    // Cluster DNS does not exist in the pod's namespace: lookups fail at once, as offline.
    fs.writeFileSync(
      path.join(etc, 'resolv.conf'),
      `search ${namespace}.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.43.0.10\noptions ndots:5\n`,
      { mode: 0o644 },
    );
    fs.writeFileSync(path.join(etc, 'empty'), '', { mode: 0o644 });
  }

  private start(prepared: PreparedContainer, label: string): ContainerProcess {
    const id = prepared.identity;
    const caps = id.capabilities.includes('all')
      ? 'all capabilities'
      : id.capabilities.length === 0
        ? 'no capabilities'
        : `capabilities ${id.capabilities.join(',')}`;
    const groups = id.groups.length > 0 ? `, groups ${id.groups.join(',')}` : '';
    this.step(
      `${label}: starting as uid ${id.uid}, gid ${id.gid}${groups}, ${id.readOnlyRootFilesystem ? 'read-only' : 'writable'} root filesystem, ${caps}${id.noNewPrivs ? ', no privilege escalation' : ''}`,
    );
    const name = prepared.spec.name;
    const proc = new ContainerProcess(
      name,
      prepared.argv,
      this.options.logs ? (line) => this.out(`    ${name} | ${line}`) : undefined,
    );
    this.processes.push(proc);
    if (proc.pid !== undefined) live.groups.add(proc.pid);
    return proc;
  }

  /** Waits for the containers' verdict: all ready, one exited, or one probe failed. */
  private async watch(procs: ContainerProcess[]): Promise<Verdict> {
    const stop = new AbortController();
    const onAbort = () => stop.abort(this.signal.reason);
    this.signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await new Promise<Verdict>((resolve, reject) => {
        let ready = 0;
        procs.forEach((proc, i) => {
          void proc.exited.then((exit) => resolve({ type: 'exit', process: proc, exit }));
          this.probeContainer(proc, this.workload.pod.containers[i], stop.signal).then(
            (verdict) => {
              if (verdict !== undefined) resolve(verdict);
              else if (++ready === procs.length) resolve({ type: 'ready' });
            },
            reject,
          );
        });
        stop.signal.addEventListener('abort', () => reject(stop.signal.reason), { once: true });
      });
    } finally {
      this.signal.removeEventListener('abort', onAbort);
      stop.abort(new Error('verdict reached'));
    }
  }

  /** The startup probe, then readiness; undefined when the container is ready. */
  private async probeContainer(
    proc: ContainerProcess,
    spec: ContainerSpec,
    signal: AbortSignal,
  ): Promise<Verdict | undefined> {
    if (spec.startupProbe === undefined && spec.readinessProbe === undefined) {
      // The kubelet calls such a container ready as soon as it runs; a second
      // of grace lets an immediate crash be reported instead of READY.
      await realClock.sleep(NO_PROBE_GRACE_MS, signal);
      this.step(
        `${proc.name}: no startup or readiness probe, running for ${NO_PROBE_GRACE_MS / 1000} s`,
      );
      return undefined;
    }
    let notBefore = 0;
    for (const [kind, probe] of [
      ['Startup', spec.startupProbe],
      ['Readiness', spec.readinessProbe],
    ] as const) {
      if (probe === undefined) continue;
      const target = probeTarget(spec, probe, this.network!.ip);
      const verdict = await pollProbe(probe, target, this.network!, {
        startedAt: proc.startedAt,
        notBefore,
        signal,
        onAttempt: (a) => {
          const result = a.outcome.ok
            ? `${a.outcome.message}, success`
            : `failed (${a.failures}/${probe.failureThreshold}): ${a.outcome.message}`;
          this.step(
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

  private async untilAborted<T>(promise: Promise<T>): Promise<T> {
    this.checkAborted();
    return await new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(this.signal.reason);
      this.signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (value) => {
          this.signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          this.signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  private checkAborted(): void {
    if (this.signal.aborted) throw this.signal.reason;
  }

  private step(message: string): void {
    const seconds = ((Date.now() - this.t0) / 1000).toFixed(1).padStart(5);
    this.out(`[${seconds}s] ${message}`);
  }

  private fail(
    podStatus: string,
    reason: string,
    container?: string,
    exitCode?: number,
    proc?: ContainerProcess,
  ): SmokeResult {
    const seconds = (Date.now() - this.t0) / 1000;
    return {
      ready: false,
      seconds,
      podStatus,
      reason,
      container,
      exitCode,
      logTail: proc?.logs.tail(this.options.tail ?? 20) ?? [],
    };
  }

  /** Kills every process of the pod and removes its folders. */
  async cleanup(): Promise<void> {
    for (const proc of this.processes) proc.kill();
    await Promise.all(
      this.processes.map((proc) =>
        Promise.race([proc.exited, new Promise((resolve) => setTimeout(resolve, 5000))]),
      ),
    );
    for (const proc of this.processes) if (proc.pid !== undefined) live.groups.delete(proc.pid);
    if (this.network !== undefined) {
      await this.network.stop();
      if (this.network.helperPid !== undefined) live.pids.delete(this.network.helperPid);
    }
    if (this.workDir !== undefined) {
      fs.rmSync(this.workDir, { recursive: true, force: true });
      live.dirs.delete(this.workDir);
    }
  }
}
