// What a pod uses from other objects: ConfigMaps, Secrets and its
// ServiceAccount, with the keys it reads and where it refers to them.
import { allContainers, obj, objs, str, type Obj } from './util';

/** What a pod needs from a ConfigMap or Secret. */
export interface Need {
  kind: 'ConfigMap' | 'Secret' | 'ServiceAccount';
  name: string;
  /** Keys it reads, if specific ones. */
  keys: string[];
  optional: boolean;
  /** Where the pod refers to it, for the message. */
  from: string;
}

export function podNeeds(spec: Obj): Need[] {
  const needs: Need[] = [];
  const add = (
    kind: Need['kind'],
    ref: Obj | undefined,
    nameField: string,
    from: string,
    keys: string[] = [],
  ): void => {
    const name = str(ref?.[nameField]);
    if (ref && name) needs.push({ kind, name, keys, optional: ref.optional === true, from });
  };
  const itemKeys = (ref: Obj | undefined): string[] =>
    objs(ref?.items)
      .map((i) => str(i.key))
      .filter((k): k is string => k !== undefined);

  for (const v of objs(spec.volumes)) {
    const from = `volume ${JSON.stringify(str(v.name) ?? '')}`;
    add('ConfigMap', obj(v.configMap), 'name', from, itemKeys(obj(v.configMap)));
    add('Secret', obj(v.secret), 'secretName', from, itemKeys(obj(v.secret)));
    for (const source of objs(obj(v.projected)?.sources)) {
      add('ConfigMap', obj(source.configMap), 'name', from, itemKeys(obj(source.configMap)));
      add('Secret', obj(source.secret), 'name', from, itemKeys(obj(source.secret)));
    }
  }
  for (const c of allContainers(spec)) {
    const container = `container ${JSON.stringify(str(c.name) ?? '')}`;
    for (const e of objs(c.envFrom)) {
      add('ConfigMap', obj(e.configMapRef), 'name', `${container} envFrom`);
      add('Secret', obj(e.secretRef), 'name', `${container} envFrom`);
    }
    for (const e of objs(c.env)) {
      const from = `${container} env ${str(e.name) ?? ''}`;
      const valueFrom = obj(e.valueFrom);
      for (const [field, kind] of [
        ['configMapKeyRef', 'ConfigMap'],
        ['secretKeyRef', 'Secret'],
      ] as const) {
        const ref = obj(valueFrom?.[field]);
        const key = str(ref?.key);
        add(kind, ref, 'name', from, key === undefined ? [] : [key]);
      }
    }
  }
  for (const s of objs(spec.imagePullSecrets)) add('Secret', s, 'name', 'imagePullSecrets');
  const sa = str(spec.serviceAccountName) ?? str(spec.serviceAccount);
  if (sa !== undefined && sa !== 'default') {
    needs.push({
      kind: 'ServiceAccount',
      name: sa,
      keys: [],
      optional: false,
      from: 'serviceAccountName',
    });
  }
  return needs;
}
