import { IConstruct } from 'constructs';
import { IntOrString, NetworkPolicyPeer, NetworkPolicyPort } from '../imports/k8s';
import { AddressSet, formatCidr, parseCidr } from './cidr';
import { ConnectionEndpoint } from './connections';
import { InvalidPropError } from './errors';
import { isLabelKey, isLabelValue } from './labels';
import { isDnsLabel } from './names';

/** Transport protocols a NetworkPolicy port can name. */
export enum NetworkProtocol {
  TCP = 'TCP',
  UDP = 'UDP',
  SCTP = 'SCTP',
}

/**
 * The other end of a connection: pods (of a namespace, optionally with
 * labels) or a range of addresses (`cidr`, without `except`).
 */
export interface NetworkPeer {
  /**
   * The namespace of the peer's pods.
   * @default - the namespace of the pods the rule is for
   */
  readonly namespace?: string;
  /**
   * Labels the peer's pods carry (all of them).
   * @default - every pod of `namespace`
   */
  readonly podLabels?: Readonly<Record<string, string>>;
  /**
   * Addresses instead of pods: an IPv4 or IPv6 CIDR, or one address.
   * @default - pods, not addresses
   */
  readonly cidr?: string;
  /**
   * Ranges inside `cidr` that are not part of the peer.
   * @default []
   */
  readonly except?: readonly string[];
}

/** One destination port. */
export interface NetworkPort {
  readonly port: number;
  /** @default NetworkProtocol.TCP */
  readonly protocol?: NetworkProtocol | `${NetworkProtocol}`;
}

/** Connections a workload's pods open to a peer. */
export interface EgressRule {
  readonly peer: NetworkPeer;
  /** The peer's ports (for pods: their container ports, not a Service's). */
  readonly ports: readonly NetworkPort[];
  /**
   * Why the pods need it, shown by `npm run validate -- --flows`.
   * @default 'egressTo'
   */
  readonly purpose?: string;
}

/** A validated peer. */
export type ResolvedPeer =
  | {
      readonly kind: 'pods';
      readonly namespace: string;
      readonly podLabels?: Readonly<Record<string, string>>;
    }
  | { readonly kind: 'addresses'; readonly cidr: string; readonly except: readonly string[] };

export interface ResolvedPort {
  readonly port: number;
  readonly protocol: NetworkProtocol;
}

/** Validates a CIDR prop in canonical form (no host bits), returning it unchanged. */
export function resolveCidr(scope: IConstruct, prop: string, value: unknown): string {
  const cidr = parseCidr(value);
  if (!cidr || cidr.hostBits || !String(value).includes('/')) {
    throw new InvalidPropError(
      scope,
      prop,
      value,
      `an IPv4 or IPv6 CIDR with its network address, like "10.42.0.0/16"${cidr?.hostBits ? ` ("${formatCidr(cidr)}" here)` : ''}`,
    );
  }
  return value as string;
}

/**
 * Validates a peer. `ownNamespace` is the namespace of the pods the rule is
 * for: a pods peer without a namespace is in it.
 */
export function resolvePeer(
  scope: IConstruct,
  prop: string,
  value: unknown,
  ownNamespace: string,
): ResolvedPeer {
  const peer = value as NetworkPeer | undefined;
  if (typeof peer !== 'object' || peer === null) {
    throw new InvalidPropError(
      scope,
      prop,
      value,
      'a NetworkPeer: { namespace?, podLabels? } or { cidr, except? }',
    );
  }
  if (peer.cidr !== undefined) {
    if (peer.namespace !== undefined || peer.podLabels !== undefined) {
      throw new InvalidPropError(
        scope,
        prop,
        value,
        'either pods ({ namespace?, podLabels? }) or addresses ({ cidr, except? }), not both',
      );
    }
    const single = parseCidr(peer.cidr);
    const cidr =
      single && !String(peer.cidr).includes('/')
        ? `${peer.cidr}/${single.family === 4 ? 32 : 128}`
        : resolveCidr(scope, `${prop}.cidr`, peer.cidr);
    const except = peer.except ?? [];
    if (!Array.isArray(except)) {
      throw new InvalidPropError(scope, `${prop}.except`, except, 'a list of CIDRs inside cidr');
    }
    const whole = AddressSet.of(parseCidr(cidr)!);
    except.forEach((e, i) => {
      const inside = parseCidr(resolveCidr(scope, `${prop}.except[${i}]`, e))!;
      // The API server rejects an except outside its cidr.
      if (!whole.covers(AddressSet.of(inside)) || inside.prefix === parseCidr(cidr)!.prefix) {
        throw new InvalidPropError(
          scope,
          `${prop}.except[${i}]`,
          e,
          `a CIDR strictly inside ${cidr}`,
        );
      }
    });
    return { kind: 'addresses', cidr, except: [...except] };
  }
  if (peer.except !== undefined) {
    throw new InvalidPropError(scope, `${prop}.except`, peer.except, 'only together with cidr');
  }
  const namespace = peer.namespace ?? ownNamespace;
  if (!isDnsLabel(namespace)) {
    throw new InvalidPropError(
      scope,
      `${prop}.namespace`,
      namespace,
      'a namespace name (DNS-1123 label)',
    );
  }
  if (peer.namespace === undefined && peer.podLabels === undefined) {
    throw new InvalidPropError(
      scope,
      prop,
      value,
      'a peer that says whom it means: namespace, podLabels or cidr (every pod of the own namespace is { namespace: "<it>" })',
    );
  }
  if (peer.podLabels !== undefined) {
    const entries =
      typeof peer.podLabels === 'object' && peer.podLabels !== null
        ? Object.entries(peer.podLabels)
        : [];
    if (entries.length === 0) {
      throw new InvalidPropError(
        scope,
        `${prop}.podLabels`,
        peer.podLabels,
        'at least one label (leave podLabels out for every pod of the namespace)',
      );
    }
    for (const [key, v] of entries) {
      if (!isLabelKey(key) || !isLabelValue(v)) {
        throw new InvalidPropError(
          scope,
          `${prop}.podLabels`,
          { [key]: v },
          'label keys like "app.kubernetes.io/name" and values of at most 63 letters, digits, "-", "_" or "."',
        );
      }
    }
  }
  return {
    kind: 'pods',
    namespace,
    podLabels: peer.podLabels === undefined ? undefined : { ...peer.podLabels },
  };
}

/** Validates ports (at least one). */
export function resolvePorts(scope: IConstruct, prop: string, value: unknown): ResolvedPort[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidPropError(scope, prop, value, 'a non-empty list of { port, protocol? }');
  }
  const protocols = Object.values(NetworkProtocol) as string[];
  return value.map((p: NetworkPort, i: number) => {
    if (!Number.isInteger(p?.port) || p.port < 1 || p.port > 65535) {
      throw new InvalidPropError(
        scope,
        `${prop}[${i}].port`,
        p?.port,
        'an integer from 1 to 65535',
      );
    }
    const protocol = p.protocol ?? NetworkProtocol.TCP;
    if (!protocols.includes(protocol)) {
      throw new InvalidPropError(
        scope,
        `${prop}[${i}].protocol`,
        protocol,
        `one of ${protocols.join(', ')} (NetworkProtocol)`,
      );
    }
    return { port: p.port, protocol: protocol as NetworkProtocol };
  });
}

const NAME_LABEL = 'kubernetes.io/metadata.name';

/**
 * The peer as a NetworkPolicy peer of a policy in `policyNamespace`: pods of
 * the same namespace by podSelector alone; of another namespace by both
 * selectors in one peer (pods matching both); addresses by ipBlock.
 */
export function policyPeer(peer: ResolvedPeer, policyNamespace: string): NetworkPolicyPeer {
  if (peer.kind === 'addresses') {
    return {
      ipBlock: { cidr: peer.cidr, except: peer.except.length > 0 ? [...peer.except] : undefined },
    };
  }
  const podSelector = { matchLabels: peer.podLabels ? { ...peer.podLabels } : undefined };
  if (peer.namespace === policyNamespace) return { podSelector };
  return {
    namespaceSelector: { matchLabels: { [NAME_LABEL]: peer.namespace } },
    podSelector: peer.podLabels ? podSelector : undefined,
  };
}

export function policyPorts(ports: readonly ResolvedPort[]): NetworkPolicyPort[] {
  return ports.map((p) => ({ port: IntOrString.fromNumber(p.port), protocol: p.protocol }));
}

/** The peer as the other end of a declared connection. */
export function endpointOf(peer: ResolvedPeer): ConnectionEndpoint {
  if (peer.kind === 'addresses') {
    return peer.except.length > 0 ? { cidr: peer.cidr, except: peer.except } : { cidr: peer.cidr };
  }
  return peer.podLabels
    ? { namespace: peer.namespace, pods: peer.podLabels }
    : { namespace: peer.namespace };
}
