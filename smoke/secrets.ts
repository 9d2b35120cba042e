/**
 * `--secret NAME=FILE`: Secrets the cluster would hold but the manifests do
 * not (FixedPythonApp's secretEnv and envFromSecrets are never synthesized).
 * FILE is read as `kubectl create secret generic NAME --from-env-file=FILE`
 * reads it, so the same file serves both; its values are never printed.
 */
import * as fs from 'fs';
import { DataObject, ManifestSet } from './manifest';
import { ManifestError } from './read';

/** One `--secret`: the Secret's name, where its data came from, and the data. */
export interface SecretSource {
  readonly name: string;
  readonly file: string;
  readonly data: DataObject;
}

const DNS_1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** IsEnvVarName of Kubernetes 1.28, which kubectl applies to env-file keys. */
const ENV_FILE_KEY = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** Parses and reads one `NAME=FILE` argument; throws an Error that says what is wrong. */
export function readSecretArg(
  arg: string,
  environment: NodeJS.ProcessEnv = process.env,
): SecretSource {
  const eq = arg.indexOf('=');
  const name = eq < 0 ? arg : arg.slice(0, eq);
  const file = eq < 0 ? '' : arg.slice(eq + 1);
  if (eq < 0 || file === '') throw new Error('NAME=FILE expected');
  if (name.length > 253 || !DNS_1123_SUBDOMAIN.test(name)) {
    throw new Error(
      `"${name}" is not a Secret name (a DNS-1123 subdomain: lowercase letters, digits, "-" and ".")`,
    );
  }
  let content: Buffer;
  try {
    content = fs.readFileSync(file);
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  return { name, file, data: parseEnvFile(content, file, environment) };
}

/**
 * kubectl's AddFromEnvFile: one `KEY=VALUE` per line; leading whitespace,
 * blank lines and `#` comments skipped; the value is everything after the
 * first `=`, quotes and trailing spaces included; a line without `=` takes
 * the value from the environment. A key twice is an error, as kubectl says.
 */
export function parseEnvFile(
  content: Buffer,
  file: string,
  environment: NodeJS.ProcessEnv = process.env,
): Map<string, Buffer> {
  const data = new Map<string, Buffer>();
  // bufio.ScanLines: split on \n, drop one trailing \r, no empty last line.
  const lines: Buffer[] = [];
  for (let start = 0; start < content.length;) {
    const end = content.indexOf(0x0a, start);
    lines.push(content.subarray(start, end < 0 ? content.length : end));
    start = end < 0 ? content.length : end + 1;
  }
  lines.forEach((bytes, index) => {
    let line = bytes.toString('utf8');
    if (!Buffer.from(line, 'utf8').equals(bytes)) {
      throw new Error(`env file ${file} contains invalid utf8 bytes at line ${index + 1}`);
    }
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (index === 0) line = line.replace(/^\uFEFF/, '');
    line = line.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const key = eq < 0 ? line : line.slice(0, eq);
    if (!ENV_FILE_KEY.test(key)) {
      throw new Error(
        `"${key}" is not a valid key name: a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit`,
      );
    }
    if (data.has(key)) {
      throw new Error(`cannot add key ${key}, another key by that name already exists`);
    }
    data.set(key, Buffer.from(eq < 0 ? (environment[key] ?? '') : line.slice(eq + 1), 'utf8'));
  });
  return data;
}

/**
 * The manifests plus the `--secret` Secrets in the workload's namespace. A
 * Secret the manifests already hold is an error: in the cluster, `kubectl
 * create secret` would say it already exists.
 */
export function withSecrets(
  set: ManifestSet,
  namespace: string,
  sources: readonly SecretSource[],
): ManifestSet {
  if (sources.length === 0) return set;
  const secrets = new Map(set.secrets);
  for (const source of sources) {
    const key = `${namespace}/${source.name}`;
    if (secrets.has(key)) {
      throw new ManifestError(
        `--secret ${source.name}: the manifests define Secret ${key} themselves`,
      );
    }
    secrets.set(key, source.data);
  }
  return { ...set, secrets };
}

/** The line the run prints for a `--secret`: its keys, never its values. */
export function describeSecret(source: SecretSource, namespace: string): string {
  const keys = [...source.data.keys()].sort();
  return `secret ${namespace}/${source.name}: ${keys.length} key(s) from ${source.file} (${keys.join(', ') || 'none'})`;
}
