// The 6 restricted controls of Kubernetes' Pod Security Standards (v1.28),
// checked on top of baseline; three of them replace a baseline one.
import { allContainers, joinQuote, obj, objs, pluralize, sortedSet, strs, type Obj } from './util';
import {
  badContainers,
  containerList,
  hasSeccomp,
  isWindows,
  nameOf,
  sc,
  seccompType,
  validSeccomp,
  type Result,
} from './pss-shared';

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

export function allowPrivilegeEscalation(_m: Obj | undefined, spec: Obj): Result {
  if (isWindows(spec)) return undefined;
  const containers = badContainers(spec, (c) => sc(c)?.allowPrivilegeEscalation !== false);
  if (containers.length === 0) return undefined;
  return {
    reason: 'allowPrivilegeEscalation != false',
    detail: `${containerList(containers)} must set securityContext.allowPrivilegeEscalation=false`,
  };
}

export function capabilitiesRestricted(_m: Obj | undefined, spec: Obj): Result {
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

export function restrictedVolumes(_m: Obj | undefined, spec: Obj): Result {
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

export function runAsNonRoot(_m: Obj | undefined, spec: Obj): Result {
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

export function runAsUser(_m: Obj | undefined, spec: Obj): Result {
  const setters: string[] = [];
  if (sc(spec)?.runAsUser === 0) setters.push('pod');
  const containers = badContainers(spec, (c) => sc(c)?.runAsUser === 0);
  if (containers.length > 0) setters.push(containerList(containers));
  if (setters.length === 0) return undefined;
  return { reason: 'runAsUser=0', detail: `${setters.join(' and ')} must not set runAsUser=0` };
}

export function seccompProfileRestricted(_m: Obj | undefined, spec: Obj): Result {
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
