import { Construct } from 'constructs';
import { KubeNamespace } from '../imports/k8s';
import { InvalidPropError } from './errors';
import { isDnsLabel } from './names';

/** The Pod Security Standards levels, as Pod Security Admission spells them. */
export enum PodSecurityLevel {
  PRIVILEGED = 'privileged',
  BASELINE = 'baseline',
  RESTRICTED = 'restricted',
}

const LEVEL_ORDER: readonly PodSecurityLevel[] = [
  PodSecurityLevel.PRIVILEGED,
  PodSecurityLevel.BASELINE,
  PodSecurityLevel.RESTRICTED,
];

/** True when `level` is at least as strict as `than`. */
export function isAtLeast(level: PodSecurityLevel, than: PodSecurityLevel): boolean {
  return LEVEL_ORDER.indexOf(level) >= LEVEL_ORDER.indexOf(than);
}

export interface PodSecurityNamespaceProps {
  /** The namespace's name (a DNS-1123 label). */
  readonly name: string;
  /** The level Pod Security Admission enforces: pods that violate it are rejected. */
  readonly enforce: PodSecurityLevel;
  /**
   * The level that `kubectl apply` warns about and the audit log records.
   * @default - the same as `enforce`
   */
  readonly warn?: PodSecurityLevel;
  /**
   * The Pod Security Standards version the levels refer to; pinned so that a
   * cluster upgrade cannot tighten the rules under running workloads.
   * @default 'v1.28'
   */
  readonly version?: string;
}

/**
 * A Namespace labelled for Pod Security Admission. Workload constructs take it
 * as their `namespace` so they can refuse, at synth time, to run where the
 * cluster would reject their pods.
 */
export class PodSecurityNamespace extends Construct {
  public readonly name: string;
  public readonly enforce: PodSecurityLevel;

  constructor(scope: Construct, id: string, props: PodSecurityNamespaceProps) {
    super(scope, id);
    if (!isDnsLabel(props.name)) {
      throw new InvalidPropError(
        this,
        'name',
        props.name,
        'a DNS-1123 label: lowercase letters, digits and "-", at most 63 characters',
      );
    }
    for (const prop of ['enforce', 'warn'] as const) {
      const level = props[prop];
      if (level !== undefined && !LEVEL_ORDER.includes(level)) {
        throw new InvalidPropError(this, prop, level, `one of ${LEVEL_ORDER.join(', ')}`);
      }
    }
    const version = props.version ?? 'v1.28';
    if (!/^(latest|v1\.\d+)$/.test(version)) {
      throw new InvalidPropError(
        this,
        'version',
        version,
        '"latest" or a Kubernetes minor version like "v1.28"',
      );
    }
    this.name = props.name;
    this.enforce = props.enforce;
    const warnLevel = props.warn ?? props.enforce;

    new KubeNamespace(this, 'Resource', {
      metadata: {
        name: props.name,
        labels: {
          'kubernetes.io/metadata.name': props.name,
          'pod-security.kubernetes.io/enforce': props.enforce,
          'pod-security.kubernetes.io/enforce-version': version,
          'pod-security.kubernetes.io/warn': warnLevel,
          'pod-security.kubernetes.io/warn-version': version,
          'pod-security.kubernetes.io/audit': warnLevel,
          'pod-security.kubernetes.io/audit-version': version,
        },
      },
    });
  }
}
