// Generates schemas/k8s-1.28-argocd.json, the strict JSON schemas that
// `npm run validate` checks manifests against. (The file name predates the
// Prometheus Operator kinds; it holds every CRD listed in CRDS below.)
//
// Why a generated artefact: the reference data (the Kubernetes 1.28 swagger
// definitions, the Argo CD CRDs and the Prometheus Operator's PrometheusRule
// and ServiceMonitor CRDs) lives in ../shared, which a user's clone
// does not have and which may not be copied into the repository; and no npm
// package ships Kubernetes 1.28 JSON schemas (kubernetes-models 4.4.x is
// built from Kubernetes 1.27.1, 4.5.x from a later release, and both ship
// precompiled validators only, not schemas). So, like `cdk8s import` turning
// the same swagger file into imports/k8s.ts, this script derives a compact
// schema from it: only the kinds listed below and the definitions they reach,
// descriptions and status dropped, strictness (no unknown fields) added, and
// the Kubernetes-specific types (IntOrString, Quantity) made checkable.
//
//   node scripts/run-ts.js validation/generate-schemas.ts [sharedDir]
//
// sharedDir defaults to ../shared (beside the repository), like
// scripts/offline-schemas.js. test/validate/schemas-fresh.ts checks the
// committed artefact against a fresh generation whenever ../shared exists.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';
import { CLUSTER_SCOPED_KINDS } from './scope';

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

/** One kind the validator knows. Key in SchemaBundle.kinds: `<apiVersion> <Kind>`. */
export interface KindEntry {
  namespaced: boolean;
  /** Schema of a whole manifest of this kind; its `$ref`s point into SchemaBundle.definitions. */
  schema: JsonObject;
}

export interface SchemaBundle {
  $comment: string;
  sources: { path: string; sha256: string }[];
  kinds: Record<string, KindEntry>;
  definitions: Record<string, JsonObject>;
}

const K8S_DEFINITIONS = 'k8s-schemas/v1.28.0/_definitions.json';
/** The CustomResourceDefinitions whose kinds the output may contain. */
const CRDS = [
  'crds/argo-cd/application-crd.yaml',
  'crds/argo-cd/appproject-crd.yaml',
  'crds/prometheus-operator/prometheusrule-crd.yaml',
  'crds/prometheus-operator/servicemonitor-crd.yaml',
];

/**
 * The Kubernetes kinds a manifest may have, as `<apiVersion> <Kind>`: the
 * stable kinds an application's manifests use. Anything else is reported as
 * an unknown kind; add it here and regenerate.
 */
export const KUBERNETES_KINDS: readonly string[] = [
  'v1 ConfigMap',
  'v1 LimitRange',
  'v1 Namespace',
  'v1 PersistentVolume',
  'v1 PersistentVolumeClaim',
  'v1 Pod',
  'v1 PodTemplate',
  'v1 ReplicationController',
  'v1 ResourceQuota',
  'v1 Secret',
  'v1 Service',
  'v1 ServiceAccount',
  'apps/v1 DaemonSet',
  'apps/v1 Deployment',
  'apps/v1 ReplicaSet',
  'apps/v1 StatefulSet',
  'autoscaling/v2 HorizontalPodAutoscaler',
  'batch/v1 CronJob',
  'batch/v1 Job',
  'networking.k8s.io/v1 Ingress',
  'networking.k8s.io/v1 IngressClass',
  'networking.k8s.io/v1 NetworkPolicy',
  'node.k8s.io/v1 RuntimeClass',
  'policy/v1 PodDisruptionBudget',
  'rbac.authorization.k8s.io/v1 ClusterRole',
  'rbac.authorization.k8s.io/v1 ClusterRoleBinding',
  'rbac.authorization.k8s.io/v1 Role',
  'rbac.authorization.k8s.io/v1 RoleBinding',
  'scheduling.k8s.io/v1 PriorityClass',
  'storage.k8s.io/v1 StorageClass',
];

const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
const INT_OR_STRING = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';

/**
 * IntOrString: a JSON integer or string. Quantity: a JSON number or a string
 * in resource.Quantity's grammar (the `quantity` format, registered by
 * validation/schema.ts).
 */
const SPECIAL_DEFINITIONS: Record<string, JsonObject> = {
  [INT_OR_STRING]: { type: ['integer', 'string'] },
  [QUANTITY]: { type: ['string', 'number'], format: 'quantity' },
};

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function mapValues(o: JsonObject, f: (v: JsonObject) => JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(o)) {
    if (!isObject(v)) throw new Error(`expected a schema object at "${k}"`);
    out[k] = f(v);
  }
  return out;
}

/** Deep copy with object keys sorted, so the artefact's diffs stay readable. */
function sortKeys(value: Json): Json {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const key of Object.keys(value).sort()) out[key] = sortKeys(value[key]);
  return out;
}

/**
 * A swagger-2.0 definition as a strict JSON schema: documentation and
 * x-kubernetes-* extensions dropped, and every object with declared
 * properties closed (additionalProperties: false), which is what
 * `kubectl apply --validate=strict` enforces. Objects without declared
 * properties (RawExtension, FieldsV1) stay open, as they are in Kubernetes.
 */
function convertSwagger(node: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'description' || key.startsWith('x-kubernetes-')) continue;
    if (key === 'properties' && isObject(value)) out.properties = mapValues(value, convertSwagger);
    else if ((key === 'items' || key === 'additionalProperties') && isObject(value))
      out[key] = convertSwagger(value);
    else out[key] = value;
  }
  if (out.properties !== undefined && out.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  return out;
}

/**
 * A CRD's `pattern` is Go (RE2) syntax and ajv compiles JavaScript's. They
 * agree on what these CRDs use except RE2's inline case-insensitive flag
 * (PrometheusRule's partial_response_strategy: `^(?i)(abort|warn)?$`): a
 * top-level `(?i)` becomes explicit letter classes from there on. Other
 * RE2-only syntax is refused rather than mistranslated.
 */
export function re2ToJs(pattern: string): string {
  const unsupported = (what: string) =>
    new Error(`unsupported RE2 syntax in CRD pattern ${JSON.stringify(pattern)}: ${what}`);
  let out = '';
  let depth = 0;
  let inClass = false;
  let fold = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      if ('AzCQEpP'.includes(next)) throw unsupported(`\\${next}`);
      out += c + next;
      i++;
    } else if (inClass) {
      if (fold && /[A-Za-z]/.test(c)) throw unsupported('a letter in a class after (?i)');
      if (c === ']') inClass = false;
      out += c;
    } else if (c === '[') {
      inClass = true;
      out += c;
    } else if (pattern.startsWith('(?i)', i)) {
      if (depth > 0) throw unsupported('(?i) inside a group');
      fold = true;
      i += 3;
    } else if (c === '(' && pattern[i + 1] === '?' && pattern[i + 2] !== ':') {
      throw unsupported(pattern.slice(i, i + 4));
    } else {
      if (c === '(') depth++;
      if (c === ')') depth--;
      const lower = c.toLowerCase();
      out += fold && lower !== c.toUpperCase() ? `[${lower}${c.toUpperCase()}]` : c;
    }
  }
  return out;
}

/**
 * A CRD's structural openAPIV3Schema as a strict JSON schema. The API server
 * prunes (and strict field validation rejects) every field a structural
 * schema does not declare, except below x-kubernetes-preserve-unknown-fields;
 * x-kubernetes-int-or-string means integer or string.
 */
function convertCrd(node: JsonObject): JsonObject {
  if (node['x-kubernetes-int-or-string'] === true) return { ...SPECIAL_DEFINITIONS[INT_OR_STRING] };
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'description' || key === 'default' || key.startsWith('x-kubernetes-')) continue;
    if (key === 'properties' && isObject(value)) out.properties = mapValues(value, convertCrd);
    else if ((key === 'items' || key === 'additionalProperties') && isObject(value))
      out[key] = convertCrd(value);
    else if (key === 'anyOf' || key === 'oneOf' || key === 'allOf' || key === 'not')
      throw new Error(`unsupported CRD schema keyword "${key}"`);
    else if (key === 'pattern' && typeof value === 'string') out.pattern = re2ToJs(value);
    else out[key] = value;
  }
  const open = node['x-kubernetes-preserve-unknown-fields'] === true;
  if (out.type === 'object' && !open && out.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  return out;
}

/** The top of a kind's schema: apiVersion and kind pinned, metadata required, status left out. */
function closeTopLevel(schema: JsonObject, apiVersion: string, kind: string): JsonObject {
  const properties = schema.properties;
  if (!isObject(properties)) throw new Error(`${apiVersion} ${kind}: no properties`);
  const rest = { ...properties };
  delete rest.status;
  const required = Array.isArray(schema.required) ? schema.required.map(String) : [];
  return {
    ...schema,
    properties: {
      ...rest,
      apiVersion: { type: 'string', enum: [apiVersion] },
      kind: { type: 'string', enum: [kind] },
      metadata: { $ref: `#/definitions/${OBJECT_META}` },
    },
    required: [...new Set(['apiVersion', 'kind', 'metadata', ...required])],
  };
}

/** Every `#/definitions/...` name that `node` refers to. */
function refsOf(node: Json, found: Set<string>): Set<string> {
  if (Array.isArray(node)) node.forEach((n) => refsOf(n, found));
  else if (isObject(node)) {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') {
        found.add(value.replace(/^#\/definitions\//, ''));
      } else refsOf(value, found);
    }
  }
  return found;
}

function readSource(sharedDir: string, rel: string, sources: SchemaBundle['sources']): string {
  const text = fs.readFileSync(path.join(sharedDir, rel), 'utf8');
  sources.push({ path: rel, sha256: crypto.createHash('sha256').update(text).digest('hex') });
  return text;
}

/** Derives the bundle from the reference data in `sharedDir` (a checkout's ../shared). */
export function generateSchemaBundle(sharedDir: string): SchemaBundle {
  const sources: SchemaBundle['sources'] = [];
  const swagger = JSON.parse(readSource(sharedDir, K8S_DEFINITIONS, sources)) as {
    definitions: Record<string, JsonObject>;
  };
  const all = swagger.definitions;

  // GVK → definition name, from the definitions' own x-kubernetes-group-version-kind.
  const byGvk = new Map<string, string>();
  for (const [name, def] of Object.entries(all)) {
    const gvks = def['x-kubernetes-group-version-kind'];
    if (!Array.isArray(gvks) || gvks.length !== 1 || !isObject(gvks[0])) continue;
    const { group, version, kind } = gvks[0];
    byGvk.set(`${group ? `${String(group)}/` : ''}${String(version)} ${String(kind)}`, name);
  }

  const kinds: Record<string, KindEntry> = {};
  const definitions: Record<string, JsonObject> = {};
  // Schemas whose references are still to be followed.
  const pending: JsonObject[] = [];
  for (const key of KUBERNETES_KINDS) {
    const name = byGvk.get(key);
    if (!name) throw new Error(`${key}: no such kind in ${K8S_DEFINITIONS}`);
    const [apiVersion, kind] = key.split(' ');
    const schema = closeTopLevel(convertSwagger(all[name]), apiVersion, kind);
    kinds[key] = { namespaced: !CLUSTER_SCOPED_KINDS.has(kind), schema };
    pending.push(schema);
  }

  for (const rel of CRDS) {
    for (const doc of parseAllDocuments(readSource(sharedDir, rel, sources))) {
      const crd = doc.toJS() as JsonObject;
      const spec = crd.spec;
      if (!isObject(spec) || !isObject(spec.names) || !Array.isArray(spec.versions)) {
        throw new Error(`${rel}: not a CustomResourceDefinition`);
      }
      const kind = String(spec.names.kind);
      for (const version of spec.versions) {
        if (!isObject(version) || version.served !== true) continue;
        const schema = isObject(version.schema) ? version.schema.openAPIV3Schema : undefined;
        if (!isObject(schema)) throw new Error(`${rel}: ${kind} has no openAPIV3Schema`);
        const apiVersion = `${String(spec.group)}/${String(version.name)}`;
        const top = closeTopLevel(convertCrd(schema), apiVersion, kind);
        kinds[`${apiVersion} ${kind}`] = { namespaced: spec.scope === 'Namespaced', schema: top };
        pending.push(top);
      }
    }
  }

  // Every definition the kinds reach, transitively. (A kind's own definition
  // can be one of them: a StatefulSet embeds PersistentVolumeClaims, without
  // the top-level constraints.)
  for (let schema = pending.pop(); schema !== undefined; schema = pending.pop()) {
    for (const ref of refsOf(schema, new Set())) {
      if (definitions[ref] !== undefined) continue;
      if (all[ref] === undefined) throw new Error(`dangling reference to ${ref}`);
      definitions[ref] = SPECIAL_DEFINITIONS[ref] ?? convertSwagger(all[ref]);
      pending.push(definitions[ref]);
    }
  }

  const sortedDefinitions: Record<string, JsonObject> = {};
  for (const name of Object.keys(definitions).sort()) {
    sortedDefinitions[name] = sortKeys(definitions[name]) as JsonObject;
  }
  const sortedKinds: Record<string, KindEntry> = {};
  for (const key of Object.keys(kinds).sort()) {
    sortedKinds[key] = { ...kinds[key], schema: sortKeys(kinds[key].schema) as JsonObject };
  }

  return {
    $comment:
      'GENERATED by validation/generate-schemas.ts from the Kubernetes 1.28 swagger definitions, ' +
      'the Argo CD CRDs and the Prometheus Operator CRDs (sources below, relative to ../shared). ' +
      'Do not edit; regenerate.',
    sources,
    kinds: sortedKinds,
    definitions: sortedDefinitions,
  };
}

export const BUNDLE_PATH = path.join('schemas', 'k8s-1.28-argocd.json');

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..');
  const sharedDir = path.resolve(process.argv[2] ?? path.join(root, '..', 'shared'));
  const bundle = generateSchemaBundle(sharedDir);
  // Formatted with the project's prettier settings, so `prettier --check` passes on it.
  const prettier = await import('prettier');
  const out = path.join(root, BUNDLE_PATH);
  const options = (await prettier.resolveConfig(out)) ?? {};
  const text = await prettier.format(JSON.stringify(bundle), { ...options, parser: 'json' });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, text);
  process.stdout.write(
    `${BUNDLE_PATH}: ${Object.keys(bundle.kinds).length} kinds, ` +
      `${Object.keys(bundle.definitions).length} definitions, ${text.length} bytes\n`,
  );
}

// Run as a script (scripts/run-ts.js sets argv[1] to the bundle), not when imported by tests.
if (path.basename(process.argv[1] ?? '') === 'generate-schemas.js') {
  main().catch((err: unknown) => {
    process.stderr.write(`generate-schemas: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
