/** Shapes of names that constructs validate before they reach the API server. */

/** A DNS-1123 label: namespaces, node names, most object names. */
export const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A DNS-1035 label: Service names (must start with a letter). */
export const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** An image reference: `[registry/]name[:tag][@sha256:digest]`. */
export const IMAGE_REF = /^[a-z0-9][a-z0-9._\-/:]*(?:@sha256:[a-f0-9]{64})?$/;

/** True when `name` is a DNS-1123 (or, with `dns1035`, DNS-1035) label of at most 63 characters. */
export function isDnsLabel(name: unknown, dns1035 = false): name is string {
  return (
    typeof name === 'string' &&
    name.length <= 63 &&
    (dns1035 ? DNS_1035_LABEL : DNS_1123_LABEL).test(name)
  );
}

/** An http(s) URL that is safe to put in a shell word and that URL() parses. */
export function isHttpUrl(value: string): boolean {
  if (
    typeof value !== 'string' ||
    !/^https?:\/\/[\x21-\x7e]+$/.test(value) ||
    /['"\\`$]/.test(value)
  )
    return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

/** A DNS-1123 subdomain: Secret and ConfigMap names (dot-separated labels, at most 253 characters). */
export const DNS_1123_SUBDOMAIN =
  /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** True when `name` is a DNS-1123 subdomain: what a Secret may be called. */
export function isDnsSubdomain(name: unknown): name is string {
  return typeof name === 'string' && name.length <= 253 && DNS_1123_SUBDOMAIN.test(name);
}

/** A ConfigMap or Secret key: letters, digits, "-", "_", "."; not "." or "..", not starting with "..". */
export function isDataKey(key: unknown): key is string {
  return (
    typeof key === 'string' &&
    key.length <= 253 &&
    /^[-._a-zA-Z0-9]+$/.test(key) &&
    key !== '.' &&
    !key.startsWith('..')
  );
}
