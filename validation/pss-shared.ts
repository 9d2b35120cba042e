// What the Pod Security controls (pss-baseline.ts, pss-restricted.ts) share:
// their result type and the ways PSA reads and names containers.
import { allContainers, joinQuote, obj, pluralize, str, type Obj } from './util';

/** A failed control: PSA's CheckResult.ForbiddenReason / ForbiddenDetail. */
export interface Violation {
  /** PSA's check ID, e.g. `runAsNonRoot`. */
  id: string;
  reason: string;
  detail: string;
}

/** A control's verdict on one pod: undefined when it passes. */
export type Result = Omit<Violation, 'id'> | undefined;

export const sc = (o: Obj | undefined): Obj | undefined => obj(o?.securityContext);
export const nameOf = (c: Obj): string => str(c.name) ?? '';
export const isWindows = (spec: Obj): boolean => str(obj(spec.os)?.name) === 'windows';

/** `container "a"` / `containers "a", "b"`. */
export function containerList(names: string[]): string {
  return `${pluralize('container', 'containers', names.length)} ${joinQuote(names)}`;
}

/** Names of the containers for which `bad` holds. */
export function badContainers(spec: Obj, bad: (c: Obj) => boolean): string[] {
  return allContainers(spec).filter(bad).map(nameOf);
}

export const validSeccomp = (type: string | undefined): boolean =>
  type === 'RuntimeDefault' || type === 'Localhost';

export const seccompType = (o: Obj | undefined): string | undefined =>
  str(obj(sc(o)?.seccompProfile)?.type);
export const hasSeccomp = (o: Obj | undefined): boolean => obj(sc(o)?.seccompProfile) !== undefined;
