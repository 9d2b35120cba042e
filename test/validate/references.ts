// Check 3, references between objects, duplicates and image pinning.
import * as fs from 'fs';
import * as path from 'path';
import { parseYaml, validateDocuments, yamlFiles, type LoadedDoc } from '../../validation';
import { checkReferences, imageReference } from '../../validation/references';

const VALID = path.join(__dirname, '..', 'fixtures', 'validate', 'valid');

type Doc = Record<string, unknown>;

/** The valid fixture output, freshly parsed (file names relative to the fixture folder). */
function output(): LoadedDoc[] {
  return yamlFiles(VALID).flatMap(
    (file) => parseYaml(path.relative(VALID, file), fs.readFileSync(file, 'utf8')).docs,
  );
}

function docOf(docs: LoadedDoc[], kind: string): Doc {
  const d = docs.find((x) => (x.doc as Doc).kind === kind);
  if (!d) throw new Error(`no ${kind}`);
  return d.doc as Doc;
}

function at(doc: unknown, dotted: string): Doc {
  return dotted.split('.').reduce<unknown>((o, k) => (o as Doc)[k], doc) as Doc;
}

const podSpec = (docs: LoadedDoc[]): Doc => at(docOf(docs, 'Deployment'), 'spec.template.spec');
const app = (docs: LoadedDoc[]): Doc => at(podSpec(docs), 'containers.0');

/** `Kind/name: message` of each reference finding after `mutate`. */
function findings(mutate: (docs: LoadedDoc[]) => void): string[] {
  const docs = output();
  mutate(docs);
  return checkReferences(docs).map((f) => `${f.kind}/${f.name}: ${f.message}`);
}

test('the valid fixture output has no finding at all', () => {
  expect(validateDocuments(output())).toEqual([]);
});

describe('Services', () => {
  test('a selector that matches no pod template', () => {
    expect(
      findings(
        (docs) =>
          (at(docOf(docs, 'Service'), 'spec').selector = { 'app.kubernetes.io/name': 'wbe' }),
      ),
    ).toEqual([
      'Service/web: selector app.kubernetes.io/name=wbe matches no pod template in namespace "shop"',
    ]);
  });

  test('a selector that matches a pod template in another namespace only', () => {
    expect(
      findings((docs) => (at(docOf(docs, 'Service'), 'metadata').namespace = 'other')),
    ).toEqual([
      'Service/web: selector app.kubernetes.io/name=web matches no pod template in namespace "other"',
    ]);
  });

  test('a selector must match all its labels', () => {
    expect(
      findings((docs) => (at(docOf(docs, 'Service'), 'spec.selector').tier = 'frontend')),
    ).toHaveLength(1);
  });

  test('a Service without selector, or ExternalName, is not checked', () => {
    expect(findings((docs) => delete at(docOf(docs, 'Service'), 'spec').selector)).toEqual([]);
    expect(
      findings((docs) => {
        const spec = at(docOf(docs, 'Service'), 'spec');
        spec.type = 'ExternalName';
        spec.selector = { nothing: 'here' };
      }),
    ).toEqual([]);
  });

  test('a named targetPort that no selected container declares', () => {
    expect(
      findings((docs) => (at(docOf(docs, 'Service'), 'spec.ports.0').targetPort = 'https')),
    ).toEqual([
      'Service/web: port "http": targetPort "https" (TCP) is not a container port of Deployment/web',
    ]);
  });

  test('numeric targetPorts must be declared; the default targetPort is the port', () => {
    expect(
      findings((docs) => (at(docOf(docs, 'Service'), 'spec.ports.0').targetPort = 8000)),
    ).toEqual([]);
    expect(
      findings((docs) => delete at(docOf(docs, 'Service'), 'spec.ports.0').targetPort),
    ).toEqual([
      'Service/web: port "http": targetPort 80 (TCP) is not a container port of Deployment/web',
    ]);
  });

  test('the protocol must match', () => {
    expect(
      findings((docs) => (at(docOf(docs, 'Service'), 'spec.ports.0').protocol = 'UDP')),
    ).toEqual([
      'Service/web: port "http": targetPort "http" (UDP) is not a container port of Deployment/web',
    ]);
  });
});

describe('what pods use', () => {
  test('a missing ConfigMap (env valueFrom and volume)', () => {
    expect(findings((docs) => (at(docOf(docs, 'ConfigMap'), 'metadata').name = 'renamed'))).toEqual(
      [
        'Deployment/web: volume "config": ConfigMap "web-config" is not defined in namespace "shop"',
        'Deployment/web: container "app" env LOG_LEVEL: ConfigMap "web-config" is not defined in namespace "shop"',
      ],
    );
  });

  test('a missing key of an existing ConfigMap', () => {
    expect(findings((docs) => delete at(docOf(docs, 'ConfigMap'), 'data').LOG_LEVEL)).toEqual([
      'Deployment/web: container "app" env LOG_LEVEL: ConfigMap "web-config" has no key "LOG_LEVEL"',
    ]);
    expect(
      findings((docs) => (at(podSpec(docs), 'volumes.0.configMap.items.0').key = 'config.toml')),
    ).toEqual(['Deployment/web: volume "config": ConfigMap "web-config" has no key "config.toml"']);
  });

  test('optional references may be missing', () => {
    expect(
      findings((docs) => {
        at(app(docs), 'env.0.valueFrom.configMapKeyRef').optional = true;
        at(podSpec(docs), 'volumes.0.configMap').optional = true;
        at(docOf(docs, 'ConfigMap'), 'metadata').name = 'renamed';
      }),
    ).toEqual([]);
  });

  test('Secrets: envFrom, secretKeyRef, projected volumes and imagePullSecrets', () => {
    expect(
      findings((docs) => {
        app(docs).envFrom = [
          { secretRef: { name: 'db' } },
          { configMapRef: { name: 'web-config' } },
        ];
        (app(docs).env as Doc[]).push({
          name: 'TOKEN',
          valueFrom: { secretKeyRef: { name: 'api', key: 'token' } },
        });
        (podSpec(docs).volumes as Doc[]).push({
          name: 'certs',
          projected: {
            sources: [{ secret: { name: 'tls' } }, { configMap: { name: 'web-config' } }],
          },
        });
        podSpec(docs).imagePullSecrets = [{ name: 'registry' }];
      }),
    ).toEqual([
      'Deployment/web: volume "certs": Secret "tls" is not defined in namespace "shop"',
      'Deployment/web: container "app" envFrom: Secret "db" is not defined in namespace "shop"',
      'Deployment/web: container "app" env TOKEN: Secret "api" is not defined in namespace "shop"',
      'Deployment/web: imagePullSecrets: Secret "registry" is not defined in namespace "shop"',
    ]);
  });

  test('a Secret key comes from data or stringData', () => {
    expect(
      findings((docs) => {
        docs.push({
          file: 'secret.yaml',
          index: 0,
          doc: {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: 'db', namespace: 'shop' },
            data: { user: 'dQ==' },
            stringData: { password: 'p' },
          },
        });
        (app(docs).env as Doc[]).push(
          { name: 'U', valueFrom: { secretKeyRef: { name: 'db', key: 'user' } } },
          { name: 'P', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
          { name: 'H', valueFrom: { secretKeyRef: { name: 'db', key: 'host' } } },
        );
      }),
    ).toEqual(['Deployment/web: container "app" env H: Secret "db" has no key "host"']);
  });

  test('a ServiceAccount other than default', () => {
    expect(findings((docs) => (podSpec(docs).serviceAccountName = 'worker'))).toEqual([
      'Deployment/web: serviceAccountName: ServiceAccount "worker" is not defined in namespace "shop"',
    ]);
    expect(findings((docs) => (podSpec(docs).serviceAccountName = 'default'))).toEqual([]);
  });

  test('references resolve in the pod’s own namespace', () => {
    expect(
      findings((docs) => (at(docOf(docs, 'ConfigMap'), 'metadata').namespace = 'other')),
    ).toHaveLength(2);
  });
});

describe('probe ports', () => {
  test('a named probe port the container does not declare', () => {
    expect(findings((docs) => (at(app(docs), 'readinessProbe.httpGet').port = 'health'))).toEqual([
      'Deployment/web: container "app" readinessProbe.httpGet.port "health" is not a port the container declares',
    ]);
  });

  test('a numeric probe port the container does not declare', () => {
    expect(findings((docs) => (at(app(docs), 'livenessProbe.tcpSocket').port = 9000))).toEqual([
      'Deployment/web: container "app" livenessProbe.tcpSocket.port 9000 is not a port the container declares',
    ]);
  });

  test('grpc probes', () => {
    expect(findings((docs) => (app(docs).startupProbe = { grpc: { port: 8000 } }))).toEqual([]);
    expect(findings((docs) => (app(docs).startupProbe = { grpc: { port: 9090 } }))).toEqual([
      'Deployment/web: container "app" startupProbe.grpc.port 9090 is not a port the container declares',
    ]);
  });
});

describe('images', () => {
  test.each([
    ['nginx', 'has no tag (it would pull :latest)'],
    ['registry.local:5000/team/nginx', 'has no tag (it would pull :latest)'],
    ['nginx:latest', 'uses the mutable tag "latest"; pin a version or a digest'],
  ])('%s', (image, message) => {
    expect(findings((docs) => (app(docs).image = image))).toEqual([
      `Deployment/web: container "app" image ${JSON.stringify(image)} ${message}`,
    ]);
  });

  test.each([
    'nginx:1.27',
    'registry.local:5000/nginx:1.27',
    'nginx@sha256:0123abcd',
    'nginx:latest@sha256:0123abcd',
  ])('%s is pinned', (image) => {
    expect(findings((docs) => (app(docs).image = image))).toEqual([]);
  });

  test('init containers are checked too', () => {
    expect(
      findings((docs) => (podSpec(docs).initContainers = [{ name: 'migrate', image: 'migrate' }])),
    ).toEqual([
      'Deployment/web: container "migrate" image "migrate" has no tag (it would pull :latest)',
    ]);
  });

  test('imageReference', () => {
    expect(imageReference('a/b:1@sha256:x')).toEqual({ tag: '1', digest: 'sha256:x' });
    expect(imageReference('host:5000/b')).toEqual({ tag: undefined, digest: undefined });
  });
});

describe('duplicates', () => {
  const cm = (namespace: string | undefined, file = 'extra.yaml'): LoadedDoc => ({
    file,
    index: 0,
    doc: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'web-config', ...(namespace ? { namespace } : {}) },
    },
  });

  test('same kind, namespace and name', () => {
    expect(findings((docs) => docs.push(cm('shop')))).toEqual([
      'ConfigMap/web-config: duplicate ConfigMap "web-config" in namespace "shop" (also shop/web.yaml#1)',
    ]);
  });

  test('another namespace, or another kind, is no duplicate', () => {
    expect(findings((docs) => docs.push(cm('other')))).toEqual([]);
    expect(
      findings((docs) =>
        docs.push({
          file: 'x.yaml',
          index: 0,
          doc: {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: 'web-config', namespace: 'shop' },
          },
        }),
      ),
    ).toEqual([]);
  });

  test('no namespace means default', () => {
    expect(findings((docs) => docs.push(cm(undefined, 'a.yaml'), cm('default', 'b.yaml')))).toEqual(
      [
        'ConfigMap/web-config: duplicate ConfigMap "web-config" in namespace "default" (also a.yaml#0)',
      ],
    );
  });

  test('cluster-scoped kinds ignore metadata.namespace', () => {
    expect(
      findings((docs) =>
        docs.push({
          file: 'ns2.yaml',
          index: 0,
          doc: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', namespace: 'x' } },
        }),
      ),
    ).toEqual(['Namespace/shop: duplicate Namespace "shop" (also shop/namespace.yaml#0)']);
  });
});

describe('RBAC', () => {
  const binding = (roleRef: Doc, subjects: Doc[]): LoadedDoc => ({
    file: 'rbac.yaml',
    index: 0,
    doc: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'b', namespace: 'shop' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', ...roleRef },
      subjects,
    },
  });
  const role: LoadedDoc = {
    file: 'rbac.yaml',
    index: 1,
    doc: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'reader', namespace: 'shop' },
    },
  };
  const sa = (name: string, namespace = 'shop'): Doc => ({
    kind: 'ServiceAccount',
    name,
    namespace,
  });

  test('a RoleBinding to an existing Role and ServiceAccount', () => {
    expect(
      findings((docs) => docs.push(role, binding({ kind: 'Role', name: 'reader' }, [sa('web')]))),
    ).toEqual([]);
  });

  test('a RoleBinding to a missing Role, a missing ServiceAccount', () => {
    expect(
      findings((docs) => docs.push(binding({ kind: 'Role', name: 'writer' }, [sa('worker')]))),
    ).toEqual([
      'RoleBinding/b: roleRef: Role "writer" is not defined in namespace "shop"',
      'RoleBinding/b: subject ServiceAccount "worker" is not defined in namespace "shop"',
    ]);
  });

  test('ClusterRoles may be built in; subjects in namespaces outside the output are not checked', () => {
    expect(
      findings((docs) =>
        docs.push(binding({ kind: 'ClusterRole', name: 'view' }, [sa('x', 'kube-system')])),
      ),
    ).toEqual([]);
  });
});
