import type { EnvFromSource, EnvVar } from '../imports/k8s';
import type { IConstruct } from 'constructs';
import { InvalidPropError } from './errors';
import { isDataKey, isDnsSubdomain } from './names';
import type { SecretKeyReference } from './python-app-props';

/**
 * The annotation on a workload that lists, comma-separated and sorted, the
 * Secrets its pods use that are created outside the manifests (by hand, by
 * an operator). `npm run validate` lists them as "must exist in the
 * cluster" instead of reporting them as dangling references.
 */
export const EXTERNAL_SECRETS_KEY = 'manifests.sophia.ai/external-secrets';

/** The app container's Secret references, ready for the pod spec. */
export interface SecretReferences {
  /** `valueFrom.secretKeyRef` variables, by name. */
  readonly env: readonly EnvVar[];
  /** `envFrom.secretRef` entries, in the props' order. */
  readonly envFrom: readonly EnvFromSource[];
  /** Every Secret named, sorted, once: the external-secrets annotation. */
  readonly external: readonly string[];
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SECRET_NAME_RULE =
  'a Secret name: a DNS-1123 subdomain (lowercase letters, digits, "-" and "."; starts and ends with a letter or digit; at most 253 characters)';

/**
 * Validates `secretEnv` and `envFromSecrets` and turns them into references.
 * `taken` are the variable names already set (managed and `env`): a secret
 * variable may not shadow one.
 */
export function resolveSecretReferences(
  scope: IConstruct,
  secretEnv: Readonly<Record<string, SecretKeyReference>>,
  envFromSecrets: readonly string[],
  taken: ReadonlyMap<string, string>,
): SecretReferences {
  const env: EnvVar[] = [];
  for (const name of Object.keys(secretEnv).sort()) {
    const prop = `secretEnv.${name}`;
    if (!ENV_NAME.test(name)) {
      throw new InvalidPropError(
        scope,
        'secretEnv',
        name,
        'variable names of letters, digits and "_", not starting with a digit',
      );
    }
    const owner = taken.get(name);
    if (owner !== undefined) {
      throw new InvalidPropError(scope, 'secretEnv', name, `a name not already set by ${owner}`);
    }
    const ref = secretEnv[name];
    if (typeof ref !== 'object' || ref === null) {
      throw new InvalidPropError(scope, prop, ref, '{ secretName, key, optional? }');
    }
    if (!isDnsSubdomain(ref.secretName)) {
      throw new InvalidPropError(scope, `${prop}.secretName`, ref.secretName, SECRET_NAME_RULE);
    }
    if (!isDataKey(ref.key)) {
      throw new InvalidPropError(
        scope,
        `${prop}.key`,
        ref.key,
        'a Secret key: letters, digits, "-", "_" and "." (not "." or starting with ".."), at most 253 characters',
      );
    }
    if (ref.optional !== undefined && typeof ref.optional !== 'boolean') {
      throw new InvalidPropError(scope, `${prop}.optional`, ref.optional, 'true or false');
    }
    env.push({
      name,
      valueFrom: {
        secretKeyRef: {
          name: ref.secretName,
          key: ref.key,
          ...(ref.optional === true ? { optional: true } : {}),
        },
      },
    });
  }
  const seen = new Set<string>();
  for (const secret of envFromSecrets) {
    if (!isDnsSubdomain(secret)) {
      throw new InvalidPropError(scope, 'envFromSecrets', secret, SECRET_NAME_RULE);
    }
    if (seen.has(secret)) {
      throw new InvalidPropError(scope, 'envFromSecrets', secret, 'each Secret once');
    }
    seen.add(secret);
  }
  const names = [...env.map((e) => e.valueFrom!.secretKeyRef!.name!), ...envFromSecrets];
  return {
    env,
    envFrom: envFromSecrets.map((name) => ({ secretRef: { name } })),
    external: [...new Set(names)].sort(),
  };
}
