import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import { Construct } from 'constructs';
import * as YAML from 'yaml';
import { CpuArchitecture, NodeRole } from '../../lib/cluster-nodes';
import { InvalidPropError } from '../../lib/errors';
import { GpuNodePool, GpuNodePoolProps } from '../../lib/gpu-node-pool';
import {
  etcdFaultTolerance,
  FlannelBackend,
  K3sCluster,
  K3sClusterProps,
  renderK3sConfigs,
} from '../../lib/k3s-cluster';
import { NvidiaDevicePlugin } from '../../lib/nvidia-device-plugin';
import { PodSecurityLevel, PodSecurityNamespace } from '../../lib/pod-security-namespace';
import { K8sObject, findAll, findOne, podSpecOf, quietStderr } from '../helpers';

const ROOT = path.resolve(__dirname, '..', '..');
const CHECK_SCRIPT = path.join(ROOT, 'scripts', 'gpu-check.sh');

const A100: GpuNodePoolProps = {
  gpuProduct: 'A100',
  nodes: [{ name: 'data-pipeline', address: '104.171.202.134' }],
};
const GH200: GpuNodePoolProps = {
  gpuProduct: 'GH200',
  architecture: CpuArchitecture.ARM64,
  taint: false,
  nodes: [{ name: 'primary', address: '192.222.58.232', role: NodeRole.SERVER }],
};

function testChart(): Chart {
  return new Chart(Testing.app(), 'test', {
    namespace: 'sophia-ai-prod',
    disableResourceNameHashes: true,
  });
}

/** The two-pool chart of the issue: a tainted amd64 A100 agent, an untainted arm64 GH200 server. */
function twoPools(): { chart: Chart; a100: GpuNodePool; gh200: GpuNodePool } {
  const chart = testChart();
  const namespace = new PodSecurityNamespace(chart, 'namespace', {
    name: 'sophia-ai-prod',
    enforce: PodSecurityLevel.RESTRICTED,
  });
  const gh200 = new GpuNodePool(chart, 'gh200', { ...GH200, namespace });
  const a100 = new GpuNodePool(chart, 'a100', { ...A100, gpusPerNode: 2, namespace });
  return { chart, a100, gh200 };
}

function synth(chart: Chart): K8sObject[] {
  return Testing.synth(chart) as K8sObject[];
}

/** Runs `build` and returns the InvalidPropError it throws. */
function invalid(build: () => unknown): InvalidPropError {
  try {
    build();
  } catch (error) {
    if (error instanceof InvalidPropError) return error;
    throw error;
  }
  throw new Error('expected an InvalidPropError, nothing was thrown');
}

const stderr = quietStderr();
function warnings(): string[] {
  return stderr().mock.calls.map((call) => String(call[0]));
}

describe('a chart with two GPU pools', () => {
  test('matches its snapshot', () => {
    expect(synth(twoPools().chart)).toMatchSnapshot();
  });

  test('exposes what a workload needs', () => {
    const { a100, gh200 } = twoPools();
    expect(a100.poolName).toBe('a100');
    expect(a100.gpuProduct).toBe('A100');
    expect(a100.architecture).toBe(CpuArchitecture.AMD64);
    expect(a100.gpusPerNode).toBe(2);
    expect(a100.runtimeClassName).toBe('nvidia');
    expect(a100.nodeSelector).toEqual({
      'manifests.sophia.ai/gpu-pool': 'a100',
      'kubernetes.io/arch': 'amd64',
    });
    expect(a100.tolerations).toEqual([
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
    ]);
    expect(a100.nodes).toEqual([
      {
        name: 'data-pipeline',
        address: '104.171.202.134',
        role: NodeRole.AGENT,
        architecture: CpuArchitecture.AMD64,
        checkJobName: 'gpu-check-data-pipeline',
      },
    ]);
    expect(a100.placement()).toEqual({
      runtimeClassName: 'nvidia',
      nodeSelector: a100.nodeSelector,
      tolerations: a100.tolerations,
    });
    expect(gh200.nodeSelector['kubernetes.io/arch']).toBe('arm64');
    expect(gh200.tolerations).toEqual([]);
    expect(gh200.servers.map((n) => n.name)).toEqual(['primary']);
    expect(gh200.nodeTaints).toEqual([]);
    expect(a100.nodeTaints).toEqual(['nvidia.com/gpu=present:NoSchedule']);
    expect(GpuNodePool.poolsOf(a100)).toEqual([gh200, a100]);
  });

  test('gpuLimits() accepts 1 to gpusPerNode GPUs', () => {
    const { a100 } = twoPools();
    expect(a100.gpuLimits(a100, 2)).toEqual({ 'nvidia.com/gpu': expect.anything() });
    expect(a100.gpuLimits(a100, 1)['nvidia.com/gpu'].value).toBe(1);
    for (const bad of [0, 3, 1.5]) {
      expect(invalid(() => a100.gpuLimits(a100, bad)).message).toBe(
        `test/a100: invalid gpuCount ${bad}: an integer from 1 to 2: pool "a100" has 2 GPU(s) per node, and a pod runs on one node`,
      );
    }
  });

  test('the RuntimeClass and the device plugin are defined once, in a privileged namespace', () => {
    const { chart, a100, gh200 } = twoPools();
    const objects = synth(chart);
    expect(a100.devicePlugin).toBe(gh200.devicePlugin);
    expect(NvidiaDevicePlugin.of(chart)).toBe(a100.devicePlugin);
    const runtimeClasses = findAll(objects, 'RuntimeClass');
    expect(runtimeClasses).toHaveLength(1);
    expect(runtimeClasses[0]).toMatchObject({
      apiVersion: 'node.k8s.io/v1',
      metadata: { name: 'nvidia' },
      handler: 'nvidia',
      scheduling: {
        nodeSelector: { 'nvidia.com/gpu.present': 'true' },
        tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
      },
    });
    expect(findAll(objects, 'DaemonSet')).toHaveLength(1);
    const namespace = findOne(objects, 'Namespace', 'nvidia-device-plugin');
    expect(namespace.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('privileged');
    expect(() => new NvidiaDevicePlugin(chart, 'another')).toThrow(/already defined at test/);
  });

  test('one device plugin for pools in two charts of one App', () => {
    const app = Testing.app();
    const one = new Chart(app, 'one', { namespace: 'apps' });
    const two = new Chart(app, 'two', { namespace: 'apps' });
    new GpuNodePool(one, 'a100', A100);
    new GpuNodePool(two, 'gh200', GH200);
    expect(findAll(synth(one), 'RuntimeClass')).toHaveLength(1);
    expect(findAll(synth(two), 'RuntimeClass')).toHaveLength(0);
    const ds = findOne(synth(one), 'DaemonSet', 'nvidia-device-plugin');
    expect(podSpecOf(ds).affinity.nodeAffinity).toEqual({
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [
          {
            matchExpressions: [
              { key: 'manifests.sophia.ai/gpu-pool', operator: 'In', values: ['a100', 'gh200'] },
            ],
          },
        ],
      },
    });
  });

  test('the device plugin DaemonSet', () => {
    const ds = findOne(synth(twoPools().chart), 'DaemonSet', 'nvidia-device-plugin');
    expect(ds.metadata.namespace).toBe('nvidia-device-plugin');
    const pod = podSpecOf(ds);
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(pod.runtimeClassName).toBe('nvidia');
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.tolerations).toEqual([
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
    ]);
    expect(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution).toEqual({
      nodeSelectorTerms: [
        {
          matchExpressions: [
            { key: 'manifests.sophia.ai/gpu-pool', operator: 'In', values: ['a100', 'gh200'] },
          ],
        },
      ],
    });
    expect(pod.volumes).toEqual([
      {
        name: 'device-plugins',
        hostPath: { path: '/var/lib/kubelet/device-plugins', type: 'Directory' },
      },
    ]);
    expect(pod.containers).toHaveLength(1);
    const [container] = pod.containers;
    expect(container.image).toBe('nvcr.io/nvidia/k8s-device-plugin:v0.17.1');
    expect(container.image).toBe(NvidiaDevicePlugin.DEFAULT_IMAGE);
    expect(container.volumeMounts).toEqual([
      { name: 'device-plugins', mountPath: '/var/lib/kubelet/device-plugins' },
    ]);
    expect(container.securityContext).toEqual({
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.resources).toEqual({
      requests: { cpu: '50m', memory: '64Mi' },
      limits: { cpu: '500m', memory: '256Mi' },
    });
    const env = Object.fromEntries(
      container.env.map((e: { name: string; value: string }) => [e.name, e.value]),
    );
    expect(env).toMatchObject({ FAIL_ON_INIT_ERROR: 'true', MIG_STRATEGY: 'none' });
  });

  test('a check Job per node: pool placement, the nvidia runtime, gpusPerNode GPUs, restricted', () => {
    const objects = synth(twoPools().chart);
    expect(findAll(objects, 'Job').map((j) => j.metadata.name)).toEqual([
      'gpu-check-primary',
      'gpu-check-data-pipeline',
    ]);
    const job = findOne(objects, 'Job', 'gpu-check-data-pipeline');
    expect(job.metadata.namespace).toBe('sophia-ai-prod');
    expect(job.spec).toMatchObject({
      backoffLimit: 1,
      activeDeadlineSeconds: 600,
      ttlSecondsAfterFinished: 86400,
    });
    const pod = podSpecOf(job);
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.runtimeClassName).toBe('nvidia');
    expect(pod.nodeSelector).toEqual({
      'manifests.sophia.ai/gpu-pool': 'a100',
      'kubernetes.io/arch': 'amd64',
      'kubernetes.io/hostname': 'data-pipeline',
    });
    expect(pod.tolerations).toEqual([
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
    ]);
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65534,
      runAsGroup: 65534,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.volumes).toBeUndefined();
    const [container] = pod.containers;
    expect(container.image).toBe('nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04');
    expect(container.resources.limits['nvidia.com/gpu']).toBe(2);
    expect(container.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65534,
      runAsGroup: 65534,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.command).toEqual(['sh', '-c', fs.readFileSync(CHECK_SCRIPT, 'utf8')]);
    expect(container.env).toEqual(
      expect.arrayContaining([
        { name: 'EXPECTED_GPU_PRODUCT', value: 'A100' },
        { name: 'EXPECTED_GPU_COUNT', value: '2' },
      ]),
    );

    const gh200 = podSpecOf(findOne(objects, 'Job', 'gpu-check-primary'));
    expect(gh200.nodeSelector['kubernetes.io/arch']).toBe('arm64');
    expect(gh200.tolerations).toBeUndefined();
    expect(gh200.containers[0].resources.limits['nvidia.com/gpu']).toBe(1);
  });

  test('gpuCheck: false makes no Job', () => {
    const chart = testChart();
    const pool = new GpuNodePool(chart, 'a100', { ...A100, gpuCheck: false });
    expect(pool.checkJobs).toEqual([]);
    expect(pool.nodes[0].checkJobName).toBeUndefined();
    expect(findAll(synth(chart), 'Job')).toEqual([]);
  });

  test('string values are accepted for the enums', () => {
    const pool = new GpuNodePool(testChart(), 'gh200', {
      gpuProduct: 'GH200',
      architecture: 'arm64',
      nodes: [{ name: 'primary', address: '192.222.58.232', role: 'server' }],
    });
    expect(pool.architecture).toBe(CpuArchitecture.ARM64);
    expect(pool.nodes[0].role).toBe(NodeRole.SERVER);
  });

  test('the product label spells spaces as "-"', () => {
    const pool = new GpuNodePool(testChart(), 'rtx6000', {
      gpuProduct: 'RTX 6000',
      nodes: [{ name: 'production-services', address: '104.171.202.103' }],
    });
    expect(pool.nodeLabels).toEqual({
      'manifests.sophia.ai/gpu-pool': 'rtx6000',
      'nvidia.com/gpu.present': 'true',
      'nvidia.com/gpu.product': 'RTX-6000',
      'nvidia.com/gpu.count': '1',
    });
  });

  test('no token value anywhere in the manifests', () => {
    const text = JSON.stringify(synth(twoPools().chart));
    expect(text).not.toMatch(/"token"\s*:/i);
    expect(text).not.toMatch(/K10[0-9a-f]{10,}/);
  });
});

describe('bad input', () => {
  const pool = (props: Partial<GpuNodePoolProps>, chart: Construct = testChart()) =>
    new GpuNodePool(chart, 'a100', { ...A100, ...props } as GpuNodePoolProps);

  test.each<[string, Partial<GpuNodePoolProps>, string]>([
    ['an empty node list', { nodes: [] }, 'test/a100: invalid nodes []: a non-empty list of nodes'],
    [
      'a node name that is not a DNS-1123 label',
      { nodes: [{ name: 'Data_Pipeline', address: '104.171.202.134' }] },
      'test/a100: invalid nodes[0].name "Data_Pipeline": a DNS-1123 label',
    ],
    [
      'a node name too long for its check Job',
      { nodes: [{ name: 'n'.repeat(54), address: '104.171.202.134' }] },
      'at most 53 characters',
    ],
    [
      'a host name for an address',
      { nodes: [{ name: 'data-pipeline', address: 'data-pipeline.example.com' }] },
      'test/a100: invalid nodes[0].address "data-pipeline.example.com": an IPv4 or IPv6 address',
    ],
    [
      'an out-of-range IPv4 address',
      { nodes: [{ name: 'data-pipeline', address: '104.171.202.256' }] },
      'invalid nodes[0].address "104.171.202.256"',
    ],
    [
      'a CIDR for an address',
      { nodes: [{ name: 'data-pipeline', address: '104.171.202.134/32' }] },
      'invalid nodes[0].address "104.171.202.134/32"',
    ],
    [
      'an unknown architecture',
      { architecture: 'x86_64' as CpuArchitecture },
      'test/a100: invalid architecture "x86_64": one of "amd64", "arm64" (CpuArchitecture)',
    ],
    [
      'gpusPerNode 0',
      { gpusPerNode: 0 },
      'test/a100: invalid gpusPerNode 0: an integer of at least 1',
    ],
    [
      'gpusPerNode 1.5',
      { gpusPerNode: 1.5 },
      'test/a100: invalid gpusPerNode 1.5: an integer of at least 1',
    ],
    ['an empty gpuProduct', { gpuProduct: '' }, 'test/a100: invalid gpuProduct "": a GPU model'],
    [
      'a blank gpuProduct',
      { gpuProduct: '   ' },
      'test/a100: invalid gpuProduct "   ": a GPU model',
    ],
    ['a gpuProduct with quotes', { gpuProduct: "A100'" }, 'invalid gpuProduct "A100\'"'],
    [
      'an unknown role',
      {
        nodes: [{ name: 'data-pipeline', address: '104.171.202.134', role: 'master' as NodeRole }],
      },
      'test/a100: invalid nodes[0].role "master": one of "server", "agent" (NodeRole)',
    ],
    [
      'a name twice in one pool',
      {
        nodes: [
          { name: 'data-pipeline', address: '104.171.202.134' },
          { name: 'data-pipeline', address: '104.171.202.135' },
        ],
      },
      'test/a100: invalid nodes[1].name "data-pipeline": a name not already used',
    ],
    ['a pool name that is not a label', { poolName: 'A100' }, 'test/a100: invalid poolName "A100"'],
    [
      'a non-boolean taint',
      { taint: 'yes' as unknown as boolean },
      'invalid taint "yes": true or false',
    ],
  ])('%s', (_what, props, message) => {
    const error = invalid(() => pool(props));
    expect(error.message).toContain(message);
  });

  test('a node name used by another pool', () => {
    const chart = testChart();
    new GpuNodePool(chart, 'gh200', GH200);
    const error = invalid(
      () =>
        new GpuNodePool(chart, 'a100', {
          ...A100,
          nodes: [{ name: 'primary', address: '104.171.202.134' }],
        }),
    );
    expect(error.message).toBe(
      'test/a100: invalid nodes[0].name "primary": a name not already used by node "primary" (192.222.58.232) of test/gh200: one machine belongs to one pool, and every node needs its own name and address',
    );
  });

  test('an address used by another pool, also in another chart of the App', () => {
    const app = Testing.app();
    new GpuNodePool(new Chart(app, 'one', { namespace: 'a' }), 'gh200', GH200);
    const error = invalid(
      () =>
        new GpuNodePool(new Chart(app, 'two', { namespace: 'a' }), 'a100', {
          ...A100,
          nodes: [{ name: 'data-pipeline', address: '192.222.58.232' }],
        }),
    );
    expect(error.message).toContain('two/a100: invalid nodes[0].address "192.222.58.232"');
  });

  test('the same IPv6 address spelled two ways', () => {
    const chart = testChart();
    new GpuNodePool(chart, 'one', {
      gpuProduct: 'A10',
      nodes: [{ name: 'one', address: '2001:db8::1' }],
    });
    const error = invalid(
      () =>
        new GpuNodePool(chart, 'two', {
          gpuProduct: 'A10',
          nodes: [{ name: 'two', address: '2001:0DB8:0:0::1' }],
        }),
    );
    // Shown canonical, as the other node's address is.
    expect(error.message).toContain(
      'test/two: invalid nodes[0].address "2001:db8::1": an address not already used by node "one" (2001:db8::1)',
    );
  });

  test('two pools with one name', () => {
    const chart = testChart();
    new GpuNodePool(chart, 'a100', A100);
    const error = invalid(
      () =>
        new GpuNodePool(chart, 'other', {
          gpuProduct: 'A10',
          poolName: 'a100',
          nodes: [{ name: 'development', address: '155.248.194.183' }],
        }),
    );
    expect(error.message).toBe(
      'test/other: invalid poolName "a100": a pool name not already used by test/a100',
    );
  });

  test('pools in separate Apps are separate clusters', () => {
    expect(() => {
      new GpuNodePool(testChart(), 'a100', A100);
      new GpuNodePool(testChart(), 'a100', A100);
    }).not.toThrow();
  });

  test('a check Job without a namespace', () => {
    const chart = new Chart(Testing.app(), 'test');
    expect(invalid(() => new GpuNodePool(chart, 'a100', A100)).message).toContain(
      'test/a100: invalid namespace (undefined)',
    );
    expect(() => new GpuNodePool(chart, 'b', { ...A100, gpuCheck: false })).not.toThrow();
  });
});

describe('K3sCluster', () => {
  /** The issue's five nodes, with `servers` of them k3s servers. */
  function fiveNodes(servers: readonly string[] = ['primary'], props: K3sClusterProps = {}) {
    const chart = testChart();
    const role = (name: string) => (servers.includes(name) ? NodeRole.SERVER : NodeRole.AGENT);
    const pools: [string, GpuNodePoolProps][] = [
      [
        'gh200',
        {
          ...GH200,
          nodes: [{ name: 'primary', address: '192.222.58.232', role: role('primary') }],
        },
      ],
      [
        'rtx6000',
        {
          gpuProduct: 'RTX 6000',
          taint: false,
          nodes: [
            {
              name: 'production-services',
              address: '104.171.202.103',
              role: role('production-services'),
            },
          ],
        },
      ],
      [
        'a6000',
        {
          gpuProduct: 'A6000',
          nodes: [
            {
              name: 'mcp-orchestrator',
              address: '104.171.202.117',
              role: role('mcp-orchestrator'),
            },
          ],
        },
      ],
      [
        'a100',
        {
          ...A100,
          nodes: [
            { name: 'data-pipeline', address: '104.171.202.134', role: role('data-pipeline') },
          ],
        },
      ],
      [
        'a10',
        {
          gpuProduct: 'A10',
          nodes: [{ name: 'development', address: '155.248.194.183', role: role('development') }],
        },
      ],
    ];
    for (const [id, pool] of pools) new GpuNodePool(chart, id, pool);
    return { chart, cluster: new K3sCluster(chart, 'k3s', props) };
  }
  const byNode = (cluster: K3sCluster) =>
    Object.fromEntries(cluster.files.map((f) => [f.node, YAML.parse(f.yaml)]));

  test('one config per node; the primary runs cluster-init, the others join it', () => {
    const { cluster } = fiveNodes(['primary', 'production-services', 'mcp-orchestrator']);
    expect(cluster.files.map((f) => f.fileName)).toEqual([
      'primary.yaml',
      'production-services.yaml',
      'mcp-orchestrator.yaml',
      'data-pipeline.yaml',
      'development.yaml',
    ]);
    expect(cluster.serverUrl).toBe('https://192.222.58.232:6443');
    const files = byNode(cluster);
    expect(files.primary).toEqual({
      'cluster-init': true,
      'node-name': 'primary',
      'node-ip': '192.222.58.232',
      'tls-san': ['192.222.58.232'],
      'flannel-backend': 'wireguard-native',
      'cluster-cidr': '10.42.0.0/16',
      'service-cidr': '10.43.0.0/16',
      disable: ['runtimes'],
      'node-label': [
        'manifests.sophia.ai/gpu-pool=gh200',
        'nvidia.com/gpu.present=true',
        'nvidia.com/gpu.product=GH200',
        'nvidia.com/gpu.count=1',
      ],
    });
    expect(files['mcp-orchestrator']).toEqual({
      server: 'https://192.222.58.232:6443',
      'token-file': '/etc/rancher/k3s/token',
      'node-name': 'mcp-orchestrator',
      'node-ip': '104.171.202.117',
      'tls-san': ['104.171.202.117'],
      'flannel-backend': 'wireguard-native',
      'cluster-cidr': '10.42.0.0/16',
      'service-cidr': '10.43.0.0/16',
      disable: ['runtimes'],
      'node-label': [
        'manifests.sophia.ai/gpu-pool=a6000',
        'nvidia.com/gpu.present=true',
        'nvidia.com/gpu.product=A6000',
        'nvidia.com/gpu.count=1',
      ],
      'node-taint': ['nvidia.com/gpu=present:NoSchedule'],
    });
    expect(files['data-pipeline']).toEqual({
      server: 'https://192.222.58.232:6443',
      'token-file': '/etc/rancher/k3s/token',
      'node-name': 'data-pipeline',
      'node-ip': '104.171.202.134',
      'node-label': [
        'manifests.sophia.ai/gpu-pool=a100',
        'nvidia.com/gpu.present=true',
        'nvidia.com/gpu.product=A100',
        'nvidia.com/gpu.count=1',
      ],
      'node-taint': ['nvidia.com/gpu=present:NoSchedule'],
    });
    expect(files['production-services']['node-label']).toContain('nvidia.com/gpu.product=RTX-6000');
    expect(files['production-services']['node-taint']).toBeUndefined();
    // Exactly one cluster-init, on the first server.
    expect(cluster.files.filter((f) => f.config['cluster-init'])).toHaveLength(1);
    expect(cluster.files.filter((f) => f.primary).map((f) => f.node)).toEqual(['primary']);
    for (const file of cluster.files) {
      expect(file.yaml.startsWith('# k3s config of node ')).toBe(true);
      expect(YAML.parse(file.yaml)).toEqual(JSON.parse(JSON.stringify(file.config)));
    }
    expect(warnings()).toEqual([]);
  });

  test('no token in any config: only token-file', () => {
    const { cluster } = fiveNodes(['primary', 'production-services', 'mcp-orchestrator']);
    const keys = (value: unknown): string[] =>
      value && typeof value === 'object'
        ? Object.entries(value).flatMap(([k, v]) => [k, ...keys(v)])
        : [];
    for (const file of cluster.files) {
      const parsed = YAML.parse(file.yaml);
      expect(keys(parsed)).not.toContain('token');
      expect(keys(parsed).filter((k) => /token/i.test(k))).toEqual(
        file.primary ? [] : ['token-file'],
      );
    }
  });

  test('primary, port, token file, flannel and disable can be chosen; IPv6 is bracketed', () => {
    const chart = testChart();
    new GpuNodePool(chart, 'a10', {
      gpuProduct: 'A10',
      taint: false,
      nodes: [
        { name: 'one', address: '2001:db8::1', role: NodeRole.SERVER },
        { name: 'two', address: '2001:db8::2', role: NodeRole.SERVER },
      ],
    });
    const cluster = new K3sCluster(chart, 'k3s', {
      servers: [{ name: 'three', address: '2001:db8::3' }],
      primary: 'two',
      apiPort: 7443,
      tokenFile: '/run/k3s-token',
      flannelBackend: FlannelBackend.VXLAN,
      disable: [],
    });
    expect(cluster.primary.name).toBe('two');
    expect(cluster.servers.map((s) => s.name)).toEqual(['two', 'one', 'three']);
    const files = byNode(cluster);
    expect(files.two['cluster-init']).toBe(true);
    expect(files.one).toMatchObject({
      server: 'https://[2001:db8::2]:7443',
      'token-file': '/run/k3s-token',
      'flannel-backend': 'vxlan',
    });
    expect(files.one.disable).toBeUndefined();
    expect(files.three['node-label']).toBeUndefined();
    expect(warnings()).toEqual([]);
  });

  test.each([
    [2, 'tolerates no server failure at all (a quorum of 2 needs both), no better than 1 server'],
    [4, 'tolerates 1 server failure(s) (a quorum of 3 of 4), no better than 3 servers'],
  ])('%i servers warn: an even etcd adds no tolerance', (count, message) => {
    const names = ['primary', 'production-services', 'mcp-orchestrator', 'data-pipeline'];
    fiveNodes(names.slice(0, count));
    const quorum = warnings().filter((w) => w.includes('k3s server'));
    expect(quorum).toHaveLength(1);
    expect(quorum[0]).toContain('[WARNING] test/k3s: ');
    expect(quorum[0]).toContain(message);
  });

  test.each([1, 3, 5])('%i server(s) do not warn', (count) => {
    const names = [
      'primary',
      'production-services',
      'mcp-orchestrator',
      'data-pipeline',
      'development',
    ];
    fiveNodes(names.slice(0, count));
    expect(warnings()).toEqual([]);
  });

  test('etcdFaultTolerance', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(etcdFaultTolerance)).toEqual([0, 0, 0, 1, 1, 2, 2, 3]);
  });

  test('warns when no node, or one, is left for pods without a GPU toleration', () => {
    const chart = testChart();
    new GpuNodePool(chart, 'a100', {
      ...A100,
      nodes: [{ name: 'data-pipeline', address: '104.171.202.134', role: NodeRole.SERVER }],
    });
    new K3sCluster(chart, 'k3s');
    expect(warnings().join('')).toContain(
      'every node is tainted nvidia.com/gpu=present:NoSchedule',
    );

    stderr().mockClear();
    const other = testChart();
    new GpuNodePool(other, 'gh200', GH200);
    new GpuNodePool(other, 'a100', A100);
    new K3sCluster(other, 'k3s');
    expect(warnings().join('')).toContain('only node primary is untainted');
  });

  test('writeTo writes only <node>.yaml, each saying how to relabel a node that joined before', () => {
    const { cluster } = fiveNodes(['primary', 'production-services', 'mcp-orchestrator']);
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'k3s-')), 'k3s');
    const written = cluster.writeTo(dir);
    expect(fs.readdirSync(dir).sort()).toEqual(cluster.files.map((f) => f.fileName).sort());
    expect(written).toHaveLength(5);
    const dataPipeline = fs.readFileSync(path.join(dir, 'data-pipeline.yaml'), 'utf8');
    expect(dataPipeline).toBe(cluster.files.find((f) => f.node === 'data-pipeline')!.yaml);
    expect(dataPipeline).toContain(
      "#   kubectl label node 'data-pipeline' --overwrite 'manifests.sophia.ai/gpu-pool=a100' 'nvidia.com/gpu.present=true' 'nvidia.com/gpu.product=A100' 'nvidia.com/gpu.count=1'",
    );
    expect(dataPipeline).toContain(
      "#   kubectl taint node 'data-pipeline' --overwrite 'nvidia.com/gpu=present:NoSchedule'",
    );
    const primary = fs.readFileSync(path.join(dir, 'primary.yaml'), 'utf8');
    expect(primary).toContain(
      "#   kubectl taint node 'primary' 'nvidia.com/gpu:NoSchedule-' || true",
    );
    for (const line of dataPipeline.split('\n').filter((l) => l.startsWith('#   kubectl'))) {
      expect(spawnSync('sh', ['-n', '-c', line.slice(4)]).status).toBe(0);
    }
  });

  test('renderK3sConfigs is pure', () => {
    const files = renderK3sConfigs(
      [
        { name: 'a', address: '10.0.0.1', role: NodeRole.SERVER },
        { name: 'b', address: '10.0.0.2', role: NodeRole.AGENT },
      ],
      { primary: 'a', apiPort: 6443, tokenFile: '/t', flannelBackend: 'vxlan', disable: [] },
    );
    expect(files.map((f) => f.config)).toEqual([
      {
        'cluster-init': true,
        'node-name': 'a',
        'node-ip': '10.0.0.1',
        'tls-san': ['10.0.0.1'],
        'flannel-backend': 'vxlan',
      },
      {
        server: 'https://10.0.0.1:6443',
        'token-file': '/t',
        'node-name': 'b',
        'node-ip': '10.0.0.2',
      },
    ]);
  });

  describe('bad input', () => {
    function cluster(props: K3sClusterProps, pools: GpuNodePoolProps[] = [GH200]): K3sCluster {
      const chart = testChart();
      pools.forEach((pool, i) => new GpuNodePool(chart, `pool${i}`, pool));
      return new K3sCluster(chart, 'k3s', props);
    }

    test('no server', () => {
      expect(invalid(() => cluster({}, [A100])).message).toBe(
        'test/k3s: invalid servers []: at least one k3s server, the primary that runs cluster-init: give a pool node role: NodeRole.SERVER, or list a server here',
      );
    });

    test('a primary that is not a server', () => {
      expect(invalid(() => cluster({ primary: 'data-pipeline' }, [GH200, A100])).message).toBe(
        'test/k3s: invalid primary "data-pipeline": the name of a server: one of "primary"',
      );
    });

    test('a server that repeats a pool node', () => {
      expect(
        invalid(() => cluster({ servers: [{ name: 'cp', address: '192.222.58.232' }] })).message,
      ).toContain(
        'test/k3s: invalid servers[0].address "192.222.58.232": an address not already used by node "primary"',
      );
    });

    test.each<[string, K3sClusterProps, string]>([
      [
        'a bad server address',
        { servers: [{ name: 'cp', address: 'cp.local' }] },
        'invalid servers[0].address "cp.local"',
      ],
      [
        'a bad server name',
        { servers: [{ name: 'CP', address: '10.0.0.9' }] },
        'invalid servers[0].name "CP"',
      ],
      [
        'a bad server architecture',
        {
          servers: [{ name: 'cp', address: '10.0.0.9', architecture: 'riscv' as CpuArchitecture }],
        },
        'invalid servers[0].architecture "riscv"',
      ],
      [
        'a relative token file',
        { tokenFile: 'token' },
        'invalid tokenFile "token": an absolute path',
      ],
      [
        'an unknown flannel backend',
        { flannelBackend: 'ipsec' as FlannelBackend },
        'invalid flannelBackend "ipsec"',
      ],
      ['a bad port', { apiPort: 0 }, 'invalid apiPort 0'],
      ['a bad component', { disable: ['Traefik '] }, 'invalid disable ["Traefik "]'],
    ])('%s', (_what, props, message) => {
      expect(invalid(() => cluster(props)).message).toContain(`test/k3s: ${message}`);
    });

    test('a pool declared after the cluster', () => {
      const chart = testChart();
      new GpuNodePool(chart, 'gh200', GH200);
      new K3sCluster(chart, 'k3s');
      expect(() => new GpuNodePool(chart, 'a100', A100)).toThrow(
        'test/a100: nodes must be declared before test/k3s, which has already computed the k3s configs from them',
      );
    });
  });
});

describe('scripts/gpu-check.sh with a fake nvidia-smi', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gpu-check-'));
  // Only sh and grep from the host: a real nvidia-smi elsewhere on PATH must not count.
  const tools = path.join(tmp, 'tools');
  fs.mkdirSync(tools);
  const grep = execFileSync('sh', ['-c', 'command -v grep'], { encoding: 'utf8' }).trim();
  fs.symlinkSync(grep, path.join(tools, 'grep'));
  fs.symlinkSync('/bin/sh', path.join(tools, 'sh'));

  /** A folder with an nvidia-smi that prints `lines` (and exits `status`). */
  function fakeSmi(lines: readonly string[], status = 0): string {
    const dir = fs.mkdtempSync(path.join(tmp, 'bin-'));
    const out = lines.map((l) => `echo '${l.replace(/'/g, `'"'"'`)}'`).join('\n');
    fs.writeFileSync(
      path.join(dir, 'nvidia-smi'),
      `#!/bin/sh\n[ "$*" = '--query-gpu=name --format=csv,noheader' ] || { echo "unexpected args: $*" >&2; exit 64; }\n${out}\nexit ${status}\n`,
      { mode: 0o755 },
    );
    return dir;
  }

  function run(bin: string | undefined, args: readonly string[], env: Record<string, string> = {}) {
    const result = spawnSync('/bin/sh', [CHECK_SCRIPT, ...args], {
      env: { PATH: bin ? `${bin}:${tools}` : tools, ...env },
      encoding: 'utf8',
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  test.each<[string, string[], string[]]>([
    ['A100', ['NVIDIA A100-SXM4-80GB'], []],
    ['a100', ['NVIDIA A100-SXM4-80GB', 'NVIDIA A100-SXM4-80GB'], []],
    ['RTX 6000', ['Quadro RTX 6000'], []],
    ['RTX 6000', ['NVIDIA RTX 6000 Ada Generation'], []],
    ['GH200', ['NVIDIA GH200 480GB'], []],
    ['A6000', ['NVIDIA RTX A6000'], []],
    ['A10', ['NVIDIA A10'], []],
  ])('%s on %j passes', (product, names) => {
    const result = run(fakeSmi(names), [product, '1']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`[gpu-check] OK: ${names.length} x "${product}"`);
    expect(result.stdout).toContain('[gpu-check] running nvidia-smi');
  });

  test('the right product and count, from the environment as in the Job', () => {
    const result = run(fakeSmi(['NVIDIA A100-SXM4-80GB', 'NVIDIA A100-SXM4-80GB']), [], {
      EXPECTED_GPU_PRODUCT: 'A100',
      EXPECTED_GPU_COUNT: '2',
      NODE_NAME: 'data-pipeline',
    });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('matching "A100" on node data-pipeline');
  });

  test.each<[string, string[]]>([
    ['A100', ['NVIDIA A10']],
    ['A10', ['NVIDIA A100-SXM4-80GB']],
    ['RTX 6000', ['NVIDIA RTX A6000']],
    ['GH200', ['NVIDIA H100 80GB HBM3']],
  ])('%s on %j fails: wrong product', (product, names) => {
    const result = run(fakeSmi(names), [product, '1']);
    expect(result.status).toBe(6);
    expect(result.stderr).toContain(`FAIL: wrong GPU product: 0 of 1 GPU(s) match "${product}"`);
  });

  test('too few GPUs', () => {
    const result = run(fakeSmi(['NVIDIA A100-SXM4-80GB']), ['A100', '2']);
    expect(result.status).toBe(5);
    expect(result.stderr).toContain('FAIL: too few GPUs: nvidia-smi sees 1, expected at least 2');
  });

  test('no GPU at all ("No devices were found", exit 0)', () => {
    const result = run(fakeSmi(['No devices were found']), ['A100', '1']);
    expect(result.status).toBe(5);
    expect(result.stderr).toContain('nvidia-smi sees 0, expected at least 1');
  });

  test('enough GPUs, but not enough of the product', () => {
    const result = run(fakeSmi(['NVIDIA A100-SXM4-80GB', 'NVIDIA A10']), ['A100', '2']);
    expect(result.status).toBe(6);
    expect(result.stderr).toContain('1 of 2 GPU(s) match "A100"');
  });

  test('nvidia-smi missing', () => {
    const result = run(undefined, ['A100', '1']);
    expect(result.status).toBe(3);
    expect(result.stderr).toContain('FAIL: nvidia-smi is not on PATH');
    expect(result.stderr).toContain('runtimeClassName: nvidia');
  });

  test('nvidia-smi failing', () => {
    const result = run(
      fakeSmi(["NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver"], 9),
      ['A100', '1'],
    );
    expect(result.status).toBe(4);
    expect(result.stderr).toContain('FAIL: nvidia-smi failed:');
    expect(result.stderr).toContain('NVIDIA-SMI has failed');
  });

  test.each([[[]], [['A100']], [['A100', 'two']]])('bad arguments %j', (args) => {
    const result = run(fakeSmi(['NVIDIA A100-SXM4-80GB']), args);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('[gpu-check] FAIL:');
  });

  test("the Job's exact command and env pass on the right GPUs and fail on others", () => {
    const job = findOne(synth(twoPools().chart), 'Job', 'gpu-check-data-pipeline');
    const [container] = podSpecOf(job).containers;
    const env = Object.fromEntries(
      container.env
        .filter((e: { value?: string }) => e.value !== undefined)
        .map((e: { name: string; value: string }) => [e.name, e.value]),
    );
    const [command, ...args] = container.command as string[];
    const inPod = (bin: string) =>
      spawnSync(command, args, { env: { ...env, PATH: `${bin}:${tools}` }, encoding: 'utf8' });
    expect(inPod(fakeSmi(['NVIDIA A100-SXM4-80GB', 'NVIDIA A100-SXM4-80GB'])).status).toBe(0);
    expect(inPod(fakeSmi(['NVIDIA A100-SXM4-80GB'])).status).toBe(5);
    expect(inPod(fakeSmi(['NVIDIA A10', 'NVIDIA A10'])).status).toBe(6);
  });
});
