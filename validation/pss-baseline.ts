// The 11 baseline controls of Kubernetes' Pod Security Standards, as
// k8s.io/pod-security-admission v1.28 checks and words them.
import { joinQuote, obj, objs, pluralize, sortedSet, str, strs, stringMap, type Obj } from './util';
import {
  badContainers,
  containerList,
  hasSeccomp,
  nameOf,
  sc,
  seccompType,
  validSeccomp,
  type Result,
} from './pss-shared';

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

export function appArmorProfile(metadata: Obj | undefined): Result {
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

export function capabilitiesBaseline(_m: Obj | undefined, spec: Obj): Result {
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

export function hostNamespaces(_m: Obj | undefined, spec: Obj): Result {
  const set = ['hostNetwork', 'hostPID', 'hostIPC']
    .filter((field) => spec[field] === true)
    .map((field) => `${field}=true`);
  return set.length > 0 ? { reason: 'host namespaces', detail: set.join(', ') } : undefined;
}

export function hostPathVolumes(_m: Obj | undefined, spec: Obj): Result {
  const volumes = objs(spec.volumes)
    .filter((v) => obj(v.hostPath) !== undefined)
    .map(nameOf);
  if (volumes.length === 0) return undefined;
  return {
    reason: 'hostPath volumes',
    detail: `${pluralize('volume', 'volumes', volumes.length)} ${joinQuote(volumes)}`,
  };
}

export function hostPorts(_m: Obj | undefined, spec: Obj): Result {
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

export function privileged(_m: Obj | undefined, spec: Obj): Result {
  const containers = badContainers(spec, (c) => sc(c)?.privileged === true);
  if (containers.length === 0) return undefined;
  return {
    reason: 'privileged',
    detail: `${containerList(containers)} must not set securityContext.privileged=true`,
  };
}

export function procMount(_m: Obj | undefined, spec: Obj): Result {
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

export function seLinuxOptions(_m: Obj | undefined, spec: Obj): Result {
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

/** Explicit seccompProfile types other than RuntimeDefault/Localhost (v1.19+: fields, not annotations). */
export function seccompProfileBaseline(_m: Obj | undefined, spec: Obj): Result {
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

export function sysctls(_m: Obj | undefined, spec: Obj): Result {
  const bad = objs(sc(spec)?.sysctls)
    .map((s) => str(s.name) ?? '')
    .filter((name) => !SYSCTLS.has(name));
  return bad.length > 0 ? { reason: 'forbidden sysctls', detail: bad.join(', ') } : undefined;
}

export function windowsHostProcess(_m: Obj | undefined, spec: Obj): Result {
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
