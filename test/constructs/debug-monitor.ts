import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import { DebugMonitor, DebugMonitorProps, FixedPythonApp, SecurityMode } from '../../lib';
import { K8sObject, findOne, podSpecOf, quietStderr } from '../helpers';

const ROOT = path.resolve(__dirname, '..', '..');

function synthMonitor(
  props: Partial<DebugMonitorProps> = {},
  mode = SecurityMode.HARDENED,
): K8sObject[] {
  const chart = new Chart(Testing.app(), 'test', { namespace: 'sophia-ai-prod' });
  const target = new FixedPythonApp(chart, 'sophia-backend', {
    sourceDir: path.join(ROOT, 'app'),
    mode,
  });
  new DebugMonitor(chart, 'monitor', { target, ...props });
  return (Testing.synth(chart) as K8sObject[]).filter((o) =>
    o.metadata.name.startsWith('sophia-backend-monitor'),
  );
}

quietStderr();

describe('DebugMonitor', () => {
  test('matches its snapshot (script body left out: it is tested on its own)', () => {
    const objects = synthMonitor().map((o) =>
      o.kind === 'ConfigMap' ? { ...o, data: { 'debug_monitor.py': '<script>' } } : o,
    );
    expect(objects).toMatchSnapshot();
  });

  test('its Role reads pods, events and pod logs in the target namespace, nothing else', () => {
    const objects = synthMonitor();
    const role = findOne(objects, 'Role', 'sophia-backend-monitor');
    expect(role.metadata.namespace).toBe('sophia-ai-prod');
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['pods', 'events'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
    ]);
    const binding = findOne(objects, 'RoleBinding', 'sophia-backend-monitor');
    expect(binding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: 'sophia-backend-monitor',
    });
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'sophia-backend-monitor', namespace: 'sophia-ai-prod' },
    ]);
  });

  test('runs the script on 50m / 64Mi, hardened, with the only service-account token', () => {
    const objects = synthMonitor({}, SecurityMode.ROOT_DEBUG);
    const pod = podSpecOf(findOne(objects, 'Deployment', 'sophia-backend-monitor'));
    expect(pod.serviceAccountName).toBe('sophia-backend-monitor');
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const [container] = pod.containers;
    expect(container.resources).toEqual({
      requests: { cpu: '50m', memory: '64Mi' },
      limits: { cpu: '50m', memory: '64Mi' },
    });
    expect(container.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.command).toEqual(['python', '/monitor/debug_monitor.py']);
    const script = findOne(objects, 'ConfigMap', 'sophia-backend-monitor-script').data[
      'debug_monitor.py'
    ];
    expect(script).toContain('def main(');
  });

  test('points the script at the target Service and pods', () => {
    const pod = podSpecOf(
      findOne(
        synthMonitor({ intervalSeconds: 10, timeoutSeconds: 2 }),
        'Deployment',
        'sophia-backend-monitor',
      ),
    );
    const env = Object.fromEntries(
      pod.containers[0].env.map((e: { name: string; value: string }) => [e.name, e.value]),
    );
    expect(env).toMatchObject({
      TARGET_URL: 'http://sophia-backend.sophia-ai-prod.svc.cluster.local:8000/health',
      TARGET_NAMESPACE: 'sophia-ai-prod',
      TARGET_SELECTOR:
        'app.kubernetes.io/name=sophia-backend,app.kubernetes.io/instance=sophia-backend',
      INTERVAL_SECONDS: '10',
      TIMEOUT_SECONDS: '2',
      METRICS_PORT: '9102',
    });
  });

  test('serves metrics on its own port with scrape annotations and probes /healthz', () => {
    const objects = synthMonitor();
    const deployment = findOne(objects, 'Deployment', 'sophia-backend-monitor');
    expect(deployment.spec.template.metadata.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '9102',
      'prometheus.io/path': '/metrics',
    });
    const [container] = podSpecOf(deployment).containers;
    expect(container.ports).toEqual([{ name: 'metrics', containerPort: 9102, protocol: 'TCP' }]);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    const service = findOne(objects, 'Service', 'sophia-backend-monitor');
    expect(service.spec.ports).toEqual([
      { name: 'metrics', port: 9102, targetPort: 'metrics', protocol: 'TCP' },
    ]);
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
  });

  test.each([
    [{ intervalSeconds: 0 }, /test\/monitor: invalid intervalSeconds 0/],
    [{ timeoutSeconds: 9 }, /invalid timeoutSeconds 9: .*at most intervalSeconds \(5\)/],
    [{ metricsPort: 70000 }, /invalid metricsPort 70000/],
    [{ image: 'Bad Image' }, /invalid image "Bad Image"/],
    [{ target: {} as FixedPythonApp }, /invalid target .*a FixedPythonApp/],
  ])('fails when %p', (props, message) => {
    expect(() => synthMonitor(props as Partial<DebugMonitorProps>)).toThrow(message);
  });
});
