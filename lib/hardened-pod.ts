import { Container, Quantity, VolumeMount } from '../imports/k8s';
import { APP_UID } from './python-app-props';
import { pipInstallStep } from './pip-install';
import { appContainer, PythonPodShape } from './python-app-container';
import { APP_PATHS, PythonAppSpec } from './python-app-spec';
import { restrictedContainerSecurity, restrictedPodSecurity } from './security-context';
import { shellQuote, shellScript, ShellStep } from './shell';

/**
 * SecurityMode.HARDENED: an init container, as uid 1000, copies the code out
 * of the read-only ConfigMap mount and pip-installs into an emptyDir; the app
 * runs from the copy, read-only, and never runs pip itself.
 */
export function hardenedPod(spec: PythonAppSpec): PythonPodShape {
  const app = appContainer(spec, {
    command: [
      'sh',
      '-c',
      shellScript('app', [
        {
          say: `starting python ${APP_PATHS.code}/${spec.entrypoint} as uid ${APP_UID}`,
          run: `exec python ${shellQuote(`${APP_PATHS.code}/${spec.entrypoint}`)}`,
        },
      ]),
    ],
    workingDir: APP_PATHS.code,
    securityContext: restrictedContainerSecurity(APP_UID),
    volumeMounts: [
      { name: 'app-code', mountPath: APP_PATHS.code, readOnly: true },
      { name: 'app-packages', mountPath: APP_PATHS.packages, readOnly: true },
      { name: 'tmp', mountPath: APP_PATHS.tmp },
    ],
  });
  return {
    securityContext: restrictedPodSecurity(APP_UID, { fsGroup: true }),
    initContainers: [installContainer(spec)],
    containers: [app],
    volumes: [
      { name: 'app-code', emptyDir: { sizeLimit: Quantity.fromString('64Mi') } },
      { name: 'app-packages', emptyDir: { sizeLimit: Quantity.fromString('1Gi') } },
      { name: 'tmp', emptyDir: { sizeLimit: Quantity.fromString('256Mi') } },
    ],
  };
}

function installContainer(spec: PythonAppSpec): Container {
  const { paths, topLevel } = spec.sources;
  // The mount's top-level entries are symlinks into ..data/: -L copies their
  // contents (files and folders), not links that would dangle in the
  // emptyDir. They are listed explicitly so the ..data bookkeeping entries
  // are never copied.
  const steps: ShellStep[] = [
    {
      say: `copying ${paths.length} source file(s) from ${APP_PATHS.source} to ${APP_PATHS.code}`,
      run: `cp -RL ${topLevel.map((entry) => shellQuote(`${APP_PATHS.source}/${entry}`)).join(' ')} ${APP_PATHS.code}/`,
    },
  ];
  if (spec.install !== undefined) {
    steps.push(
      pipInstallStep(spec.install, {
        tag: 'init',
        indexUrl: spec.pipIndexUrl,
        sourceRoot: APP_PATHS.source,
        extra: ['--target', APP_PATHS.packages],
        into: APP_PATHS.packages,
      }),
    );
  }
  steps.push({ say: 'done', run: `ls -l ${APP_PATHS.code}` });
  const mounts: VolumeMount[] = [
    { name: 'app-source', mountPath: APP_PATHS.source, readOnly: true },
    { name: 'app-code', mountPath: APP_PATHS.code },
    { name: 'app-packages', mountPath: APP_PATHS.packages },
    { name: 'tmp', mountPath: APP_PATHS.tmp },
  ];
  return {
    name: 'install',
    image: spec.image,
    imagePullPolicy: 'IfNotPresent',
    command: ['sh', '-c', shellScript('init', steps)],
    env: [
      { name: 'HOME', value: APP_PATHS.tmp },
      { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
      { name: 'PYTHONUNBUFFERED', value: '1' },
    ],
    resources: spec.resources,
    securityContext: restrictedContainerSecurity(APP_UID),
    terminationMessagePolicy: 'FallbackToLogsOnError',
    volumeMounts: mounts,
  };
}
