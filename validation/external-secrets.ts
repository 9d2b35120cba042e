// Secrets created outside the manifests. A workload that reads a Secret
// which no manifest holds (an API key created by hand with `kubectl create
// secret`) declares it in the annotation `manifests.sophia.ai/external-secrets`
// (comma-separated names; FixedPythonApp writes it for `secretEnv` and
// `envFromSecrets`). The reference check then does not call it dangling;
// instead validate lists it as "must exist in the cluster". A reference to a
// Secret that is neither in the folder nor declared stays an error, and so
// does a declaration that is not a Secret name, names a Secret the folder
// defines (applying the folder would replace the cluster's), or names one the
// pods do not use (a stale declaration hides nothing, but misleads).
import { EXTERNAL_SECRETS_KEY } from '../lib/secret-references';
import { isDnsSubdomain } from '../lib/names';
import { podNeeds } from './pod-needs';
import {
  describe,
  finding,
  namespaceOf,
  obj,
  podTemplateOf,
  str,
  stringMap,
  type Finding,
  type LoadedDoc,
  type Obj,
} from './util';

export { EXTERNAL_SECRETS_KEY };

/** A Secret a workload needs from the cluster: one line of validate's output. */
export interface ExternalSecret {
  /** The workload's document. */
  file: string;
  index: number;
  kind: string;
  name: string;
  namespace: string;
  secret: string;
  /** The keys read, sorted; empty when the whole Secret is (envFrom, a volume without items). */
  keys: string[];
  /** Every reference is optional: the pod starts without it. */
  optional: boolean;
}

/** The Secret names a workload object declares external, as written. */
export function declaredExternalSecrets(o: Obj): string[] {
  const value = stringMap(obj(o.metadata)?.annotations)[EXTERNAL_SECRETS_KEY];
  if (value === undefined) return [];
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

interface Workload {
  d: LoadedDoc;
  o: Obj;
  namespace: string;
  spec: Obj;
}

function workloadsOf(docs: readonly LoadedDoc[]): Workload[] {
  const result: Workload[] = [];
  for (const d of docs) {
    const o = obj(d.doc);
    const pod = podTemplateOf(d.doc);
    if (o && pod) result.push({ d, o, namespace: namespaceOf(o), spec: pod.spec });
  }
  return result;
}

/** `namespace/name` of every Secret in the set. */
function definedSecrets(docs: readonly LoadedDoc[]): Set<string> {
  const defined = new Set<string>();
  for (const d of docs) {
    const o = obj(d.doc);
    if (str(o?.apiVersion) !== 'v1' || str(o?.kind) !== 'Secret') continue;
    defined.add(`${namespaceOf(o)}/${str(obj(o?.metadata)?.name) ?? ''}`);
  }
  return defined;
}

/** Findings about the declarations themselves (see the header). */
export function checkExternalSecrets(docs: readonly LoadedDoc[]): Finding[] {
  const findings: Finding[] = [];
  const defined = definedSecrets(docs);
  for (const w of workloadsOf(docs)) {
    const declared = declaredExternalSecrets(w.o);
    if (declared.length === 0) continue;
    const used = new Set(
      podNeeds(w.spec)
        .filter((n) => n.kind === 'Secret')
        .map((n) => n.name),
    );
    for (const secret of declared) {
      const what = `annotation ${EXTERNAL_SECRETS_KEY}: ${JSON.stringify(secret)}`;
      if (!isDnsSubdomain(secret)) {
        findings.push(finding(w.d, `${what} is not a Secret name (a DNS-1123 subdomain)`));
      } else if (defined.has(`${w.namespace}/${secret}`)) {
        findings.push(
          finding(
            w.d,
            `${what} is declared external, but this folder defines it in namespace ${JSON.stringify(w.namespace)}: applying would replace the cluster's`,
          ),
        );
      } else if (!used.has(secret)) {
        findings.push(finding(w.d, `${what} is declared external, but no pod reference uses it`));
      }
    }
  }
  return findings;
}

/**
 * The declared external Secrets the set's pods use, one entry per workload
 * and Secret, in document order: what must exist in the cluster before the
 * folder is applied.
 */
export function listExternalSecrets(docs: readonly LoadedDoc[]): ExternalSecret[] {
  const result: ExternalSecret[] = [];
  const defined = definedSecrets(docs);
  for (const w of workloadsOf(docs)) {
    const declared = new Set(declaredExternalSecrets(w.o));
    const bySecret = new Map<string, { keys: Set<string>; whole: boolean; optional: boolean }>();
    for (const need of podNeeds(w.spec)) {
      if (need.kind !== 'Secret' || !declared.has(need.name)) continue;
      if (defined.has(`${w.namespace}/${need.name}`)) continue;
      const entry = bySecret.get(need.name) ?? { keys: new Set(), whole: false, optional: true };
      for (const key of need.keys) entry.keys.add(key);
      if (need.keys.length === 0) entry.whole = true;
      entry.optional &&= need.optional;
      bySecret.set(need.name, entry);
    }
    for (const [secret, entry] of [...bySecret].sort(([a], [b]) => (a < b ? -1 : 1))) {
      result.push({
        file: w.d.file,
        index: w.d.index,
        ...describe(w.d.doc),
        namespace: w.namespace,
        secret,
        keys: entry.whole ? [] : [...entry.keys].sort(),
        optional: entry.optional,
      });
    }
  }
  return result;
}

/** `<file>#<doc> <Kind>/<name>: Secret "x" (key "k", optional) must exist in the cluster in namespace "ns"`. */
export function formatExternalSecret(e: ExternalSecret): string {
  const keys =
    e.keys.length === 0
      ? 'all keys'
      : `${e.keys.length === 1 ? 'key' : 'keys'} ${e.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  const optional = e.optional ? ', optional: the pod starts without it' : '';
  return `${e.file}#${e.index} ${e.kind}/${e.name}: Secret ${JSON.stringify(e.secret)} (${keys}${optional}) must exist in the cluster in namespace ${JSON.stringify(e.namespace)}`;
}
