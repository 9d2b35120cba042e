import { pipInstallStep } from './pip-install';
import { appContainer, PythonPodShape } from './python-app-container';
import { APP_PATHS, PythonAppSpec } from './python-app-spec';
import { rootContainerSecurity } from './security-context';
import { shellQuote, shellScript, ShellStep } from './shell';

/**
 * SecurityMode.ROOT_DEBUG, the incident's emergency fix: one container, root,
 * pip at every start, the app straight from the read-only ConfigMap mount.
 */
export function rootDebugPod(spec: PythonAppSpec): PythonPodShape {
  const steps: ShellStep[] = [];
  if (spec.install !== undefined) {
    steps.push(
      pipInstallStep(spec.install, {
        tag: 'app',
        indexUrl: spec.pipIndexUrl,
        sourceRoot: APP_PATHS.source,
        extra: ['--root-user-action=ignore'],
      }),
    );
  }
  steps.push({
    say: `starting python ${APP_PATHS.source}/${spec.entrypoint} as root from the read-only ConfigMap mount`,
    run: `exec python ${shellQuote(`${APP_PATHS.source}/${spec.entrypoint}`)}`,
  });
  const app = appContainer(spec, {
    command: ['sh', '-c', shellScript('app', steps)],
    workingDir: APP_PATHS.source,
    // pip installs into the image's site-packages at every start.
    securityContext: rootContainerSecurity({ readOnlyRootFilesystem: false }),
    volumeMounts: [{ name: 'app-source', mountPath: APP_PATHS.source, readOnly: true }],
  });
  return {
    securityContext: {
      runAsNonRoot: false,
      runAsUser: 0,
      runAsGroup: 0,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    containers: [app],
    volumes: [],
  };
}
