// The NetworkPolicies the constructs synthesize, with targeted assertions a
// snapshot update cannot silently accept, and the props that shape them.
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import { cluster } from '../../config';
import {
  CONNECTIONS_ANNOTATION,
  DebugMonitor,
  DefaultDenyPolicy,
  FixedPythonApp,
  FixedPythonAppProps,
  AddressSet,
  K3sCluster,
  k3sNetwork,
  parseCidr,
  PodNetworkPolicy,
  SecurityMode,
  SophiaChart,
} from '../../lib';
import { checkNetwork, flowMessage } from '../../validation/flows';
import { K8sObject, findAll, findOne, quietStderr } from '../helpers';

const ROOT = path.resolve(__dirname, '..', '..');
const TRAEFIK = {
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
  podSelector: { matchLabels: { 'app.kubernetes.io/name': 'traefik' } },
};
const DNS_RULE = {
  to: [
    {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
      podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
    },
  ],
  ports: [
    { port: 53, protocol: 'UDP' },
    { port: 53, protocol: 'TCP' },
  ],
};
const BACKEND_PODS = {
  'app.kubernetes.io/instance': 'sophia-backend',
  'app.kubernetes.io/name': 'sophia-backend',
};
const MONITOR_PODS = {
  'app.kubernetes.io/instance': 'sophia-backend-monitor',
  'app.kubernetes.io/name': 'sophia-backend-monitor',
};

const stderr = quietStderr();
const warnings = () => stderr().mock.calls.map((c) => String(c[0]));

const variants = new Map<SecurityMode, K8sObject[]>();
function variant(mode: SecurityMode): K8sObject[] {
  if (!variants.has(mode)) {
    const chart = new SophiaChart(Testing.app(), 'sophia', { mode, cluster });
    variants.set(mode, Testing.synth(chart) as K8sObject[]);
  }
  return variants.get(mode)!;
}

describe.each([SecurityMode.HARDENED, SecurityMode.ROOT_DEBUG])('variant %s', (mode) => {
  const policy = (namespace: string, name: string) =>
    findAll(variant(mode), 'NetworkPolicy').find(
      (p) => p.metadata.namespace === namespace && p.metadata.name === name,
    )!;

  test('both namespaces deny everything by default', () => {
    for (const namespace of ['sophia-ai-prod', 'nvidia-device-plugin']) {
      expect(policy(namespace, 'default-deny').spec).toEqual({
        podSelector: {},
        policyTypes: ['Ingress', 'Egress'],
      });
    }
    expect(
      findAll(variant(mode), 'NetworkPolicy')
        .map((p) => p.metadata.name)
        .sort(),
    ).toEqual(['default-deny', 'default-deny', 'sophia-backend', 'sophia-backend-monitor']);
  });

  test('the backend: in from Traefik and the monitor on 8000; out to DNS and pip outside the cluster', () => {
    expect(policy('sophia-ai-prod', 'sophia-backend').spec).toEqual({
      podSelector: { matchLabels: BACKEND_PODS },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        { from: [TRAEFIK], ports: [{ port: 8000, protocol: 'TCP' }] },
        {
          from: [{ podSelector: { matchLabels: MONITOR_PODS } }],
          ports: [{ port: 8000, protocol: 'TCP' }],
        },
      ],
      egress: [
        DNS_RULE,
        {
          to: [
            {
              ipBlock: {
                cidr: '0.0.0.0/0',
                except: ['10.42.0.0/16', '10.43.0.0/16', '169.254.0.0/16'],
              },
            },
          ],
          ports: [
            { port: 443, protocol: 'TCP' },
            { port: 80, protocol: 'TCP' },
          ],
        },
      ],
    });
  });

  test('the monitor: out to the backend, DNS and the API (Service IP and server); in from monitoring', () => {
    expect(policy('sophia-ai-prod', 'sophia-backend-monitor').spec).toEqual({
      podSelector: { matchLabels: MONITOR_PODS },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          from: [
            { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
          ],
          ports: [{ port: 9102, protocol: 'TCP' }],
        },
      ],
      egress: [
        {
          to: [{ podSelector: { matchLabels: BACKEND_PODS } }],
          ports: [{ port: 8000, protocol: 'TCP' }],
        },
        DNS_RULE,
        { to: [{ ipBlock: { cidr: '10.43.0.1/32' } }], ports: [{ port: 443, protocol: 'TCP' }] },
        {
          to: [{ ipBlock: { cidr: '192.222.58.232/32' } }],
          ports: [{ port: 6443, protocol: 'TCP' }],
        },
      ],
    });
  });

  test('every workload declares its connections; GPU checks and the device plugin need none', () => {
    const workloads = variant(mode).filter((o) =>
      ['Deployment', 'Job', 'DaemonSet'].includes(o.kind),
    );
    expect(workloads.length).toBe(8);
    for (const w of workloads) {
      const declared = JSON.parse(w.metadata.annotations[CONNECTIONS_ANNOTATION]);
      if (w.kind !== 'Deployment') expect(declared).toEqual([]);
    }
    // Nothing but the default deny selects them.
    const selecting = (w: K8sObject) =>
      findAll(variant(mode), 'NetworkPolicy').filter(
        (p) =>
          p.metadata.namespace === w.metadata.namespace &&
          Object.entries(p.spec.podSelector.matchLabels ?? {}).every(
            ([k, v]) => w.spec.template.metadata.labels[k] === v,
          ),
      );
    for (const w of workloads.filter((x) => x.kind !== 'Deployment')) {
      expect(selecting(w).map((p) => p.metadata.name)).toEqual(['default-deny']);
    }
  });

  test('the reachability check proves every declared connection', () => {
    const docs = variant(mode).map((doc, index) => ({ file: mode, index, doc }));
    const { findings, flows } = checkNetwork(docs);
    expect(findings).toEqual([]);
    expect(flows.map((f) => f.allowed)).toEqual(flows.map(() => true));
    expect(flows.map(flowMessage)).toContain(
      'flow sophia-ai-prod/sophia-backend-monitor -> sophia-ai-prod/sophia-backend TCP/8000: allowed (egress: NetworkPolicy/sophia-backend-monitor; ingress: NetworkPolicy/sophia-backend) [health checks]',
    );
    expect(flows).toHaveLength(11);
  });
});

/** One app (and optionally its monitor) in a fresh chart. */
function synthApp(props: Partial<FixedPythonAppProps> = {}): K8sObject[] {
  const chart = new Chart(Testing.app(), 'test', { namespace: 'apps' });
  new FixedPythonApp(chart, 'backend', {
    sourceDir: path.join(ROOT, 'app'),
    mode: SecurityMode.HARDENED,
    ...props,
  });
  return Testing.synth(chart) as K8sObject[];
}
const appPolicy = (props: Partial<FixedPythonAppProps> = {}) =>
  findOne(synthApp(props), 'NetworkPolicy', 'backend').spec;

describe('FixedPythonApp network props', () => {
  test('defaults: no ingress at all, DNS and PyPI out', () => {
    const spec = appPolicy();
    expect(spec.ingress).toBeUndefined();
    expect(
      spec.egress.map((r: { ports: { port: number }[] }) => r.ports.map((p) => p.port)),
    ).toEqual([
      [53, 53],
      [443, 80],
    ]);
  });

  test('ingressFrom and egressTo: same-namespace pods by podSelector alone, others with their namespace', () => {
    const spec = appPolicy({
      ingressFrom: [{ podLabels: { app: 'web' } }, { namespace: 'edge' }],
      egressTo: [
        {
          peer: { namespace: 'db', podLabels: { app: 'postgres' } },
          ports: [{ port: 5432 }],
          purpose: 'database',
        },
        { peer: { cidr: '203.0.113.7' }, ports: [{ port: 9000, protocol: 'UDP' }] },
      ],
    });
    expect(spec.ingress).toEqual([
      {
        from: [
          { podSelector: { matchLabels: { app: 'web' } } },
          { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'edge' } } },
        ],
        ports: [{ port: 8000, protocol: 'TCP' }],
      },
    ]);
    expect(spec.egress.slice(2)).toEqual([
      {
        to: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'db' } },
            podSelector: { matchLabels: { app: 'postgres' } },
          },
        ],
        ports: [{ port: 5432, protocol: 'TCP' }],
      },
      { to: [{ ipBlock: { cidr: '203.0.113.7/32' } }], ports: [{ port: 9000, protocol: 'UDP' }] },
    ]);
  });

  test('an external pipIndexUrl with a port: that port only; an in-cluster one: the egressTo pods, no internet', () => {
    const external = appPolicy({ pipIndexUrl: 'https://mirror.example.com:8443/simple' });
    expect(external.egress[1].ports).toEqual([{ port: 8443, protocol: 'TCP' }]);
    const inCluster = appPolicy({
      pipIndexUrl: 'http://devpi.mirrors.svc.cluster.local:3141/root/pypi/+simple/',
      egressTo: [
        { peer: { namespace: 'mirrors', podLabels: { app: 'devpi' } }, ports: [{ port: 3141 }] },
      ],
    });
    expect(JSON.stringify(inCluster.egress)).not.toContain('ipBlock');
    expect(inCluster.egress).toHaveLength(2);
  });

  test.each<[string, Partial<FixedPythonAppProps>, string]>([
    [
      'a bad namespace',
      { ingressFrom: [{ namespace: 'Kube_System' }] },
      'invalid ingressFrom[0].namespace "Kube_System": a namespace name',
    ],
    [
      'an empty peer',
      { ingressFrom: [{}] },
      'invalid ingressFrom[0] {}: a peer that says whom it means',
    ],
    [
      'pods and addresses',
      { ingressFrom: [{ namespace: 'a', cidr: '10.0.0.0/8' }] },
      'invalid ingressFrom[0] {"namespace":"a","cidr":"10.0.0.0/8"}: either pods',
    ],
    [
      'host bits',
      { egressTo: [{ peer: { cidr: '10.1.2.3/8' }, ports: [{ port: 1 }] }] },
      'invalid egressTo[0].peer.cidr "10.1.2.3/8": an IPv4 or IPv6 CIDR with its network address, like "10.42.0.0/16" ("10.0.0.0/8" here)',
    ],
    [
      'an except outside',
      {
        egressTo: [{ peer: { cidr: '10.0.0.0/8', except: ['11.0.0.0/8'] }, ports: [{ port: 1 }] }],
      },
      'invalid egressTo[0].peer.except[0] "11.0.0.0/8": a CIDR strictly inside 10.0.0.0/8',
    ],
    [
      'bad labels',
      { ingressFrom: [{ podLabels: { 'bad key!': 'x' } }] },
      'invalid ingressFrom[0].podLabels {"bad key!":"x"}',
    ],
    [
      'no ports',
      { egressTo: [{ peer: { namespace: 'db' }, ports: [] }] },
      'invalid egressTo[0].ports []: a non-empty list',
    ],
    [
      'a bad protocol',
      {
        egressTo: [{ peer: { namespace: 'db' }, ports: [{ port: 1, protocol: 'ICMP' as never }] }],
      },
      'invalid egressTo[0].ports[0].protocol "ICMP": one of TCP, UDP, SCTP',
    ],
    [
      'an in-cluster index nobody allows',
      { pipIndexUrl: 'http://devpi.mirrors.svc:3141/simple' },
      "invalid egressTo []: a rule for the pods behind the in-cluster pipIndexUrl http://devpi.mirrors.svc:3141/simple: { peer: { namespace: 'mirrors'",
    ],
    [
      'an index at a Service address',
      { pipIndexUrl: 'http://10.43.12.7/simple' },
      'invalid pipIndexUrl "http://10.43.12.7/simple": an in-cluster index by its Service name',
    ],
  ])('%s is an error naming the construct and the prop', (_, props, message) => {
    expect(() => synthApp(props)).toThrow(`test/backend: ${message}`);
  });
});

describe('DebugMonitor and cluster network', () => {
  function monitorPolicy(props: object): K8sObject['spec'] {
    const chart = new Chart(Testing.app(), 'test', { namespace: 'apps' });
    const target = new FixedPythonApp(chart, 'api', {
      sourceDir: path.join(ROOT, 'app'),
      mode: SecurityMode.HARDENED,
    });
    new DebugMonitor(chart, 'monitor', { target, ...props });
    return findOne(Testing.synth(chart) as K8sObject[], 'NetworkPolicy', 'api-monitor').spec;
  }

  test('without API server addresses only the Service IP is allowed, and synth warns', () => {
    const spec = monitorPolicy({});
    expect(spec.egress.map((r: { ports: { port: number }[] }) => r.ports[0].port)).toEqual([
      8000, 53, 443,
    ]);
    expect(warnings().join('')).toContain(
      '[WARNING] test/monitor: clusterNetwork has no API server addresses',
    );
  });

  test('scrapeFrom and a custom network shape the rules', () => {
    const spec = monitorPolicy({
      scrapeFrom: [{ namespace: 'observability', podLabels: { app: 'prometheus' } }],
      clusterNetwork: k3sNetwork({
        serviceCidr: '10.96.0.0/12',
        apiServerAddresses: ['192.0.2.1', '192.0.2.2'],
      }),
    });
    expect(spec.ingress[0].from[0].podSelector).toEqual({ matchLabels: { app: 'prometheus' } });
    expect(spec.egress[2].to).toEqual([{ ipBlock: { cidr: '10.96.0.1/32' } }]);
    expect(spec.egress[3].to).toEqual([
      { ipBlock: { cidr: '192.0.2.1/32' } },
      { ipBlock: { cidr: '192.0.2.2/32' } },
    ]);
    expect(warnings()).toEqual([]);
  });

  test('a hand-made network must be consistent', () => {
    const network = { ...k3sNetwork(), kubernetesServiceIp: '10.43.0.10' };
    expect(() => monitorPolicy({ clusterNetwork: network })).toThrow(
      'test/monitor: invalid clusterNetwork.kubernetesServiceIp "10.43.0.10": the first address of serviceCidr, 10.43.0.1',
    );
    expect(() => monitorPolicy({ scrapeFrom: [] })).toThrow('test/monitor: invalid scrapeFrom []');
  });

  test('K3sCluster validates its ranges and gives its servers as API servers', () => {
    const k3s = (props: object) => {
      const chart = new Chart(Testing.app(), 'test');
      return new K3sCluster(chart, 'k3s', {
        servers: [{ name: 'cp', address: '192.0.2.9' }],
        ...props,
      });
    };
    expect(k3s({}).network).toEqual({
      podCidr: '10.42.0.0/16',
      serviceCidr: '10.43.0.0/16',
      kubernetesServiceIp: '10.43.0.1',
      apiServerAddresses: ['192.0.2.9'],
      apiServerPort: 6443,
      dns: { namespace: 'kube-system', podLabels: { 'k8s-app': 'kube-dns' } },
    });
    expect(() => k3s({ clusterCidr: '10.42.0.1/16' })).toThrow(
      'test/k3s: invalid clusterCidr "10.42.0.1/16"',
    );
    expect(() => k3s({ serviceCidr: '10.42.128.0/17' })).toThrow(
      'test/k3s: invalid serviceCidr "10.42.128.0/17": a range that does not overlap clusterCidr 10.42.0.0/16',
    );
  });

  test('one default deny per namespace', () => {
    const chart = new Chart(Testing.app(), 'test');
    new DefaultDenyPolicy(chart, 'a', { namespace: 'apps' });
    expect(() => new DefaultDenyPolicy(chart, 'b', { namespace: 'apps' })).toThrow(
      'test/b: invalid namespace "apps": a namespace without a default deny yet: test/a already denies in it',
    );
  });
});

describe('building blocks', () => {
  test('a PodNetworkPolicy that never declares its connections fails the synth', () => {
    const chart = new Chart(Testing.app(), 'test');
    new PodNetworkPolicy(chart, 'p', { name: 'p', namespace: 'apps', podLabels: { app: 'p' } });
    expect(() => Testing.synth(chart)).toThrow('test/p: declareOn(workload) was never called');
  });

  test('CIDRs: IPv4 and IPv6, host bits, except and coverage', () => {
    const set = (cidr: string, ...except: string[]) =>
      AddressSet.of(
        parseCidr(cidr)!,
        except.map((e) => parseCidr(e)!),
      );
    expect(parseCidr('10.42.0.1/16')).toMatchObject({ prefix: 16, hostBits: true });
    expect(parseCidr('2001:db8::/32')).toMatchObject({ family: 6, prefix: 32, hostBits: false });
    expect(parseCidr('::ffff:10.0.0.1')).toMatchObject({ family: 6, prefix: 128 });
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
    expect(parseCidr('example.com')).toBeUndefined();
    const outside = set('0.0.0.0/0', '10.42.0.0/16', '10.43.0.0/16');
    expect(outside.covers(set('8.8.8.8'))).toBe(true);
    expect(outside.covers(set('10.43.0.1'))).toBe(false);
    expect(outside.covers(set('10.0.0.0/8'))).toBe(false);
    expect(set('0.0.0.0/1').union(set('128.0.0.0/1')).covers(set('0.0.0.0/0'))).toBe(true);
    expect(set('::/0').intersects(set('10.0.0.1'))).toBe(false);
    expect(set('2001:db8::/32', '2001:db8:8000::/33').covers(set('2001:db8:7fff::1'))).toBe(true);
  });
});
