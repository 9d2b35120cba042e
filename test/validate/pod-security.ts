// Check 2, Pod Security Admission: each control of the v1.28 Pod Security
// Standards passing and failing, with PSA's own wording.
import {
  checkPodSecurity,
  evaluatePod,
  namespacePolicy,
  violationMessage,
  type Level,
} from '../../validation/pod-security';
import type { LoadedDoc, Obj } from '../../validation/util';

/** A pod spec that passes the restricted level: pod-level runAsNonRoot and seccomp. */
function restrictedSpec(): Obj {
  const hardened = (name: string): Obj => ({
    name,
    image: 'registry.example/app:1',
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
  });
  return {
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    initContainers: [hardened('init')],
    containers: [hardened('app'), hardened('sidecar')],
  };
}

type Mutate = (spec: Obj, metadata: Obj) => void;

const podSc = (s: Obj): Obj => s.securityContext as Obj;
const containers = (s: Obj): Obj[] => s.containers as Obj[];
const csc = (s: Obj, i = 0): Obj => containers(s)[i].securityContext as Obj;
const initSc = (s: Obj): Obj => (s.initContainers as Obj[])[0].securityContext as Obj;

/** [check id, `reason (detail)`] of each violation at `level` after `mutate`. */
function violations(level: Level, mutate: Mutate): string[][] {
  const spec = restrictedSpec();
  const metadata: Obj = { annotations: {} };
  mutate(spec, metadata);
  return evaluatePod(level, metadata, spec).map((v) => [v.id, `${v.reason} (${v.detail})`]);
}

test('the base spec passes restricted', () => {
  expect(violations('restricted', () => undefined)).toEqual([]);
});

interface Case {
  control: string;
  level: Level;
  /** A change the control allows. */
  allowed: Mutate;
  /** A change it forbids, and the PSA message for it. */
  forbidden: Mutate;
  message: string;
}

const cases: Case[] = [
  {
    control: 'windowsHostProcess',
    level: 'baseline',
    allowed: (s) => (csc(s).windowsOptions = { hostProcess: false }),
    forbidden: (s) => {
      podSc(s).windowsOptions = { hostProcess: true };
      csc(s, 1).windowsOptions = { hostProcess: true };
    },
    message:
      'hostProcess (pod and container "sidecar" must not set securityContext.windowsOptions.hostProcess=true)',
  },
  {
    control: 'hostNamespaces',
    level: 'baseline',
    allowed: (s) => {
      s.hostNetwork = false;
      s.hostPID = false;
    },
    forbidden: (s) => {
      s.hostNetwork = true;
      s.hostIPC = true;
    },
    message: 'host namespaces (hostNetwork=true, hostIPC=true)',
  },
  {
    control: 'privileged',
    level: 'baseline',
    allowed: (s) => (csc(s).privileged = false),
    forbidden: (s) => {
      csc(s).privileged = true;
      initSc(s).privileged = true;
    },
    message: 'privileged (containers "init", "app" must not set securityContext.privileged=true)',
  },
  {
    control: 'capabilities_baseline',
    level: 'baseline',
    allowed: (s) => ((csc(s).capabilities as Obj).add = ['CHOWN', 'NET_BIND_SERVICE', 'SETUID']),
    forbidden: (s) => {
      (csc(s).capabilities as Obj).add = ['SYS_ADMIN', 'CHOWN', 'NET_RAW'];
      (csc(s, 1).capabilities as Obj).add = ['NET_RAW'];
    },
    message:
      'non-default capabilities (containers "app", "sidecar" must not include "NET_RAW", "SYS_ADMIN" in securityContext.capabilities.add)',
  },
  {
    control: 'hostPathVolumes',
    level: 'baseline',
    allowed: (s) => (s.volumes = [{ name: 'tmp', emptyDir: {} }]),
    forbidden: (s) =>
      (s.volumes = [
        { name: 'tmp', emptyDir: {} },
        { name: 'host', hostPath: { path: '/' } },
      ]),
    message: 'hostPath volumes (volume "host")',
  },
  {
    control: 'hostPorts',
    level: 'baseline',
    allowed: (s) => (containers(s)[0].ports = [{ containerPort: 80, hostPort: 0 }]),
    forbidden: (s) => {
      containers(s)[0].ports = [
        { containerPort: 80, hostPort: 80 },
        { containerPort: 443, hostPort: 443 },
      ];
      containers(s)[1].ports = [{ containerPort: 9000, hostPort: 9000 }];
    },
    // Sorted as strings, like PSA's sets.String.
    message: 'hostPort (containers "app", "sidecar" use hostPorts 443, 80, 9000)',
  },
  {
    control: 'appArmorProfile',
    level: 'baseline',
    allowed: (_s, m) =>
      (m.annotations = {
        'container.apparmor.security.beta.kubernetes.io/app': 'runtime/default',
        'container.apparmor.security.beta.kubernetes.io/sidecar': 'localhost/custom',
      }),
    forbidden: (_s, m) =>
      (m.annotations = { 'container.apparmor.security.beta.kubernetes.io/app': 'unconfined' }),
    message:
      'forbidden AppArmor profile (container.apparmor.security.beta.kubernetes.io/app="unconfined")',
  },
  {
    control: 'seLinuxOptions',
    level: 'baseline',
    allowed: (s) => {
      podSc(s).seLinuxOptions = { type: 'container_t', level: 's0:c123,c456' };
      csc(s).seLinuxOptions = { type: 'container_init_t' };
    },
    forbidden: (s) => {
      podSc(s).seLinuxOptions = { type: 'spc_t' };
      csc(s).seLinuxOptions = { user: 'system_u', role: 'system_r' };
    },
    message:
      'seLinuxOptions (pod and container "app" set forbidden securityContext.seLinuxOptions: type "spc_t"; user may not be set; role may not be set)',
  },
  {
    control: 'procMount',
    level: 'baseline',
    allowed: (s) => (csc(s).procMount = 'Default'),
    forbidden: (s) => (csc(s).procMount = 'Unmasked'),
    message: 'procMount (container "app" must not set securityContext.procMount to "Unmasked")',
  },
  {
    control: 'seccompProfile_baseline',
    level: 'baseline',
    allowed: (s) => (csc(s).seccompProfile = { type: 'Localhost', localhostProfile: 'p.json' }),
    forbidden: (s) => (csc(s).seccompProfile = { type: 'Unconfined' }),
    message:
      'seccompProfile (container "app" must not set securityContext.seccompProfile.type to "Unconfined")',
  },
  {
    control: 'sysctls',
    level: 'baseline',
    allowed: (s) =>
      (podSc(s).sysctls = [
        { name: 'net.ipv4.ip_local_reserved_ports', value: '30000-30100' },
        { name: 'kernel.shm_rmid_forced', value: '1' },
      ]),
    forbidden: (s) =>
      (podSc(s).sysctls = [
        { name: 'kernel.msgmax', value: '1' },
        { name: 'net.ipv4.tcp_syncookies', value: '1' },
        { name: 'net.ipv4.tcp_keepalive_time', value: '60' },
      ]),
    // tcp_keepalive_time is only allowed from v1.29.
    message: 'forbidden sysctls (kernel.msgmax, net.ipv4.tcp_keepalive_time)',
  },
  {
    control: 'restrictedVolumes',
    level: 'restricted',
    allowed: (s) =>
      (s.volumes = [
        { name: 'a', configMap: { name: 'c' } },
        { name: 'b', secret: { secretName: 's' } },
        { name: 'c', persistentVolumeClaim: { claimName: 'p' } },
        { name: 'd', projected: { sources: [] } },
        { name: 'e', downwardAPI: {} },
        { name: 'f', ephemeral: {} },
        { name: 'g', csi: { driver: 'x' } },
        { name: 'h' },
      ]),
    forbidden: (s) =>
      (s.volumes = [
        { name: 'a', emptyDir: {} },
        { name: 'b', nfs: { server: 'x', path: '/' } },
        { name: 'c', gitRepo: { repository: 'https://example.com/r.git' } },
      ]),
    message:
      'restricted volume types (volumes "b", "c" use restricted volume types "gitRepo", "nfs")',
  },
  {
    control: 'allowPrivilegeEscalation',
    level: 'restricted',
    allowed: () => undefined,
    forbidden: (s) => {
      delete csc(s).allowPrivilegeEscalation;
      csc(s, 1).allowPrivilegeEscalation = true;
    },
    message:
      'allowPrivilegeEscalation != false (containers "app", "sidecar" must set securityContext.allowPrivilegeEscalation=false)',
  },
  {
    control: 'runAsNonRoot',
    level: 'restricted',
    // Container-level true is enough without a pod-level setting.
    allowed: (s) => {
      delete podSc(s).runAsNonRoot;
      for (const c of [...containers(s), ...(s.initContainers as Obj[])]) {
        (c.securityContext as Obj).runAsNonRoot = true;
      }
    },
    forbidden: (s) => (csc(s, 1).runAsNonRoot = false),
    message:
      'runAsNonRoot != true (container "sidecar" must not set securityContext.runAsNonRoot=false)',
  },
  {
    control: 'runAsUser',
    level: 'restricted',
    allowed: (s) => {
      podSc(s).runAsUser = 1000;
      csc(s).runAsUser = 1;
    },
    forbidden: (s) => {
      podSc(s).runAsUser = 0;
      initSc(s).runAsUser = 0;
    },
    message: 'runAsUser=0 (pod and container "init" must not set runAsUser=0)',
  },
  {
    control: 'seccompProfile_restricted',
    level: 'restricted',
    // Every container may set it instead of the pod.
    allowed: (s) => {
      delete podSc(s).seccompProfile;
      for (const c of [...containers(s), ...(s.initContainers as Obj[])]) {
        (c.securityContext as Obj).seccompProfile = { type: 'RuntimeDefault' };
      }
    },
    forbidden: (s) => {
      delete podSc(s).seccompProfile;
      csc(s).seccompProfile = { type: 'RuntimeDefault' };
    },
    message:
      'seccompProfile (pod or containers "init", "sidecar" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
  },
  {
    control: 'capabilities_restricted',
    level: 'restricted',
    allowed: (s) => ((csc(s).capabilities as Obj).add = ['NET_BIND_SERVICE']),
    forbidden: (s) => {
      csc(s).capabilities = { drop: ['NET_RAW'], add: ['CHOWN'] };
      delete csc(s, 1).capabilities;
    },
    message:
      'unrestricted capabilities (containers "app", "sidecar" must set securityContext.capabilities.drop=["ALL"]; container "app" must not include "CHOWN" in securityContext.capabilities.add)',
  },
];

describe.each(cases)('$control', ({ control, level, allowed, forbidden, message }) => {
  test(`allowed at ${level}`, () => {
    expect(violations(level, allowed)).toEqual([]);
  });
  test(`forbidden at ${level}`, () => {
    expect(violations(level, forbidden)).toEqual([[control, message]]);
  });
  test('privileged allows it', () => {
    expect(violations('privileged', forbidden)).toEqual([]);
  });
  if (level === 'restricted') {
    test('baseline allows it', () => {
      expect(violations('baseline', forbidden)).toEqual([]);
    });
  }
});

describe('levels', () => {
  test('at restricted, restricted checks replace their baseline counterparts', () => {
    const forbidden: Mutate = (s) => {
      (csc(s).capabilities as Obj).add = ['SYS_ADMIN'];
      s.volumes = [{ name: 'h', hostPath: { path: '/' } }];
      csc(s).seccompProfile = { type: 'Unconfined' };
    };
    expect(violations('baseline', forbidden).map(([id]) => id)).toEqual([
      'capabilities_baseline',
      'hostPathVolumes',
      'seccompProfile_baseline',
    ]);
    expect(violations('restricted', forbidden).map(([id]) => id)).toEqual([
      'capabilities_restricted',
      'restrictedVolumes',
      'seccompProfile_restricted',
    ]);
  });

  test('baseline controls still apply at restricted', () => {
    expect(violations('restricted', (s) => (s.hostPID = true))).toEqual([
      ['hostNamespaces', 'host namespaces (hostPID=true)'],
    ]);
  });

  test('ephemeral containers are checked too, after init and regular ones', () => {
    const result = violations('restricted', (s) => {
      s.ephemeralContainers = [
        { name: 'debug', image: 'busybox:1', securityContext: { privileged: true } },
      ];
      initSc(s).privileged = true;
    });
    expect(result[0]).toEqual([
      'privileged',
      'privileged (containers "init", "debug" must not set securityContext.privileged=true)',
    ]);
    expect(result.map(([id]) => id)).toEqual([
      'privileged',
      'allowPrivilegeEscalation',
      'capabilities_restricted',
    ]);
  });

  test('a pod-level runAsNonRoot=false is not overridden by containers', () => {
    expect(
      violations('restricted', (s) => {
        podSc(s).runAsNonRoot = false;
        csc(s).runAsNonRoot = true;
      }),
    ).toEqual([
      [
        'runAsNonRoot',
        'runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)',
      ],
    ]);
  });

  test('Windows pods are exempt from the Linux-only restricted controls', () => {
    const windows: Mutate = (s) => {
      s.os = { name: 'windows' };
      for (const c of [...containers(s), ...(s.initContainers as Obj[])]) delete c.securityContext;
      delete podSc(s).seccompProfile;
    };
    expect(violations('restricted', windows)).toEqual([]);
  });

  test('the admission message lists every violation', () => {
    const spec = restrictedSpec();
    delete podSc(spec).runAsNonRoot;
    csc(spec).privileged = true;
    expect(violationMessage('restricted:latest', evaluatePod('restricted', undefined, spec))).toBe(
      'violates PodSecurity "restricted:latest": privileged (container "app" must not set securityContext.privileged=true), ' +
        'runAsNonRoot != true (pod or containers "init", "app", "sidecar" must set securityContext.runAsNonRoot=true)',
    );
  });
});

describe('namespace policy', () => {
  test('no label: privileged', () => {
    expect(namespacePolicy({})).toEqual({
      level: 'privileged',
      policy: 'privileged:latest',
      errors: [],
    });
  });

  test('level and version labels', () => {
    expect(
      namespacePolicy({
        'pod-security.kubernetes.io/enforce': 'baseline',
        'pod-security.kubernetes.io/enforce-version': 'v1.28',
      }),
    ).toEqual({ level: 'baseline', policy: 'baseline:v1.28', errors: [] });
  });

  test('an invalid level is an error and enforced as restricted (PSA fails closed)', () => {
    const p = namespacePolicy({
      'pod-security.kubernetes.io/enforce': 'strict',
      'pod-security.kubernetes.io/enforce-version': '1.28',
    });
    expect(p.level).toBe('restricted');
    expect(p.errors).toEqual([
      'label pod-security.kubernetes.io/enforce: invalid level "strict" (must be privileged, baseline or restricted)',
      'label pod-security.kubernetes.io/enforce-version: invalid version "1.28" (must be "latest" or like "v1.28")',
    ]);
  });
});

describe('checkPodSecurity over an output', () => {
  const ns = (name: string, level?: string): LoadedDoc => ({
    file: 'ns.yaml',
    index: 0,
    doc: {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, labels: level ? { 'pod-security.kubernetes.io/enforce': level } : {} },
    },
  });
  const rootJob = (namespace?: string): LoadedDoc => ({
    file: 'job.yaml',
    index: 1,
    doc: {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'backup', ...(namespace ? { namespace } : {}) },
      spec: {
        schedule: '@daily',
        jobTemplate: {
          spec: {
            template: {
              spec: {
                containers: [{ name: 'b', image: 'b:1', securityContext: { runAsUser: 0 } }],
              },
            },
          },
        },
      },
    },
  });

  test('a CronJob in a restricted namespace', () => {
    const [f] = checkPodSecurity([ns('data', 'restricted'), rootJob('data')]);
    expect(f).toEqual({
      file: 'job.yaml',
      index: 1,
      kind: 'CronJob',
      name: 'backup',
      message: expect.stringMatching(
        /^violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false/,
      ),
    });
    expect(f.message).toContain('runAsUser=0 (container "b" must not set runAsUser=0)');
  });

  test('the same CronJob in a baseline or unlabelled namespace passes', () => {
    expect(checkPodSecurity([ns('data', 'baseline'), rootJob('data')])).toEqual([]);
    expect(checkPodSecurity([ns('data'), rootJob('data')])).toEqual([]);
  });

  test('a namespace the output does not define is an error; kube-system is privileged', () => {
    expect(checkPodSecurity([rootJob('elsewhere')]).map((f) => f.message)).toEqual([
      'namespace "elsewhere" is not defined in ./, so its Pod Security level is unknown',
    ]);
    expect(checkPodSecurity([rootJob()]).map((f) => f.message)).toEqual([
      'namespace "default" is not defined in ./, so its Pod Security level is unknown',
    ]);
    expect(checkPodSecurity([rootJob('kube-system')])).toEqual([]);
  });

  test('an invalid label is reported on the Namespace', () => {
    const findings = checkPodSecurity([ns('data', 'Restricted')]);
    expect(findings).toEqual([
      expect.objectContaining({
        kind: 'Namespace',
        name: 'data',
        message: expect.stringContaining('invalid level "Restricted"'),
      }),
    ]);
  });
});
