/**
 * The part of a pod spec a kubelet needs to start the pod, as the smoke run
 * models it: containers, volumes, environment, probes and security contexts,
 * with the API server's defaults filled in (see read-pod-spec.ts).
 */
export interface KeyToPath {
  readonly key: string;
  readonly path: string;
  readonly mode?: number;
}

/** A ConfigMap or Secret volume: the kubelet writes its keys as files. */
export interface DataVolumeSource {
  readonly type: 'configMap' | 'secret';
  readonly objectName: string;
  readonly items?: readonly KeyToPath[];
  readonly defaultMode: number;
  readonly optional: boolean;
}

export interface EmptyDirSource {
  readonly type: 'emptyDir';
  readonly medium?: string;
  readonly sizeLimit?: string;
}

export interface UnsupportedSource {
  readonly type: 'unsupported';
  /** The volume type as written in the YAML, e.g. "hostPath". */
  readonly kind: string;
}

export interface VolumeSpec {
  readonly name: string;
  readonly source: DataVolumeSource | EmptyDirSource | UnsupportedSource;
}

export interface VolumeMountSpec {
  readonly name: string;
  readonly mountPath: string;
  readonly readOnly: boolean;
  readonly subPath?: string;
}

export interface KeyRef {
  readonly name: string;
  readonly key: string;
  readonly optional: boolean;
}

export interface EnvVarSpec {
  readonly name: string;
  readonly value?: string;
  readonly fieldRef?: string;
  readonly configMapKeyRef?: KeyRef;
  readonly secretKeyRef?: KeyRef;
  /** Any other valueFrom (resourceFieldRef...): not emulated. */
  readonly unsupported?: string;
}

export interface EnvFromSpec {
  readonly type: 'configMap' | 'secret';
  readonly name: string;
  readonly prefix: string;
  readonly optional: boolean;
}

export interface HttpGetAction {
  readonly type: 'httpGet';
  readonly path: string;
  readonly port: number | string;
  readonly scheme: 'HTTP' | 'HTTPS';
  readonly host?: string;
  readonly headers: readonly { readonly name: string; readonly value: string }[];
}

export interface TcpSocketAction {
  readonly type: 'tcpSocket';
  readonly port: number | string;
  readonly host?: string;
}

export interface UnsupportedAction {
  readonly type: 'exec' | 'grpc' | 'none';
}

export interface ProbeSpec {
  readonly action: HttpGetAction | TcpSocketAction | UnsupportedAction;
  readonly initialDelaySeconds: number;
  readonly periodSeconds: number;
  readonly timeoutSeconds: number;
  readonly successThreshold: number;
  readonly failureThreshold: number;
}

export interface SecurityContextSpec {
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  readonly runAsNonRoot?: boolean;
  readonly readOnlyRootFilesystem?: boolean;
  readonly allowPrivilegeEscalation?: boolean;
  readonly privileged?: boolean;
  readonly capabilities: { readonly add: readonly string[]; readonly drop: readonly string[] };
}

export interface PodSecurityContextSpec {
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  readonly runAsNonRoot?: boolean;
  readonly fsGroup?: number;
  readonly supplementalGroups: readonly number[];
}

export interface ContainerPortSpec {
  readonly name?: string;
  readonly containerPort: number;
}

export interface ContainerSpec {
  readonly name: string;
  readonly image: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly workingDir?: string;
  readonly env: readonly EnvVarSpec[];
  readonly envFrom: readonly EnvFromSpec[];
  readonly ports: readonly ContainerPortSpec[];
  readonly volumeMounts: readonly VolumeMountSpec[];
  readonly securityContext?: SecurityContextSpec;
  readonly startupProbe?: ProbeSpec;
  readonly readinessProbe?: ProbeSpec;
  readonly livenessProbe?: ProbeSpec;
}

export interface PodSpec {
  readonly initContainers: readonly ContainerSpec[];
  readonly containers: readonly ContainerSpec[];
  readonly volumes: readonly VolumeSpec[];
  readonly securityContext: PodSecurityContextSpec;
  readonly hostname?: string;
}
