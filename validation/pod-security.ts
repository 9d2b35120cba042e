// Check 2: Pod Security Admission. Every pod-bearing object is evaluated
// against the level its namespace enforces (the Namespace's
// `pod-security.kubernetes.io/enforce` label; no label: privileged), with the
// checks and messages of Kubernetes' k8s.io/pod-security-admission policy
// package at v1.28: the 11 baseline controls, and for restricted the 6
// restricted ones on top, three of which replace a baseline one
// (restrictedVolumes → hostPathVolumes, capabilities_restricted →
// capabilities_baseline, seccompProfile_restricted → seccompProfile_baseline).
// Containers are visited like PSA does: init, regular, then ephemeral.
import * as path from 'path';
import {
  allContainers,
  finding,
  joinQuote,
  namespaceOf,
  obj,
  objs,
  pluralize,
  podTemplateOf,
  sortedSet,
  str,
  strs,
  stringMap,
  type Finding,
  type LoadedDoc,
  type Obj,
} from './util';

export type Level = 'privileged' | 'baseline' | 'restricted';

export const ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';
export const ENFORCE_VERSION_LABEL = 'pod-security.kubernetes.io/enforce-version';

/** A failed control: PSA's CheckResult.ForbiddenReason / ForbiddenDetail. */
export interface Violation {
  /** PSA's check ID, e.g. `runAsNonRoot`. */
  id: string;
  reason: string;
  detail: string;
}

type Result = Omit<Violation, 'id'> | undefined;

interface Check {
  id: string;
  level: 'baseline' | 'restricted';
  /** Baseline checks this restricted check replaces at the restricted level. */
  overrides?: string[];
  run(metadata: Obj | undefined, spec: Obj): Result;
}

const sc = (o: Obj | undefined): Obj | undefined => obj(o?.securityContext);
const nameOf = (c: Obj): string => str(c.name) ?? '';
const isWindows = (spec: Obj): boolean => str(obj(spec.os)?.name) === 'windows';

/** `container "a"` / `containers "a", "b"`. */
function containerList(names: string[]): string {
  return `${pluralize('container', 'containers', names.length)} ${joinQuote(names)}`;
}

/** Names of the containers for which `bad` holds. */
function badContainers(spec: Obj, bad: (c: Obj) => boolean): string[] {
  return allContainers(spec).filter(bad).map(nameOf);
}

const APPARMOR_PREFIX = 'container.apparmor.security.beta.kubernetes.io/';

const CAPABILITIES_BASELINE = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);

const SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t']);

/** Safe sysctls as of v1.27 (v1.29 adds the tcp_keepalive/fin ones). */
const SYSCTLS = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
]);

const ALLOWED_VOLUME_SOURCES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);

/** The restricted volume sources, in the order PSA names the first one it finds. */
const RESTRICTED_VOLUME_SOURCES = [
  'hostPath',
  'gcePersistentDisk',
  'awsElasticBlockStore',
  'gitRepo',
  'nfs',
  'iscsi',
  'glusterfs',
  'rbd',
  'flexVolume',
  'cinder',
  'cephfs',
  'flocker',
  'fc',
  'azureFile',
  'vsphereVolume',
  'quobyte',
  'azureDisk',
  'photonPersistentDisk',
  'portworxVolume',
  'scaleIO',
  'storageos',
];

const validSeccomp = (type: string | undefined): boolean =>
  type === 'RuntimeDefault' || type === 'Localhost';

function appArmorProfile(metadata: Obj | undefined): Result {
  const bad = Object.entries(stringMap(metadata?.annotations))
    .filter(
      ([k, v]) =>
        k.startsWith(APPARMOR_PREFIX) &&
        !(v === '' || v === 'runtime/default' || v.startsWith('localhost/')),
    )
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .sort();
  if (bad.length === 0) return undefined;
  return {
    reason: pluralize('forbidden AppArmor profile', 'forbidden AppArmor profiles', bad.length),
    detail: bad.join(', '),
  };
}

function capabilitiesBaseline(_m: Obj | undefined, spec: Obj): Result {
  const forbidden: string[] = [];
  const containers = badContainers(spec, (c) => {
    const add = strs(obj(sc(c)?.capabilities)?.add).filter(
      (cap) => !CAPABILITIES_BASELINE.has(cap),
    );
    forbidden.push(...add);
    return add.length > 0;
  });
  if (containers.length === 0) return undefined;
  return {
    reason: 'non-default capabilities',
    detail: `${containerList(containers)} must not include ${joinQuote(sortedSet(forbidden))} in securityContext.capabilities.add`,
  };
}

function hostNamespaces(_m: Obj | undefined, spec: Obj): Result {
  const set = ['hostNetwork', 'hostPID', 'hostIPC']
    .filter((field) => spec[field] === true)
    .map((field) => `${field}=true`);
  return set.length > 0 ? { reason: 'host namespaces', detail: set.join(', ') } : undefined;
}

function hostPathVolumes(_m: Obj | undefined, spec: Obj): Result {
  const volumes = objs(spec.volumes)
    .filter((v) => obj(v.hostPath) !== undefined)
    .map(nameOf);
  if (volumes.length === 0) return undefined;
  return {
    reason: 'hostPath volumes',
    detail: `${pluralize('volume', 'volumes', volumes.length)} ${joinQuote(volumes)}`,
  };
}

function hostPorts(_m: Obj | undefined, spec: Obj): Result {
  const ports: string[] = [];
  const containers = badContainers(spec, (c) => {
    const used = objs(c.ports)
      .map((p) => p.hostPort)
      .filter((p): p is number => typeof p === 'number' && p !== 0);
    ports.push(...used.map(String));
    return used.length > 0;
  });
  if (containers.length === 0) return undefined;
  const sorted = sortedSet(ports);
  return {
    reason: 'hostPort',
    detail: `${containerList(containers)} ${pluralize('uses', 'use', containers.length)} ${pluralize('hostPort', 'hostPorts', sorted.length)} ${sorted.join(', ')}`,
  };
}

function privileged(_m: Obj | undefined, spec: Obj): Result {
  const containers = badContainers(spec, (c) => sc(c)?.privileged === true);
  if (containers.length === 0) return undefined;
  return {
    reason: 'privileged',
    detail: `${containerList(containers)} must not set securityContext.privileged=true`,
  };
}

function procMount(_m: Obj | undefined, spec: Obj): Result {
  const types: string[] = [];
  const containers = badContainers(spec, (c) => {
    const value = sc(c)?.procMount;
    if (value === undefined || value === null || value === 'Default') return false;
    types.push(String(value));
    return true;
  });
  if (containers.length === 0) return undefined;
  return {
    reason: 'procMount',
    detail: `${containerList(containers)} must not set securityContext.procMount to ${joinQuote(sortedSet(types))}`,
  };
}

function seLinuxOptions(_m: Obj | undefined, spec: Obj): Result {
  const badTypes: string[] = [];
  let setUser = false;
  let setRole = false;
  const valid = (opts: Obj | undefined): boolean => {
    if (!opts) return true;
    let ok = true;
    const type = str(opts.type) ?? '';
    if (!SELINUX_TYPES.has(type)) {
      ok = false;
      badTypes.push(type);
    }
    if ((str(opts.user) ?? '') !== '') {
      ok = false;
      setUser = true;
    }
    if ((str(opts.role) ?? '') !== '') {
      ok = false;
      setRole = true;
    }
    return ok;
  };
  const setters: string[] = [];
  if (!valid(obj(sc(spec)?.seLinuxOptions))) setters.push('pod');
  const containers = badContainers(spec, (c) => !valid(obj(sc(c)?.seLinuxOptions)));
  if (containers.length > 0) setters.push(containerList(containers));
  if (setters.length === 0) return undefined;
  const data: string[] = [];
  const types = sortedSet(badTypes);
  if (types.length > 0)
    data.push(`${pluralize('type', 'types', types.length)} ${joinQuote(types)}`);
  if (setUser) data.push('user may not be set');
  if (setRole) data.push('role may not be set');
  return {
    reason: 'seLinuxOptions',
    detail: `${setters.join(' and ')} set forbidden securityContext.seLinuxOptions: ${data.join('; ')}`,
  };
}

const seccompType = (o: Obj | undefined): string | undefined =>
  str(obj(sc(o)?.seccompProfile)?.type);
const hasSeccomp = (o: Obj | undefined): boolean => obj(sc(o)?.seccompProfile) !== undefined;

/** Explicit seccompProfile types other than RuntimeDefault/Localhost (v1.19+: fields, not annotations). */
function seccompProfileBaseline(_m: Obj | undefined, spec: Obj): Result {
  const setters: string[] = [];
  const badValues: string[] = [];
  const bad = (o: Obj): boolean => {
    if (!hasSeccomp(o) || validSeccomp(seccompType(o))) return false;
    badValues.push(seccompType(o) ?? '');
    return true;
  };
  if (bad(spec)) setters.push('pod');
  const containers = badContainers(spec, bad);
  if (containers.length > 0) setters.push(containerList(containers));
  if (setters.length === 0) return undefined;
  return {
    reason: 'seccompProfile',
    detail: `${setters.join(' and ')} must not set securityContext.seccompProfile.type to ${joinQuote(sortedSet(badValues))}`,
  };
}

function sysctls(_m: Obj | undefined, spec: Obj): Result {
  const bad = objs(sc(spec)?.sysctls)
    .map((s) => str(s.name) ?? '')
    .filter((name) => !SYSCTLS.has(name));
  return bad.length > 0 ? { reason: 'forbidden sysctls', detail: bad.join(', ') } : undefined;
}

function windowsHostProcess(_m: Obj | undefined, spec: Obj): Result {
  const hostProcess = (o: Obj | undefined): boolean =>
    obj(sc(o)?.windowsOptions)?.hostProcess === true;
  const setters: string[] = [];
  if (hostProcess(spec)) setters.push('pod');
  const containers = badContainers(spec, hostProcess);
  if (containers.length > 0) setters.push(containerList(containers));
  if (setters.length === 0) return undefined;
  return {
    reason: 'hostProcess',
    detail: `${setters.join(' and ')} must not set securityContext.windowsOptions.hostProcess=true`,
  };
}

function allowPrivilegeEscalation(_m: Obj | undefined, spec: Obj): Result {
  if (isWindows(spec)) return undefined;
  const containers = badContainers(spec, (c) => sc(c)?.allowPrivilegeEscalation !== false);
  if (containers.length === 0) return undefined;
  return {
    reason: 'allowPrivilegeEscalation != false',
    detail: `${containerList(containers)} must set securityContext.allowPrivilegeEscalation=false`,
  };
}

function capabilitiesRestricted(_m: Obj | undefined, spec: Obj): Result {
  if (isWindows(spec)) return undefined;
  const missingDropAll: string[] = [];
  const addingForbidden: string[] = [];
  const forbidden: string[] = [];
  for (const c of allContainers(spec)) {
    const caps = obj(sc(c)?.capabilities);
    if (!caps) {
      missingDropAll.push(nameOf(c));
      continue;
    }
    if (!strs(caps.drop).includes('ALL')) missingDropAll.push(nameOf(c));
    const add = strs(caps.add).filter((cap) => cap !== 'NET_BIND_SERVICE');
    if (add.length > 0) {
      addingForbidden.push(nameOf(c));
      forbidden.push(...add);
    }
  }
  const details: string[] = [];
  if (missingDropAll.length > 0) {
    details.push(
      `${containerList(missingDropAll)} must set securityContext.capabilities.drop=["ALL"]`,
    );
  }
  if (addingForbidden.length > 0) {
    details.push(
      `${containerList(addingForbidden)} must not include ${joinQuote(sortedSet(forbidden))} in securityContext.capabilities.add`,
    );
  }
  return details.length > 0
    ? { reason: 'unrestricted capabilities', detail: details.join('; ') }
    : undefined;
}

function restrictedVolumes(_m: Obj | undefined, spec: Obj): Result {
  const volumes: string[] = [];
  const types: string[] = [];
  for (const v of objs(spec.volumes)) {
    const sources = Object.keys(v).filter((k) => k !== 'name' && obj(v[k]) !== undefined);
    // A volume without a source is defaulted to emptyDir by the API server.
    if (sources.length === 0 || sources.some((s) => ALLOWED_VOLUME_SOURCES.has(s))) continue;
    volumes.push(nameOf(v));
    types.push(RESTRICTED_VOLUME_SOURCES.find((s) => sources.includes(s)) ?? 'unknown');
  }
  if (volumes.length === 0) return undefined;
  const sorted = sortedSet(types);
  return {
    reason: 'restricted volume types',
    detail: `${pluralize('volume', 'volumes', volumes.length)} ${joinQuote(volumes)} ${pluralize('uses', 'use', volumes.length)} ${pluralize('restricted volume type', 'restricted volume types', sorted.length)} ${joinQuote(sorted)}`,
  };
}

function runAsNonRoot(_m: Obj | undefined, spec: Obj): Result {
  const setters: string[] = [];
  const pod = sc(spec)?.runAsNonRoot;
  if (pod === false) setters.push('pod');
  const podNonRoot = pod === true;
  const explicitlyBad: string[] = [];
  const implicitlyBad: string[] = [];
  for (const c of allContainers(spec)) {
    const value = sc(c)?.runAsNonRoot;
    if (typeof value === 'boolean') {
      if (!value) explicitlyBad.push(nameOf(c));
    } else if (!podNonRoot) {
      implicitlyBad.push(nameOf(c));
    }
  }
  if (explicitlyBad.length > 0) setters.push(containerList(explicitlyBad));
  if (setters.length > 0) {
    return {
      reason: 'runAsNonRoot != true',
      detail: `${setters.join(' and ')} must not set securityContext.runAsNonRoot=false`,
    };
  }
  if (implicitlyBad.length > 0) {
    return {
      reason: 'runAsNonRoot != true',
      detail: `pod or ${containerList(implicitlyBad)} must set securityContext.runAsNonRoot=true`,
    };
  }
  return undefined;
}

function runAsUser(_m: Obj | undefined, spec: Obj): Result {
  const setters: string[] = [];
  if (sc(spec)?.runAsUser === 0) setters.push('pod');
  const containers = badContainers(spec, (c) => sc(c)?.runAsUser === 0);
  if (containers.length > 0) setters.push(containerList(containers));
  if (setters.length === 0) return undefined;
  return { reason: 'runAsUser=0', detail: `${setters.join(' and ')} must not set runAsUser=0` };
}

function seccompProfileRestricted(_m: Obj | undefined, spec: Obj): Result {
  if (isWindows(spec)) return undefined;
  const setters: string[] = [];
  const badValues: string[] = [];
  let podSet = false;
  if (hasSeccomp(spec)) {
    if (validSeccomp(seccompType(spec))) podSet = true;
    else {
      setters.push('pod');
      badValues.push(seccompType(spec) ?? '');
    }
  }
  const explicitlyBad: string[] = [];
  const implicitlyBad: string[] = [];
  for (const c of allContainers(spec)) {
    if (hasSeccomp(c)) {
      if (!validSeccomp(seccompType(c))) {
        explicitlyBad.push(nameOf(c));
        badValues.push(seccompType(c) ?? '');
      }
    } else if (!podSet) {
      implicitlyBad.push(nameOf(c));
    }
  }
  if (explicitlyBad.length > 0) setters.push(containerList(explicitlyBad));
  if (setters.length > 0) {
    return {
      reason: 'seccompProfile',
      detail: `${setters.join(' and ')} must not set securityContext.seccompProfile.type to ${joinQuote(sortedSet(badValues))}`,
    };
  }
  if (implicitlyBad.length > 0) {
    return {
      reason: 'seccompProfile',
      detail: `pod or ${containerList(implicitlyBad)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`,
    };
  }
  return undefined;
}

/** All checks, in PSA's order: baseline IDs sorted, then restricted IDs sorted. */
export const CHECKS: readonly Check[] = [
  { id: 'appArmorProfile', level: 'baseline', run: appArmorProfile },
  { id: 'capabilities_baseline', level: 'baseline', run: capabilitiesBaseline },
  { id: 'hostNamespaces', level: 'baseline', run: hostNamespaces },
  { id: 'hostPathVolumes', level: 'baseline', run: hostPathVolumes },
  { id: 'hostPorts', level: 'baseline', run: hostPorts },
  { id: 'privileged', level: 'baseline', run: privileged },
  { id: 'procMount', level: 'baseline', run: procMount },
  { id: 'seLinuxOptions', level: 'baseline', run: seLinuxOptions },
  { id: 'seccompProfile_baseline', level: 'baseline', run: seccompProfileBaseline },
  { id: 'sysctls', level: 'baseline', run: sysctls },
  { id: 'windowsHostProcess', level: 'baseline', run: windowsHostProcess },
  { id: 'allowPrivilegeEscalation', level: 'restricted', run: allowPrivilegeEscalation },
  {
    id: 'capabilities_restricted',
    level: 'restricted',
    overrides: ['capabilities_baseline'],
    run: capabilitiesRestricted,
  },
  {
    id: 'restrictedVolumes',
    level: 'restricted',
    overrides: ['hostPathVolumes'],
    run: restrictedVolumes,
  },
  { id: 'runAsNonRoot', level: 'restricted', run: runAsNonRoot },
  { id: 'runAsUser', level: 'restricted', run: runAsUser },
  {
    id: 'seccompProfile_restricted',
    level: 'restricted',
    overrides: ['seccompProfile_baseline'],
    run: seccompProfileRestricted,
  },
];

const OVERRIDDEN_AT_RESTRICTED = new Set(CHECKS.flatMap((c) => c.overrides ?? []));

/** The controls a pod (template) fails at `level`, in PSA's order. */
export function evaluatePod(level: Level, metadata: Obj | undefined, spec: Obj): Violation[] {
  if (level === 'privileged') return [];
  const checks = CHECKS.filter((c) =>
    level === 'baseline'
      ? c.level === 'baseline'
      : c.level === 'restricted' || !OVERRIDDEN_AT_RESTRICTED.has(c.id),
  );
  const violations: Violation[] = [];
  for (const check of checks) {
    const result = check.run(metadata, spec);
    if (result) violations.push({ id: check.id, ...result });
  }
  return violations;
}

/** PSA's admission message: `violates PodSecurity "restricted:latest": reason (detail), ...`. */
export function violationMessage(policy: string, violations: readonly Violation[]): string {
  const parts = violations.map((v) => (v.detail === '' ? v.reason : `${v.reason} (${v.detail})`));
  return `violates PodSecurity ${JSON.stringify(policy)}: ${parts.join(', ')}`;
}

const LEVELS: readonly string[] = ['privileged', 'baseline', 'restricted'];

/** A namespace's enforced policy from its labels, and what is wrong with the labels. */
export function namespacePolicy(labels: Record<string, string>): {
  level: Level;
  policy: string;
  errors: string[];
} {
  const errors: string[] = [];
  let level: Level = 'privileged';
  const value = labels[ENFORCE_LABEL];
  if (value !== undefined) {
    if (LEVELS.includes(value)) level = value as Level;
    else {
      // PSA fails closed: an invalid level is enforced as restricted.
      errors.push(
        `label ${ENFORCE_LABEL}: invalid level ${JSON.stringify(value)} (must be privileged, baseline or restricted)`,
      );
      level = 'restricted';
    }
  }
  let version = 'latest';
  const versionLabel = labels[ENFORCE_VERSION_LABEL];
  if (versionLabel !== undefined) {
    if (versionLabel === 'latest' || /^v1\.(0|[1-9][0-9]*)$/.test(versionLabel)) {
      version = versionLabel;
    } else {
      errors.push(
        `label ${ENFORCE_VERSION_LABEL}: invalid version ${JSON.stringify(versionLabel)} (must be "latest" or like "v1.28")`,
      );
    }
  }
  return { level, policy: `${level}:${version}`, errors };
}

/**
 * Pod Security findings for a set of manifests applied together (one folder):
 * each pod-bearing object against the policy of its namespace in the set (the
 * checks are those of v1.28, whatever enforce-version says), plus invalid
 * labels on the Namespaces.
 */
export function checkPodSecurity(docs: readonly LoadedDoc[]): Finding[] {
  const findings: Finding[] = [];
  const namespaces = new Map<string, ReturnType<typeof namespacePolicy>>();
  for (const d of docs) {
    const o = obj(d.doc);
    if (str(o?.apiVersion) !== 'v1' || str(o?.kind) !== 'Namespace') continue;
    const metadata = obj(o?.metadata);
    const name = str(metadata?.name);
    if (name === undefined) continue;
    const policy = namespacePolicy(stringMap(metadata?.labels));
    namespaces.set(name, policy);
    findings.push(...policy.errors.map((e) => finding(d, e)));
  }
  for (const d of docs) {
    const pod = podTemplateOf(d.doc);
    if (!pod) continue;
    const namespace = namespaceOf(d.doc);
    const policy =
      namespaces.get(namespace) ?? (namespace === 'kube-system' ? namespacePolicy({}) : undefined);
    if (!policy) {
      findings.push(
        finding(
          d,
          `namespace ${JSON.stringify(namespace)} is not defined in ${path.dirname(d.file)}/, so its Pod Security level is unknown`,
        ),
      );
      continue;
    }
    const violations = evaluatePod(policy.level, pod.metadata, pod.spec);
    if (violations.length > 0)
      findings.push(finding(d, violationMessage(policy.policy, violations)));
  }
  return findings;
}
