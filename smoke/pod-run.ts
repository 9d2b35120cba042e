/**
 * Runs one pod from synthesized YAML the way a kubelet would: volumes, then
 * the init containers in order (each to completion), then the containers,
 * then the startup and readiness probes. Stops at the first verdict (ready,
 * or the status `kubectl get pod` would show) and removes everything it
 * made. Each container's sandbox is built by container-setup.ts, the running
 * containers are watched by pod-watch.ts.
 */
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PodSetup, PreparedContainer, prepareContainer, writeEtcFiles } from './container-setup';
import { ContainerProcess } from './container-process';
import { checkHost, HostTools } from './host';
import { HOST_PYTHON, pythonImage } from './image';
import { ContainerConfigError, PodIdentity } from './kubelet';
import { killProcessesNaming, live } from './live';
import { loadManifests, ManifestSet, selectWorkload, Workload } from './manifest';
import { PipIndexChoice, readHostPipConfig, resolvePipAccess } from './pip-access';
import { POD_IP, PodNetwork } from './pod-network';
import { watchContainers } from './pod-watch';
import { getInPod, getPort, GetResult } from './pod-get';
import { probeTarget } from './probes';
import { ManifestError } from './read';
import { describeSecret, SecretSource, withSecrets } from './secrets';
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
  /** `--secret`: Secrets the cluster holds but the manifests do not. */
  readonly secrets?: readonly SecretSource[];
  /** `--get`: paths to GET once ready. */
  readonly get?: readonly string[];
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
  /** The `--get` answers, when ready. */
  readonly gets?: readonly GetResult[];
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
  const loaded = loadManifests(options.dir);
  const workload = selectWorkload(loaded, options.app);
  const manifests = withSecrets(loaded, workload.namespace, options.secrets ?? []);
  for (const source of options.secrets ?? []) out(describeSecret(source, workload.namespace));
  const host = checkHost();
  const run = new PodRun(options, manifests, workload, host, out, signal);
  try {
    return await run.run();
  } finally {
    await run.cleanup();
  }
}

class PodRun {
  /** When the pod started (volumes): the origin of every timestamp. */
  private t0 = Date.now();
  private readonly identity: PodIdentity;
  private readonly processes: ContainerProcess[] = [];
  private workDir?: string;
  private network?: PodNetwork;

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
    const pip = await resolvePipAccess(this.options.pipIndex, () => readHostPipConfig(HOST_PYTHON));
    for (const note of pip.notes) this.out(note);
    this.checkAborted();

    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sophia-smoke-'));
    this.workDir = workDir;
    live.dirs.add(workDir);
    this.t0 = Date.now();
    let volumes: Map<string, PreparedVolume>;
    try {
      volumes = prepareVolumes(this.workload, this.manifests, path.join(workDir, 'volumes'));
    } catch (error) {
      if (!(error instanceof MountError)) throw error;
      const status =
        pod.initContainers.length > 0 ? `Init:0/${pod.initContainers.length}` : 'ContainerCreating';
      return this.fail(status, `FailedMount: ${error.message}`);
    }
    for (const volume of volumes.values()) this.step(`volume ${volume.description}`);

    const network = await PodNetwork.start({
      bwrap: this.host.bwrap,
      nsenter: this.host.nsenter,
      ip: this.host.ip,
      proxySocket: pip.proxy ? path.join(workDir, 'pip-proxy.sock') : undefined,
      writable: [workDir],
    });
    this.network = network;
    if (network.helperPid !== undefined) live.pids.add(network.helperPid);
    this.step(
      `pod network: own namespace, pod IP ${network.ip}${network.ip === POD_IP ? '' : ' (no `ip` tool: probes go to localhost)'}${network.proxyPort ? `, pip proxy on 127.0.0.1:${network.proxyPort}` : ''}`,
    );
    const setup: PodSetup = {
      host: this.host,
      workload: this.workload,
      manifests: this.manifests,
      identity: this.identity,
      workDir,
      network,
      pip,
      volumes,
    };
    writeEtcFiles(setup);

    for (const [i, spec] of pod.initContainers.entries()) {
      const label = `init container ${spec.name}`;
      let prepared: PreparedContainer;
      try {
        prepared = prepareContainer(setup, spec);
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
        prepared.push(prepareContainer(setup, spec));
      } catch (error) {
        if (!(error instanceof ContainerConfigError)) throw error;
        return this.fail('CreateContainerConfigError', `Error: ${error.message}`, spec.name);
      }
    }
    const procs = prepared.map((p) => this.start(p, `container ${p.spec.name}`));
    const verdict = await watchContainers(
      procs,
      pod.containers,
      network,
      (message) => this.step(message),
      this.signal,
    );
    if (verdict.type === 'ready') {
      const seconds = (Date.now() - this.t0) / 1000;
      this.out(`READY in ${seconds.toFixed(1)} s`);
      const port = getPort(pod.containers);
      const gets: GetResult[] = [];
      for (const p of this.options.get ?? []) {
        gets.push(
          port === undefined
            ? { url: p, ok: false, line: `GET ${p} -> no container declares a port` }
            : await getInPod(this.network!.enter(), this.network!.ip, port, p),
        );
        this.out(gets[gets.length - 1].line);
      }
      return {
        gets,
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
      const left = await killProcessesNaming(this.workDir);
      if (left.length > 0) this.out(`cleanup: processes ${left.join(', ')} would not die`);
      fs.rmSync(this.workDir, { recursive: true, force: true });
      live.dirs.delete(this.workDir);
    }
  }
}
