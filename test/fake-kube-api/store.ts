/**
 * The fake's etcd: objects by resource, namespace and name, a global
 * resourceVersion, uid/creationTimestamp/generation kept as the API server
 * keeps them, and the event log that watches replay and follow.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- objects are JSON */
import { randomUUID } from 'crypto';
import type { Resource } from './resources';

export interface Meta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: {
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
    blockOwnerDeletion?: boolean;
  }[];
  managedFields?: any[];
  [key: string]: any;
}

export interface Obj {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  spec?: any;
  status?: any;
  [key: string]: any;
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: EventType;
  resource: Resource;
  object: Obj;
  rv: number;
}

export const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** JSON with sorted keys: equal for equal objects, whatever order their keys came in. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, v[k]]),
        )
      : v,
  );
}

export function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

function key(res: Resource, namespace: string | undefined, name: string): string {
  return `${res.group}/${res.name}/${namespace ?? ''}/${name}`;
}

export class Store {
  private rv = 1000;
  private readonly objects = new Map<string, { res: Resource; object: Obj }>();
  readonly log: StoreEvent[] = [];
  private readonly listeners = new Set<(event: StoreEvent) => void>();

  resourceVersion(): number {
    return this.rv;
  }

  get(res: Resource, namespace: string | undefined, name: string): Obj | undefined {
    const found = this.objects.get(key(res, res.namespaced ? namespace : undefined, name));
    return found ? clone(found.object) : undefined;
  }

  /** The stored object itself, for readers that never change it (no copy). */
  peek(res: Resource, namespace: string | undefined, name: string): Obj | undefined {
    return this.objects.get(key(res, res.namespaced ? namespace : undefined, name))?.object;
  }

  /** The stored objects themselves, sorted by name, for readers only. */
  peekList(res: Resource, namespace?: string): Obj[] {
    return [...this.objects.values()]
      .filter(
        (e) =>
          e.res === res && (namespace === undefined || e.object.metadata.namespace === namespace),
      )
      .map((e) => e.object)
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  }

  list(res: Resource, namespace?: string): Obj[] {
    return [...this.objects.values()]
      .filter(
        (e) =>
          e.res === res && (namespace === undefined || e.object.metadata.namespace === namespace),
      )
      .map((e) => clone(e.object))
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  }

  /**
   * Stores `object` (a create or a full update): server-owned metadata is
   * kept or set, generation follows spec changes. With dryRun nothing is
   * stored and the result is what would have been stored.
   */
  put(res: Resource, object: Obj, dryRun = false): Obj {
    const ns = res.namespaced ? object.metadata.namespace : undefined;
    const k = key(res, ns, object.metadata.name);
    const existing = this.objects.get(k)?.object;
    // Stored with sorted keys, so that plain JSON comparisons see equal
    // objects as equal (the API server compares decoded structs).
    const next = JSON.parse(canonical(object)) as Obj;
    next.apiVersion = res.group ? `${res.group}/${res.version}` : res.version;
    next.kind = res.kind;
    next.metadata.uid = existing?.metadata.uid ?? next.metadata.uid ?? randomUUID();
    next.metadata.creationTimestamp = existing?.metadata.creationTimestamp ?? now();
    if (res.generation) {
      const changed = !existing || JSON.stringify(existing.spec) !== JSON.stringify(next.spec);
      next.metadata.generation = (existing?.metadata.generation ?? 0) + (changed ? 1 : 0);
    }
    if (
      existing &&
      JSON.stringify({ ...existing, metadata: { ...existing.metadata, resourceVersion: '' } }) ===
        JSON.stringify({ ...next, metadata: { ...next.metadata, resourceVersion: '' } })
    ) {
      return clone(existing); // a no-op write keeps its resourceVersion
    }
    if (dryRun) {
      next.metadata.resourceVersion = existing?.metadata.resourceVersion;
      return next;
    }
    next.metadata.resourceVersion = String(++this.rv);
    this.objects.set(k, { res, object: next });
    // Listeners only read events: they share the stored object.
    this.emit({ type: existing ? 'MODIFIED' : 'ADDED', resource: res, object: next, rv: this.rv });
    return clone(next);
  }

  delete(res: Resource, namespace: string | undefined, name: string): Obj | undefined {
    const k = key(res, res.namespaced ? namespace : undefined, name);
    const found = this.objects.get(k);
    if (!found) return undefined;
    this.objects.delete(k);
    const object = clone(found.object);
    object.metadata.resourceVersion = String(++this.rv);
    this.emit({ type: 'DELETED', resource: res, object, rv: this.rv });
    return object;
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: StoreEvent): void {
    this.log.push(event);
    for (const listener of [...this.listeners]) listener(event);
  }
}

/** Label selector: `a=b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x)`. */
export function matchesLabels(
  selector: string | undefined,
  labels: Record<string, string> = {},
): boolean {
  if (!selector) return true;
  const terms = selector.match(/[^,(]+(\([^)]*\))?/g) ?? [];
  return terms.every((raw) => {
    const term = raw.trim();
    let m = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (m) {
      const values = m[3].split(',').map((v) => v.trim());
      const has = m[1] in labels && values.includes(labels[m[1]]);
      return m[2] === 'in' ? has : !has;
    }
    m = /^([^!=]+)(==|=|!=)(.*)$/.exec(term);
    if (m) return m[2] === '!=' ? labels[m[1]] !== m[3] : labels[m[1]] === m[3];
    if (term.startsWith('!')) return !(term.slice(1) in labels);
    return term in labels;
  });
}

/** Field selector: `metadata.name=x`, `involvedObject.name=y`, `type!=Normal`. */
export function matchesFields(selector: string | undefined, object: Obj): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const m = /^([^!=]+)(==|=|!=)(.*)$/.exec(term.trim());
    if (!m) return false;
    const value = m[1]
      .split('.')
      .reduce((v: any, part) => (v === undefined || v === null ? undefined : v[part]), object);
    const equal = String(value ?? '') === m[3];
    return m[2] === '!=' ? !equal : equal;
  });
}
