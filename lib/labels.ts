/** Kubernetes label keys and values, for constructs that take labels as props. */

const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** True for a Kubernetes label key: `[prefix/]name`, name at most 63 characters. */
export function isLabelKey(key: unknown): key is string {
  if (typeof key !== 'string') return false;
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !DNS_1123_SUBDOMAIN.test(prefix))) {
    return false;
  }
  return name.length <= 63 && LABEL_NAME.test(name);
}

/** True for a Kubernetes label value: empty, or at most 63 characters of `[-A-Za-z0-9_.]`. */
export function isLabelValue(value: unknown): value is string {
  return (
    typeof value === 'string' && (value === '' || (value.length <= 63 && LABEL_NAME.test(value)))
  );
}

/** The first entry of `labels` that is not a valid Kubernetes label, if any. */
export function invalidLabel(labels: unknown): string | undefined {
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) return '(not a map)';
  return Object.entries(labels).find(([k, v]) => !isLabelKey(k) || !isLabelValue(v))?.[0];
}
