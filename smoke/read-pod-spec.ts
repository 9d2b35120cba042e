/**
 * Reads a pod spec from parsed YAML into the model of pod-spec.ts. Every
 * error names the path of the field in the manifest; omitted fields get the
 * API server's defaults.
 */
import {
  intOrString,
  JsonObject,
  list,
  ManifestError,
  object,
  optBool,
  optInt,
  optObject,
  optStr,
  str,
  strList,
} from './read';
import {
  ContainerSpec,
  EnvFromSpec,
  EnvVarSpec,
  KeyRef,
  KeyToPath,
  PodSpec,
  ProbeSpec,
  SecurityContextSpec,
  VolumeSpec,
} from './pod-spec';

export function readPodSpec(value: unknown, where: string): PodSpec {
  const spec = object(value, where);
  const containers = list(spec.containers, `${where}.containers`).map((c, i) =>
    readContainer(c, `${where}.containers[${i}]`),
  );
  if (containers.length === 0) throw new ManifestError(`${where}.containers: no container`);
  const sc = optObject(spec.securityContext, `${where}.securityContext`) ?? {};
  const scWhere = `${where}.securityContext`;
  return {
    initContainers: list(spec.initContainers, `${where}.initContainers`).map((c, i) =>
      readContainer(c, `${where}.initContainers[${i}]`),
    ),
    containers,
    volumes: list(spec.volumes, `${where}.volumes`).map((v, i) =>
      readVolume(v, `${where}.volumes[${i}]`),
    ),
    securityContext: {
      runAsUser: optInt(sc.runAsUser, `${scWhere}.runAsUser`),
      runAsGroup: optInt(sc.runAsGroup, `${scWhere}.runAsGroup`),
      runAsNonRoot: optBool(sc.runAsNonRoot, `${scWhere}.runAsNonRoot`),
      fsGroup: optInt(sc.fsGroup, `${scWhere}.fsGroup`),
      supplementalGroups: list(sc.supplementalGroups, `${scWhere}.supplementalGroups`).map(
        (g, i) => optInt(g, `${scWhere}.supplementalGroups[${i}]`) ?? 0,
      ),
    },
    hostname: optStr(spec.hostname, `${where}.hostname`),
  };
}

function readVolume(value: unknown, where: string): VolumeSpec {
  const volume = object(value, where);
  const name = str(volume.name, `${where}.name`);
  const kinds = Object.keys(volume).filter((k) => k !== 'name');
  if (volume.configMap !== undefined || volume.secret !== undefined) {
    const type = volume.configMap !== undefined ? 'configMap' : 'secret';
    const src = object(volume[type], `${where}.${type}`);
    const nameKey = type === 'configMap' ? 'name' : 'secretName';
    const items = src.items === undefined ? undefined : readItems(src.items, `${where}.${type}`);
    return {
      name,
      source: {
        type,
        objectName: str(src[nameKey], `${where}.${type}.${nameKey}`),
        items,
        // The API server's defaults: 0644 for both.
        defaultMode: optInt(src.defaultMode, `${where}.${type}.defaultMode`) ?? 0o644,
        optional: optBool(src.optional, `${where}.${type}.optional`) ?? false,
      },
    };
  }
  if (volume.emptyDir !== undefined) {
    const src = optObject(volume.emptyDir, `${where}.emptyDir`) ?? {};
    return {
      name,
      source: {
        type: 'emptyDir',
        medium: optStr(src.medium, `${where}.emptyDir.medium`),
        sizeLimit:
          src.sizeLimit === undefined || src.sizeLimit === null ? undefined : String(src.sizeLimit),
      },
    };
  }
  return { name, source: { type: 'unsupported', kind: kinds[0] ?? 'none' } };
}

function readItems(value: unknown, where: string): KeyToPath[] {
  return list(value, `${where}.items`).map((raw, i) => {
    const item = object(raw, `${where}.items[${i}]`);
    return {
      key: str(item.key, `${where}.items[${i}].key`),
      path: str(item.path, `${where}.items[${i}].path`),
      mode: optInt(item.mode, `${where}.items[${i}].mode`),
    };
  });
}

function readContainer(value: unknown, where: string): ContainerSpec {
  const c = object(value, where);
  const optList = (key: string) =>
    c[key] === undefined ? undefined : strList(c[key], `${where}.${key}`);
  return {
    name: str(c.name, `${where}.name`),
    image: str(c.image, `${where}.image`),
    command: optList('command'),
    args: optList('args'),
    workingDir: optStr(c.workingDir, `${where}.workingDir`),
    env: list(c.env, `${where}.env`).map((e, i) => readEnvVar(e, `${where}.env[${i}]`)),
    envFrom: list(c.envFrom, `${where}.envFrom`).map((e, i) =>
      readEnvFrom(e, `${where}.envFrom[${i}]`),
    ),
    ports: list(c.ports, `${where}.ports`).map((raw, i) => {
      const port = object(raw, `${where}.ports[${i}]`);
      const containerPort = optInt(port.containerPort, `${where}.ports[${i}].containerPort`);
      if (containerPort === undefined) {
        throw new ManifestError(`${where}.ports[${i}].containerPort: required`);
      }
      return { name: optStr(port.name, `${where}.ports[${i}].name`), containerPort };
    }),
    volumeMounts: list(c.volumeMounts, `${where}.volumeMounts`).map((raw, i) => {
      const m = object(raw, `${where}.volumeMounts[${i}]`);
      return {
        name: str(m.name, `${where}.volumeMounts[${i}].name`),
        mountPath: str(m.mountPath, `${where}.volumeMounts[${i}].mountPath`),
        readOnly: optBool(m.readOnly, `${where}.volumeMounts[${i}].readOnly`) ?? false,
        subPath: optStr(m.subPath, `${where}.volumeMounts[${i}].subPath`) || undefined,
      };
    }),
    securityContext: readSecurityContext(c.securityContext, `${where}.securityContext`),
    startupProbe: readProbe(c.startupProbe, `${where}.startupProbe`),
    readinessProbe: readProbe(c.readinessProbe, `${where}.readinessProbe`),
    livenessProbe: readProbe(c.livenessProbe, `${where}.livenessProbe`),
  };
}

function readKeyRef(value: JsonObject, where: string): KeyRef {
  return {
    name: str(value.name, `${where}.name`),
    key: str(value.key, `${where}.key`),
    optional: optBool(value.optional, `${where}.optional`) ?? false,
  };
}

function readEnvVar(value: unknown, where: string): EnvVarSpec {
  const e = object(value, where);
  const name = str(e.name, `${where}.name`);
  const from = optObject(e.valueFrom, `${where}.valueFrom`);
  if (from === undefined) return { name, value: optStr(e.value, `${where}.value`) ?? '' };
  if (from.fieldRef !== undefined) {
    const ref = object(from.fieldRef, `${where}.valueFrom.fieldRef`);
    return { name, fieldRef: str(ref.fieldPath, `${where}.valueFrom.fieldRef.fieldPath`) };
  }
  if (from.configMapKeyRef !== undefined) {
    const ref = object(from.configMapKeyRef, `${where}.valueFrom.configMapKeyRef`);
    return { name, configMapKeyRef: readKeyRef(ref, `${where}.valueFrom.configMapKeyRef`) };
  }
  if (from.secretKeyRef !== undefined) {
    const ref = object(from.secretKeyRef, `${where}.valueFrom.secretKeyRef`);
    return { name, secretKeyRef: readKeyRef(ref, `${where}.valueFrom.secretKeyRef`) };
  }
  return { name, unsupported: Object.keys(from)[0] ?? 'valueFrom' };
}

function readEnvFrom(value: unknown, where: string): EnvFromSpec {
  const e = object(value, where);
  const prefix = optStr(e.prefix, `${where}.prefix`) ?? '';
  const type = e.configMapRef !== undefined ? 'configMap' : 'secret';
  const ref = object(e[`${type}Ref`], `${where}.${type}Ref`);
  return {
    type,
    prefix,
    name: str(ref.name, `${where}.${type}Ref.name`),
    optional: optBool(ref.optional, `${where}.${type}Ref.optional`) ?? false,
  };
}

function readSecurityContext(value: unknown, where: string): SecurityContextSpec | undefined {
  const sc = optObject(value, where);
  if (sc === undefined) return undefined;
  const caps = optObject(sc.capabilities, `${where}.capabilities`) ?? {};
  return {
    runAsUser: optInt(sc.runAsUser, `${where}.runAsUser`),
    runAsGroup: optInt(sc.runAsGroup, `${where}.runAsGroup`),
    runAsNonRoot: optBool(sc.runAsNonRoot, `${where}.runAsNonRoot`),
    readOnlyRootFilesystem: optBool(sc.readOnlyRootFilesystem, `${where}.readOnlyRootFilesystem`),
    allowPrivilegeEscalation: optBool(
      sc.allowPrivilegeEscalation,
      `${where}.allowPrivilegeEscalation`,
    ),
    privileged: optBool(sc.privileged, `${where}.privileged`),
    capabilities: {
      add: strList(caps.add, `${where}.capabilities.add`),
      drop: strList(caps.drop, `${where}.capabilities.drop`),
    },
  };
}

function readProbe(value: unknown, where: string): ProbeSpec | undefined {
  const p = optObject(value, where);
  if (p === undefined) return undefined;
  let action: ProbeSpec['action'] = { type: 'none' };
  if (p.httpGet !== undefined) {
    const h = object(p.httpGet, `${where}.httpGet`);
    const scheme = optStr(h.scheme, `${where}.httpGet.scheme`) ?? 'HTTP';
    if (scheme !== 'HTTP' && scheme !== 'HTTPS') {
      throw new ManifestError(`${where}.httpGet.scheme: expected HTTP or HTTPS, got ${scheme}`);
    }
    action = {
      type: 'httpGet',
      path: optStr(h.path, `${where}.httpGet.path`) ?? '/',
      port: intOrString(h.port, `${where}.httpGet.port`),
      scheme,
      host: optStr(h.host, `${where}.httpGet.host`),
      headers: list(h.httpHeaders, `${where}.httpGet.httpHeaders`).map((raw, i) => {
        const header = object(raw, `${where}.httpGet.httpHeaders[${i}]`);
        return {
          name: str(header.name, `${where}.httpGet.httpHeaders[${i}].name`),
          value: str(header.value, `${where}.httpGet.httpHeaders[${i}].value`),
        };
      }),
    };
  } else if (p.tcpSocket !== undefined) {
    const t = object(p.tcpSocket, `${where}.tcpSocket`);
    action = {
      type: 'tcpSocket',
      port: intOrString(t.port, `${where}.tcpSocket.port`),
      host: optStr(t.host, `${where}.tcpSocket.host`),
    };
  } else if (p.exec !== undefined) {
    action = { type: 'exec' };
  } else if (p.grpc !== undefined) {
    action = { type: 'grpc' };
  }
  // The API server's defaults for omitted fields.
  return {
    action,
    initialDelaySeconds: optInt(p.initialDelaySeconds, `${where}.initialDelaySeconds`) ?? 0,
    periodSeconds: optInt(p.periodSeconds, `${where}.periodSeconds`) ?? 10,
    timeoutSeconds: optInt(p.timeoutSeconds, `${where}.timeoutSeconds`) ?? 1,
    successThreshold: optInt(p.successThreshold, `${where}.successThreshold`) ?? 1,
    failureThreshold: optInt(p.failureThreshold, `${where}.failureThreshold`) ?? 3,
  };
}
