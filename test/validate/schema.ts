// Check 1, the strict schema of each document's kind.
import * as fs from 'fs';
import * as path from 'path';
import { parseYaml, yamlFiles } from '../../validation';
import { isNamespaced, QUANTITY_PATTERN, validateSchema } from '../../validation/schema';

const VALID = path.join(__dirname, '..', 'fixtures', 'validate', 'valid');

type Doc = Record<string, unknown>;

/** A fresh copy of the fixture document of `kind`. */
function fixture(kind: string): Doc {
  for (const file of yamlFiles(VALID)) {
    for (const d of parseYaml(file, fs.readFileSync(file, 'utf8')).docs) {
      if ((d.doc as Doc).kind === kind) return structuredClone(d.doc) as Doc;
    }
  }
  throw new Error(`no ${kind} fixture`);
}

/** The object at a dotted path (numbers index arrays). */
function at(doc: unknown, dotted: string): Doc {
  return dotted.split('.').reduce<unknown>((o, k) => (o as Doc)[k], doc) as Doc;
}

const container = (d: Doc): Doc => at(d, 'spec.template.spec.containers.0');

describe('valid documents', () => {
  test.each([
    'Namespace',
    'ServiceAccount',
    'ConfigMap',
    'Deployment',
    'Service',
    'AppProject',
    'Application',
  ])('the %s fixture matches its schema', (kind) => {
    expect(validateSchema(fixture(kind))).toEqual([]);
  });
});

describe('unknown fields (kubectl --validate=strict)', () => {
  test('at the top', () => {
    const d = fixture('Deployment');
    d.extra = 1;
    expect(validateSchema(d)).toEqual(['unknown field "extra"']);
  });

  test('deep in a container', () => {
    const d = fixture('Deployment');
    container(d).imagePullPolicyy = 'Always';
    expect(validateSchema(d)).toEqual([
      'unknown field "spec.template.spec.containers[0].imagePullPolicyy"',
    ]);
  });

  test('in metadata', () => {
    const d = fixture('ConfigMap');
    at(d, 'metadata').label = { a: 'b' };
    expect(validateSchema(d)).toEqual(['unknown field "metadata.label"']);
  });

  test('status is not part of a manifest', () => {
    const d = fixture('Deployment');
    d.status = { replicas: 2 };
    expect(validateSchema(d)).toEqual([
      'unknown field "status" (status is written by the cluster; omit it)',
    ]);
  });

  test('maps take any key (labels, ConfigMap data)', () => {
    const d = fixture('ConfigMap');
    at(d, 'data')['any.key-at_all'] = 'x';
    at(d, 'metadata').labels = { 'example.com/anything': 'x' };
    expect(validateSchema(d)).toEqual([]);
  });

  test('in an Argo CD Application (closed CRD schema)', () => {
    const d = fixture('Application');
    at(d, 'spec.source').branch = 'main';
    expect(validateSchema(d)).toEqual(['unknown field "spec.source.branch"']);
  });

  test('but not under x-kubernetes-preserve-unknown-fields (helm valuesObject)', () => {
    const d = fixture('Application');
    at(d, 'spec.source').helm = { valuesObject: { anything: { goes: [1, 2] } } };
    expect(validateSchema(d)).toEqual([]);
  });
});

describe('required fields', () => {
  test('a container needs a name', () => {
    const d = fixture('Deployment');
    delete container(d).name;
    expect(validateSchema(d)).toEqual([
      'missing required field "spec.template.spec.containers[0].name"',
    ]);
  });

  test('a Deployment needs a selector', () => {
    const d = fixture('Deployment');
    delete at(d, 'spec').selector;
    expect(validateSchema(d)).toEqual(['missing required field "spec.selector"']);
  });

  test('kubectl apply needs metadata.name', () => {
    const d = fixture('ConfigMap');
    delete at(d, 'metadata').name;
    expect(validateSchema(d)).toEqual(['missing required field "metadata.name"']);
  });

  test('an Argo CD Application needs spec.destination', () => {
    const d = fixture('Application');
    delete at(d, 'spec').destination;
    expect(validateSchema(d)).toEqual(['missing required field "spec.destination"']);
  });

  test('null counts as absent, as in Go', () => {
    const d = fixture('Deployment');
    at(d, 'spec').replicas = null;
    expect(validateSchema(d)).toEqual([]);
    container(d).name = null;
    expect(validateSchema(d)).toEqual([
      'missing required field "spec.template.spec.containers[0].name"',
    ]);
  });
});

describe('types', () => {
  test('an integer field given a string', () => {
    const d = fixture('Deployment');
    at(d, 'spec').replicas = '2';
    expect(validateSchema(d)).toEqual(['spec.replicas: must be an integer, not string "2"']);
  });

  test('a string map given a number', () => {
    const d = fixture('ConfigMap');
    at(d, 'data').workers = 2;
    expect(validateSchema(d)).toEqual(['data.workers: must be a string, not integer 2']);
  });

  test('an int32 out of range', () => {
    const d = fixture('Service');
    at(d, 'spec.ports.0').port = 2 ** 40;
    expect(validateSchema(d)).toEqual([`spec.ports[0].port: ${2 ** 40} is not a valid int32`]);
  });

  test.each([0, 1, '25%', 'http'])('IntOrString accepts %p', (value) => {
    const d = fixture('Deployment');
    at(d, 'spec.strategy.rollingUpdate').maxSurge = value;
    expect(validateSchema(d)).toEqual([]);
  });

  test.each([
    [true, 'boolean true'],
    [1.5, 'number 1.5'],
    [{}, 'object {}'],
  ])('IntOrString rejects %p', (value, shown) => {
    const d = fixture('Deployment');
    at(d, 'spec.strategy.rollingUpdate').maxSurge = value;
    expect(validateSchema(d)).toEqual([
      `spec.strategy.rollingUpdate.maxSurge: must be an integer or a string (IntOrString), not ${shown}`,
    ]);
  });

  test('int-or-string in a CRD (x-kubernetes-int-or-string)', () => {
    const d = fixture('Application');
    at(d, 'spec.source').kustomize = { replicas: [{ name: 'web', count: '3' }] };
    expect(validateSchema(d)).toEqual([]);
    at(d, 'spec.source.kustomize.replicas.0').count = false;
    expect(validateSchema(d)).toEqual([
      'spec.source.kustomize.replicas[0].count: must be an integer or a string (IntOrString), not boolean false',
    ]);
  });

  test('base64 data of a Secret', () => {
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's', namespace: 'shop' },
      data: { ok: 'aGVsbG8=', bad: 'hello!' },
    };
    expect(validateSchema(secret)).toEqual(['data.bad: illegal base64 data']);
  });
});

describe('quantities', () => {
  test.each([
    '100m',
    '1',
    '0.5',
    '.5',
    '1Gi',
    '128Mi',
    '1e3',
    '1E-2',
    '2k',
    '1Ei',
    '+1',
    '-1',
    ' 1 ',
    0.5,
    2,
  ])('accepts %p', (value) => {
    const d = fixture('Deployment');
    at(container(d), 'resources.limits').cpu = value;
    expect(validateSchema(d)).toEqual([]);
  });

  test.each(['1x', '1GB', '1gi', 'Mi', '', '1.2.3', '1e2.5', '1 Gi'])('rejects %p', (value) => {
    const d = fixture('Deployment');
    at(container(d), 'resources.limits').memory = value;
    expect(validateSchema(d)).toEqual([
      `spec.template.spec.containers[0].resources.limits.memory: quantities must match the regular expression '${QUANTITY_PATTERN.source}' (got ${JSON.stringify(value)})`,
    ]);
  });

  test('rejects a boolean', () => {
    const d = fixture('Deployment');
    at(container(d), 'resources.requests').cpu = true;
    expect(validateSchema(d)).toEqual([
      'spec.template.spec.containers[0].resources.requests.cpu: must be a quantity (string or number), not boolean true',
    ]);
  });
});

describe('apiVersion and kind', () => {
  test('a kind in an apiVersion that does not serve it', () => {
    const d = fixture('Deployment');
    d.apiVersion = 'extensions/v1beta1';
    expect(validateSchema(d)).toEqual([
      'no matches for kind "Deployment" in version "extensions/v1beta1"; this kind is served as apps/v1',
    ]);
  });

  test('an unknown kind', () => {
    expect(
      validateSchema({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }),
    ).toEqual([
      'no matches for kind "Widget" in version "example.com/v1"; validation/generate-schemas.ts lists the kinds it knows',
    ]);
  });

  test('missing apiVersion and kind', () => {
    expect(validateSchema({ metadata: { name: 'x' } })).toEqual([
      'missing required field "apiVersion"',
      'missing required field "kind"',
    ]);
  });

  test('not a mapping', () => {
    expect(validateSchema(['a'])).toEqual(['a manifest must be a YAML mapping, not array']);
  });

  test('scope', () => {
    expect(isNamespaced('v1', 'Namespace')).toBe(false);
    expect(isNamespaced('rbac.authorization.k8s.io/v1', 'ClusterRole')).toBe(false);
    expect(isNamespaced('v1', 'ConfigMap')).toBe(true);
    expect(isNamespaced('argoproj.io/v1alpha1', 'Application')).toBe(true);
    expect(isNamespaced('example.com/v1', 'Widget')).toBe(true);
  });
});

describe('YAML reading, as kubectl reads it (YAML 1.1)', () => {
  test('on/yes are booleans, so an unquoted label value is a type error', () => {
    const { docs } = parseYaml(
      'x.yaml',
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels:\n    enabled: on\n',
    );
    expect(validateSchema(docs[0].doc)).toEqual([
      'metadata.labels.enabled: must be a string, not boolean true',
    ]);
  });

  test('0644 is octal, timestamps stay strings', () => {
    const { docs } = parseYaml('x.yaml', 'mode: 0644\nwhen: 2024-01-01\n');
    expect(docs[0].doc).toEqual({ mode: 420, when: '2024-01-01' });
  });

  test('documents keep their index; empty ones are skipped; broken ones are findings', () => {
    const { docs, findings } = parseYaml('x.yaml', 'a: 1\n---\n---\nb: [\n---\nc: 3\n');
    expect(docs.map((d) => [d.index, d.doc])).toEqual([
      [0, { a: 1 }],
      [3, { c: 3 }],
    ]);
    expect(findings).toEqual([
      expect.objectContaining({ file: 'x.yaml', index: 2, kind: '?', name: '?' }),
    ]);
    expect(findings[0].message).toMatch(/^YAML: /);
  });

  test('duplicate keys are an error, as with kubectl', () => {
    const { findings } = parseYaml('x.yaml', 'a: 1\na: 2\n');
    expect(findings.map((f) => f.message)).toEqual([expect.stringMatching(/^YAML: .*unique/i)]);
  });
});
