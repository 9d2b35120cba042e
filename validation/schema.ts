// Check 1: every document matches the strict schema of its kind (Kubernetes
// 1.28, the Argo CD CRDs or the Prometheus Operator CRDs), as `kubectl apply --validate=strict` would
// demand: no unknown fields, required fields present, right types, valid
// quantities and int-or-strings. The schemas are the generated artefact
// schemas/k8s-1.28-argocd.json (see validation/generate-schemas.ts).
import * as fs from 'fs';
import * as path from 'path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { KindEntry, SchemaBundle } from './generate-schemas';
import { CLUSTER_SCOPED_KINDS } from './scope';
import { obj, str, type Obj } from './util';

/** Repository root: this file is one level below it, and so is the esbuild bundle in .build/. */
const ROOT = path.resolve(__dirname, '..');
export const SCHEMA_BUNDLE_FILE = path.join(ROOT, 'schemas', 'k8s-1.28-argocd.json');

/**
 * resource.Quantity's grammar (k8s.io/apimachinery/pkg/api/resource):
 * a signed decimal number, then a binary-SI suffix (Ki … Ei), a decimal-SI
 * suffix (n u m k M G T P E) or a decimal exponent (e3, E-2), or none.
 * Surrounding white space is trimmed by Quantity's JSON decoding.
 */
export const QUANTITY_PATTERN =
  /^\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|[eE][+-]?[0-9]+)?\s*$/;

const TYPE_NAMES: Record<string, string> = {
  'integer,string': 'an integer or a string (IntOrString)',
  'string,number': 'a quantity (string or number)',
  integer: 'an integer',
  object: 'an object',
  array: 'an array',
};

let bundle: SchemaBundle | undefined;
let ajv: Ajv | undefined;
const validators = new Map<string, ValidateFunction>();

function loadBundle(): SchemaBundle {
  bundle ??= JSON.parse(fs.readFileSync(SCHEMA_BUNDLE_FILE, 'utf8')) as SchemaBundle;
  return bundle;
}

/** `$defs` key of a kind's schema: `apps/v1 Deployment` → `apps_v1_Deployment`. */
function defKey(key: string): string {
  return key.replace(/[^A-Za-z0-9.]/g, '_');
}

function getAjv(): Ajv {
  if (ajv) return ajv;
  const b = loadBundle();
  // inlineRefs and optimize off: compiling a Deployment's schema (the whole
  // PodSpec) takes a third of the time, which keeps the CLI well under a second.
  const instance = new Ajv({
    allErrors: true,
    strict: true,
    allowUnionTypes: true,
    inlineRefs: false,
    code: { optimize: false },
  });
  addFormats(instance, ['int32', 'int64', 'double', 'byte', 'date-time']);
  instance.addFormat('quantity', { type: 'string', validate: QUANTITY_PATTERN });
  const kinds: Record<string, KindEntry['schema']> = {};
  for (const [key, entry] of Object.entries(b.kinds)) kinds[defKey(key)] = entry.schema;
  instance.addSchema({ $id: 'k8s', definitions: b.definitions, $defs: kinds });
  ajv = instance;
  return instance;
}

/** The schema entry for `apiVersion` + `kind`, when the validator knows that kind. */
export function kindEntry(apiVersion: string, kind: string): KindEntry | undefined {
  return loadBundle().kinds[`${apiVersion} ${kind}`];
}

/** Whether objects of this kind live in a namespace (unknown kinds: assumed namespaced). */
export function isNamespaced(apiVersion: string, kind: string): boolean {
  return kindEntry(apiVersion, kind)?.namespaced ?? !CLUSTER_SCOPED_KINDS.has(kind);
}

/** Go's JSON decoding treats `null` as an absent field; so does the schema check. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  const o = obj(value);
  if (!o) return value;
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) if (v !== null) out[k] = withoutNulls(v);
  return out;
}

function isIdentifier(key: string): boolean {
  return /^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(key);
}

/** A JSON pointer into `doc` as kubectl writes field paths: `spec.containers[0].name`. */
function fieldPath(doc: unknown, pointer: string, extra?: string): string {
  let out = '';
  let node: unknown = doc;
  const segments = pointer === '' ? [] : pointer.slice(1).split('/');
  if (extra !== undefined) segments.push(extra.replace(/~/g, '~0').replace(/\//g, '~1'));
  for (const raw of segments) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      out += `[${key}]`;
      node = node[Number(key)];
    } else {
      out += isIdentifier(key) ? `${out === '' ? '' : '.'}${key}` : `[${key}]`;
      node = obj(node)?.[key];
    }
  }
  return out;
}

function valueAt(doc: unknown, pointer: string): unknown {
  let node: unknown = doc;
  for (const raw of pointer === '' ? [] : pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = Array.isArray(node) ? node[Number(key)] : obj(node)?.[key];
  }
  return node;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function describeValue(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function errorMessage(doc: unknown, e: ErrorObject): string | undefined {
  const at = fieldPath(doc, e.instancePath);
  const where = at === '' ? '' : `${at}: `;
  const value = valueAt(doc, e.instancePath);
  switch (e.keyword) {
    case 'additionalProperties': {
      const field = String((e.params as { additionalProperty: string }).additionalProperty);
      const name = fieldPath(doc, e.instancePath, field);
      if (e.instancePath === '' && field === 'status') {
        return 'unknown field "status" (status is written by the cluster; omit it)';
      }
      return `unknown field "${name}"`;
    }
    case 'required': {
      const field = String((e.params as { missingProperty: string }).missingProperty);
      return `missing required field "${fieldPath(doc, e.instancePath, field)}"`;
    }
    case 'type': {
      const expected = String((e.params as { type: string }).type);
      const name = TYPE_NAMES[expected] ?? `a ${expected}`;
      return `${where}must be ${name}, not ${jsonType(value)} ${describeValue(value)}`;
    }
    case 'format': {
      const format = String((e.params as { format: string }).format);
      if (format === 'quantity') {
        return `${where}quantities must match the regular expression '${QUANTITY_PATTERN.source}' (got ${describeValue(value)})`;
      }
      if (format === 'byte') return `${where}illegal base64 data`;
      return `${where}${describeValue(value)} is not a valid ${format}`;
    }
    case 'enum': {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
      return `${where}unsupported value ${describeValue(value)}: supported values: ${allowed.map((v) => describeValue(v)).join(', ')}`;
    }
    case 'pattern':
      return `${where}${describeValue(value)} must match the pattern '${String((e.params as { pattern: string }).pattern)}'`;
    default:
      return `${where}${e.message ?? e.keyword}`;
  }
}

/** Schema findings for one document (messages only; the caller adds file/doc/kind/name). */
export function validateSchema(doc: unknown): string[] {
  const o = obj(doc);
  if (!o) return [`a manifest must be a YAML mapping, not ${jsonType(doc)}`];
  const apiVersion = str(o.apiVersion);
  const kind = str(o.kind);
  if (apiVersion === undefined || kind === undefined) {
    return [
      ...(apiVersion === undefined ? ['missing required field "apiVersion"'] : []),
      ...(kind === undefined ? ['missing required field "kind"'] : []),
    ];
  }
  const key = `${apiVersion} ${kind}`;
  if (!kindEntry(apiVersion, kind)) {
    const known = Object.keys(loadBundle().kinds).filter((k) => k.endsWith(` ${kind}`));
    const hint =
      known.length > 0
        ? `; this kind is served as ${known.map((k) => k.split(' ')[0]).join(', ')}`
        : '; validation/generate-schemas.ts lists the kinds it knows';
    return [`no matches for kind "${kind}" in version "${apiVersion}"${hint}`];
  }

  let validate = validators.get(key);
  if (!validate) {
    const compiled = getAjv().getSchema(`k8s#/$defs/${defKey(key)}`);
    if (!compiled) throw new Error(`schema for ${key} did not compile`);
    validate = compiled;
    validators.set(key, validate);
  }
  const pruned = withoutNulls(doc);
  const messages: string[] = [];
  if (!validate(pruned)) {
    for (const e of validate.errors ?? []) {
      const message = errorMessage(pruned, e);
      if (message !== undefined && !messages.includes(message)) messages.push(message);
    }
  }
  // `kubectl apply` needs a name (generateName does not work with apply).
  const metadata = obj(obj(pruned)?.metadata);
  if (metadata && (metadata.name === undefined || metadata.name === '')) {
    messages.push('missing required field "metadata.name"');
  }
  return messages;
}
