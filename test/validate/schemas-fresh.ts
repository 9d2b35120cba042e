// The generated schema artefact, schemas/k8s-1.28-argocd.json: strict where
// Kubernetes is strict, and (where ../shared exists) exactly what
// validation/generate-schemas.ts derives from the reference data.
import * as fs from 'fs';
import * as path from 'path';
import {
  generateSchemaBundle,
  KUBERNETES_KINDS,
  re2ToJs,
  type Json,
  type SchemaBundle,
} from '../../validation/generate-schemas';
import { SCHEMA_BUNDLE_FILE, validateSchema } from '../../validation/schema';

const SHARED = path.resolve(__dirname, '..', '..', '..', 'shared');
const present = fs.existsSync(path.join(SHARED, 'k8s-schemas'));
const bundle = JSON.parse(fs.readFileSync(SCHEMA_BUNDLE_FILE, 'utf8')) as SchemaBundle;

/** Every object schema in `node`, with its path. */
function* schemas(node: Json, at: string): Generator<[string, Record<string, Json>]> {
  if (Array.isArray(node)) node.forEach((n, i) => schemas(n, `${at}/${i}`));
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return;
  yield [at, node];
  for (const [key, value] of Object.entries(node)) {
    if (
      key === 'properties' &&
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value)
    ) {
      for (const [p, s] of Object.entries(value)) yield* schemas(s, `${at}/properties/${p}`);
    } else if (key === 'items' || key === 'additionalProperties') {
      yield* schemas(value, `${at}/${key}`);
    }
  }
}

function allSchemas(): [string, Record<string, Json>][] {
  return [
    ...Object.entries(bundle.kinds).flatMap(([k, v]) => [...schemas(v.schema, k)]),
    ...Object.entries(bundle.definitions).flatMap(([k, v]) => [...schemas(v, k)]),
  ];
}

test('it covers the listed Kubernetes kinds, the Argo CD and the Prometheus Operator kinds', () => {
  expect(Object.keys(bundle.kinds).sort()).toEqual(
    [
      ...KUBERNETES_KINDS,
      'argoproj.io/v1alpha1 AppProject',
      'argoproj.io/v1alpha1 Application',
      'monitoring.coreos.com/v1 PrometheusRule',
      'monitoring.coreos.com/v1 ServiceMonitor',
    ].sort(),
  );
});

test('every object with declared fields rejects unknown ones', () => {
  const open = allSchemas()
    .filter(([, s]) => s.properties !== undefined && s.additionalProperties === undefined)
    .map(([at]) => at);
  expect(open).toEqual([]);
});

test('documentation and status are left out', () => {
  expect(
    allSchemas()
      .filter(([, s]) => 'description' in s)
      .map(([at]) => at),
  ).toEqual([]);
  for (const [key, kind] of Object.entries(bundle.kinds)) {
    expect([key, (kind.schema.properties as Record<string, Json>).status]).toEqual([
      key,
      undefined,
    ]);
  }
});

(present ? describe : describe.skip)(
  `freshness (${present ? SHARED : 'skipped: ../shared is absent'})`,
  () => {
    test('the committed artefact is what the generator derives from ../shared', () => {
      const fresh = JSON.parse(JSON.stringify(generateSchemaBundle(SHARED))) as SchemaBundle;
      expect(bundle.sources).toEqual(fresh.sources);
      expect(bundle).toEqual(fresh);
    });
  },
);

test.each(Object.keys(bundle.kinds))('the schema of %s compiles (ajv strict mode)', (key) => {
  const [apiVersion, kind] = key.split(' ');
  const messages = validateSchema({ apiVersion, kind, metadata: { name: 'x' } });
  expect(messages.filter((m) => !m.startsWith('missing required field '))).toEqual([]);
});

describe('CRD patterns (RE2) in JavaScript syntax', () => {
  test('a top-level (?i) folds the letters after it, and only those', () => {
    const js = re2ToJs('^(?i)(abort|warn)?$');
    expect(js).toBe('^([aA][bB][oO][rR][tT]|[wW][aA][rR][nN])?$');
    const re = new RegExp(js, 'u');
    for (const ok of ['', 'abort', 'WARN', 'Abort']) expect(re.test(ok)).toBe(true);
    for (const bad of ['ab', 'warning', 'x']) expect(re.test(bad)).toBe(false);
    // Not before the flag, not in escapes, not in digit classes.
    expect(re2ToJs('^x(?i)\\dy[0-9]?$')).toBe('^x\\d[yY][0-9]?$');
  });

  test('patterns both dialects read alike pass unchanged', () => {
    for (const p of [
      '^(http|https)://.+$',
      '(^0|([0-9]*[.])?[0-9]+((K|M|G|T|E|P)i?)?B)$',
      '^(?:a|b)\\+$',
    ])
      expect(re2ToJs(p)).toBe(p);
  });

  test.each(['^(?P<name>x)$', '(a(?i)b)', '\\Ax\\z', '(?i)[a-z]', '(?s).'])(
    '%s is refused',
    (p) => {
      expect(() => re2ToJs(p)).toThrow(/unsupported RE2 syntax/);
    },
  );
});
