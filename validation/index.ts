// `npm run validate`: proves every synthesized manifest is admissible.
// validateDir() loads every *.yaml document under a folder and runs the
// checks: schema (./schema) on each document; Pod Security (./pod-security)
// and references (./references) on each folder, the set of manifests applied
// together; and, across folders, the Argo CD Applications that sync them
// (./argocd). scripts/validate.ts is the command line around it.
import * as fs from 'fs';
import * as path from 'path';
import { parseAllDocuments, type Tags } from 'yaml';
import { checkApplications } from './argocd';
import { checkNetwork, flowFindings } from './flows';
import { listExternalSecrets, type ExternalSecret } from './external-secrets';
import { checkPodSecurity } from './pod-security';
import { checkReferences } from './references';
import { validateSchema } from './schema';
import { finding, type Finding, type LoadedDoc } from './util';

export type { Finding, LoadedDoc } from './util';
export { formatExternalSecret, type ExternalSecret } from './external-secrets';

/** All *.yaml / *.yml files below `dir`, sorted, recursively. */
export function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...yamlFiles(full));
    else if (entry.isFile() && /\.ya?ml$/.test(entry.name)) out.push(full);
  }
  return out.sort();
}

/**
 * kubectl reads manifests with YAML 1.1 rules (sigs.k8s.io/yaml on go-yaml v2):
 * `yes`/`no`/`on`/`off` are booleans and `0644` is octal. Timestamps stay
 * strings, as they do when go-yaml decodes into an untyped value.
 */
const withoutTimestamps = (tags: Tags): Tags =>
  tags.filter((t) => (typeof t === 'string' ? t : t.tag) !== 'tag:yaml.org,2002:timestamp');

/**
 * The documents of one YAML file's text. Empty documents (a stray `---`) are
 * left out, as kubectl skips them; a document that does not parse becomes a
 * finding.
 */
export function parseYaml(file: string, text: string): { docs: LoadedDoc[]; findings: Finding[] } {
  const docs: LoadedDoc[] = [];
  const findings: Finding[] = [];
  parseAllDocuments(text, { version: '1.1', customTags: withoutTimestamps }).forEach(
    (doc, index) => {
      if (doc.errors.length > 0) {
        const message = doc.errors[0].message.split('\n')[0];
        findings.push(finding({ file, index, doc: undefined }, `YAML: ${message}`));
        return;
      }
      const value: unknown = doc.toJS({ maxAliasCount: 100 });
      if (value !== null && value !== undefined) docs.push({ file, index, doc: value });
    },
  );
  return { docs, findings };
}

/** Every finding for a set of documents that are applied together (one folder). */
export function validateDocuments(docs: readonly LoadedDoc[]): Finding[] {
  return checkFolder(docs).findings;
}

/** The findings of one folder, and its network flows (`--flows`), each in finding format. */
function checkFolder(docs: readonly LoadedDoc[]): { findings: Finding[]; flows: Finding[] } {
  const findings: Finding[] = [];
  for (const d of docs) findings.push(...validateSchema(d.doc).map((m) => finding(d, m)));
  const network = checkNetwork(docs);
  findings.push(...checkPodSecurity(docs), ...checkReferences(docs), ...network.findings);
  return { findings, flows: flowFindings(network.flows) };
}

export interface DirResult {
  findings: Finding[];
  /** Every declared connection and its verdict, one line each (printed by `--flows`). */
  flows: Finding[];
  /** Documents without findings. */
  passed: number;
  /** Documents with at least one finding. */
  failed: number;
  /** Secrets the workloads declare external: they must exist in the cluster. */
  external: ExternalSecret[];
}

/**
 * Validates every YAML document below `dir`, each folder as one set of
 * manifests applied together; file names are printed relative to `cwd`.
 */
export function validateDir(dir: string, cwd: string = process.cwd()): DirResult {
  const docs: LoadedDoc[] = [];
  const findings: Finding[] = [];
  const documents = new Set<string>();
  const fileOrder = new Map<string, number>();
  for (const file of yamlFiles(dir)) {
    const shown = path.relative(cwd, file) || file;
    fileOrder.set(shown, fileOrder.size);
    const parsed = parseYaml(shown, fs.readFileSync(file, 'utf8'));
    docs.push(...parsed.docs);
    findings.push(...parsed.findings);
    for (const d of [...parsed.findings, ...parsed.docs]) documents.add(`${d.file}#${d.index}`);
  }
  // Each folder is applied on its own (kubectl apply -f <folder>, an Argo CD
  // Application's source.path): the cross-document checks run per folder.
  const folders = new Map<string, LoadedDoc[]>();
  for (const d of docs) {
    const folder = path.dirname(d.file);
    folders.set(folder, [...(folders.get(folder) ?? []), d]);
  }
  const flows: Finding[] = [];
  const external: ExternalSecret[] = [];
  for (const set of folders.values()) {
    const checked = checkFolder(set);
    findings.push(...checked.findings);
    flows.push(...checked.flows);
    external.push(...listExternalSecrets(set));
  }
  findings.push(...checkApplications(docs, path.relative(cwd, dir) || '.'));
  // By file, then document; sort is stable, so a document's findings keep the checks' order.
  const byDocument = (a: Finding, b: Finding) =>
    (fileOrder.get(a.file) ?? 0) - (fileOrder.get(b.file) ?? 0) || a.index - b.index;
  findings.sort(byDocument);
  flows.sort(byDocument);
  const failed = new Set(findings.map((f) => `${f.file}#${f.index}`)).size;
  return { findings, flows, passed: documents.size - failed, failed, external };
}

/** `<file>#<doc> <Kind>/<name>: <message>`. */
export function formatFinding(f: Finding): string {
  return `${f.file}#${f.index} ${f.kind}/${f.name}: ${f.message}`;
}
