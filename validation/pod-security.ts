// Check 2: Pod Security Admission. Every pod-bearing object is evaluated
// against the level its namespace enforces (the Namespace's
// `pod-security.kubernetes.io/enforce` label; no label: privileged), with the
// checks and messages of Kubernetes' k8s.io/pod-security-admission policy
// package at v1.28: the 11 baseline controls, and for restricted the 6
// restricted ones on top, three of which replace a baseline one
// (restrictedVolumes → hostPathVolumes, capabilities_restricted →
// capabilities_baseline, seccompProfile_restricted → seccompProfile_baseline).
// Containers are visited like PSA does: init, regular, then ephemeral. The
// controls themselves are in pss-baseline.ts and pss-restricted.ts.
import * as path from 'path';
import {
  appArmorProfile,
  capabilitiesBaseline,
  hostNamespaces,
  hostPathVolumes,
  hostPorts,
  privileged,
  procMount,
  seccompProfileBaseline,
  seLinuxOptions,
  sysctls,
  windowsHostProcess,
} from './pss-baseline';
import {
  allowPrivilegeEscalation,
  capabilitiesRestricted,
  restrictedVolumes,
  runAsNonRoot,
  runAsUser,
  seccompProfileRestricted,
} from './pss-restricted';
import type { Result, Violation } from './pss-shared';
import {
  finding,
  namespaceOf,
  obj,
  podTemplateOf,
  str,
  stringMap,
  type Finding,
  type LoadedDoc,
  type Obj,
} from './util';

export type { Violation } from './pss-shared';

export type Level = 'privileged' | 'baseline' | 'restricted';

export const ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';
export const ENFORCE_VERSION_LABEL = 'pod-security.kubernetes.io/enforce-version';

interface Check {
  id: string;
  level: 'baseline' | 'restricted';
  /** Baseline checks this restricted check replaces at the restricted level. */
  overrides?: string[];
  run(metadata: Obj | undefined, spec: Obj): Result;
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
