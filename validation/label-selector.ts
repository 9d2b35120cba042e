// Kubernetes label selectors (metav1.LabelSelector) as NetworkPolicies use
// them: matchLabels and matchExpressions are ANDed; an empty selector
// selects everything. A malformed selector (unknown operator, In without
// values) selects nothing: the API server would have rejected it, and the
// schema check reports the shape.
import { obj, objs, str, stringMap, strs } from './util';

export interface Requirement {
  readonly key: string;
  readonly operator: string;
  readonly values: readonly string[];
}

export interface Selector {
  readonly matchLabels: Readonly<Record<string, string>>;
  readonly matchExpressions: readonly Requirement[];
}

/** The selector in `value`, or undefined when `value` is absent (null is absent too). */
export function parseSelector(value: unknown): Selector | undefined {
  const o = obj(value);
  if (!o) return undefined;
  return {
    matchLabels: stringMap(o.matchLabels),
    matchExpressions: objs(o.matchExpressions).map((e) => ({
      key: str(e.key) ?? '',
      operator: str(e.operator) ?? '',
      values: strs(e.values),
    })),
  };
}

/** True for `{}`: no labels and no expressions, which selects every object. */
export function selectsAll(selector: Selector): boolean {
  return Object.keys(selector.matchLabels).length === 0 && selector.matchExpressions.length === 0;
}

function requirementMatches(r: Requirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  switch (r.operator) {
    case 'In':
      return r.values.length > 0 && has && r.values.includes(labels[r.key]);
    case 'NotIn':
      return r.values.length > 0 && (!has || !r.values.includes(labels[r.key]));
    case 'Exists':
      return r.values.length === 0 && has;
    case 'DoesNotExist':
      return r.values.length === 0 && !has;
    default:
      return false;
  }
}

/** Whether an object with `labels` is selected. */
export function selectorMatches(
  selector: Selector,
  labels: Readonly<Record<string, string>>,
): boolean {
  return (
    Object.entries(selector.matchLabels).every(
      ([k, v]) => Object.prototype.hasOwnProperty.call(labels, k) && labels[k] === v,
    ) && selector.matchExpressions.every((r) => requirementMatches(r, labels))
  );
}

/** `k=v,k2 in (a,b),!k3`: kubectl's selector syntax, for messages. */
export function formatSelector(selector: Selector): string {
  const parts = Object.entries(selector.matchLabels).map(([k, v]) => `${k}=${v}`);
  for (const r of selector.matchExpressions) {
    switch (r.operator) {
      case 'In':
        parts.push(`${r.key} in (${r.values.join(',')})`);
        break;
      case 'NotIn':
        parts.push(`${r.key} notin (${r.values.join(',')})`);
        break;
      case 'Exists':
        parts.push(r.key);
        break;
      case 'DoesNotExist':
        parts.push(`!${r.key}`);
        break;
      default:
        parts.push(`${r.key} ${r.operator} (${r.values.join(',')})`);
    }
  }
  return parts.length > 0 ? parts.join(',') : '(all)';
}
