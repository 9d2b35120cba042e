/**
 * Turns a container of the pod spec into the command that runs it the way the
 * kubelet and the container runtime would: its identity, its environment, its
 * mounts and the files of its /etc, inside a bubblewrap sandbox that joins the
 * pod's network namespace.
 */
import * as fs from 'fs';
import * as path from 'path';
import { HostTools } from './host';
import { pythonImage, writeUsrLocal } from './image';
import {
  containerArgv,
  ContainerConfigError,
  containerEnv,
  PodIdentity,
  ProcessIdentity,
  processIdentity,
} from './kubelet';
import { ManifestSet, Workload } from './manifest';
import { PipAccess } from './pip-access';
import { PodNetwork } from './pod-network';
import { ContainerSpec } from './pod-spec';
import { bwrapArgs, SandboxMount } from './sandbox';
import { PreparedVolume } from './volumes';

/** What the pod has before its containers start: what each of them is built from. */
export interface PodSetup {
  readonly host: HostTools;
  readonly workload: Workload;
  readonly manifests: ManifestSet;
  readonly identity: PodIdentity;
  /** The run's folder: volumes, /etc files, per-container files. */
  readonly workDir: string;
  readonly network: PodNetwork;
  readonly pip: PipAccess;
  readonly volumes: ReadonlyMap<string, PreparedVolume>;
}

export interface PreparedContainer {
  readonly spec: ContainerSpec;
  readonly identity: ProcessIdentity;
  readonly argv: string[];
}

export function prepareContainer(pod: PodSetup, spec: ContainerSpec): PreparedContainer {
  const image = pythonImage(spec.image, pod.host.pythonVersion);
  const identity = processIdentity(pod.workload.pod, spec, image, pod.identity);
  const kubeEnv = containerEnv(pod.workload, spec, pod.manifests, pod.identity);
  const argv = containerArgv(spec, image, kubeEnv);
  // The image's environment first, then the runtime's HOSTNAME, then the
  // smoke run's pip settings (the deviation), then the pod's own, which wins.
  const env = new Map<string, string>(image.env);
  env.set('HOSTNAME', pod.identity.name);
  for (const [k, v] of pod.pip.env) env.set(k, v);
  if (pod.network.proxyPort) env.set('PIP_PROXY', `http://127.0.0.1:${pod.network.proxyPort}`);
  for (const [k, v] of kubeEnv) env.set(k, v);
  if (!env.has('HOME')) env.set('HOME', image.homeOf(identity.uid));

  const dir = path.join(pod.workDir, 'containers', spec.name);
  fs.mkdirSync(dir, { recursive: true });
  const usrLocal = path.join(dir, 'usr-local');
  writeUsrLocal(usrLocal);
  const sandbox = bwrapArgs({
    hostname: pod.identity.name,
    identity,
    usrLocal,
    etcFiles: {
      '/etc/hosts': path.join(pod.workDir, 'etc', 'hosts'),
      '/etc/hostname': path.join(pod.workDir, 'etc', 'hostname'),
      '/etc/resolv.conf': path.join(pod.workDir, 'etc', 'resolv.conf'),
    },
    emptyFile: path.join(pod.workDir, 'etc', 'empty'),
    mounts: mounts(pod, spec),
    env,
    workingDir: spec.workingDir ?? '/',
    argv,
  });
  return { spec, identity, argv: [...pod.network.enter(), pod.host.bwrap, ...sandbox] };
}

function mounts(pod: PodSetup, spec: ContainerSpec): SandboxMount[] {
  const mounts: SandboxMount[] = spec.volumeMounts.map((m) => {
    const volume = pod.volumes.get(m.name)!;
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
  for (const bind of pod.pip.binds) {
    mounts.push({ hostPath: bind, mountPath: bind, readOnly: true });
  }
  return mounts;
}

/** The files the kubelet writes into every container's /etc. */
export function writeEtcFiles(pod: PodSetup): void {
  const etc = path.join(pod.workDir, 'etc');
  fs.mkdirSync(etc);
  const { name, namespace } = pod.identity;
  const ip = pod.network.ip;
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
