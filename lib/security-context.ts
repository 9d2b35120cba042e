import { PodSecurityContext, SecurityContext } from '../imports/k8s';

/**
 * A container that passes Pod Security `restricted` on its own: non-root
 * `uid`, no privilege escalation, no capabilities, seccomp RuntimeDefault,
 * and a read-only root filesystem (not required by `restricted`, but nothing
 * here writes outside its volumes). Everything explicit, because a default
 * from the image or cdk8s-plus is what broke the incident's pods.
 */
export function restrictedContainerSecurity(uid: number): SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    privileged: false,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** The pod-level half of {@link restrictedContainerSecurity}. */
export function restrictedPodSecurity(
  uid: number,
  options: { fsGroup?: boolean } = {},
): PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    ...(options.fsGroup ? { fsGroup: uid } : {}),
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/**
 * A root container with as little else as root allows: no privilege
 * escalation, no capabilities, seccomp RuntimeDefault (Pod Security
 * `baseline` admits it; `restricted` does not).
 */
export function rootContainerSecurity(options: {
  readOnlyRootFilesystem: boolean;
}): SecurityContext {
  return {
    runAsUser: 0,
    runAsGroup: 0,
    runAsNonRoot: false,
    privileged: false,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: options.readOnlyRootFilesystem,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}
