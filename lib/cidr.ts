// IP address ranges as sets of integer intervals: CIDR parsing, `except`
// subtraction and coverage. Shared by the constructs (validating CIDR props)
// and by `npm run validate` (NetworkPolicy ipBlocks), so both read a CIDR the
// same way.
import { isIP } from 'net';

export type IpFamily = 4 | 6;

/** Inclusive interval of addresses of one family, as integers. */
export interface AddressInterval {
  readonly family: IpFamily;
  readonly first: bigint;
  readonly last: bigint;
}

/** A CIDR block: its network address (host bits cleared), prefix and family. */
export interface Cidr {
  readonly family: IpFamily;
  readonly network: bigint;
  readonly prefix: number;
  /** True when the text had host bits set (`10.0.0.1/8`), which Kubernetes masks. */
  readonly hostBits: boolean;
}

const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };

/** The address as an integer, or undefined when it is no IPv4/IPv6 address. */
export function parseAddress(text: string): { family: IpFamily; value: bigint } | undefined {
  const family = isIP(text);
  if (family === 4) {
    const value = text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
    return { family, value };
  }
  if (family === 6) {
    let groups: string[];
    // An embedded IPv4 tail (`::ffff:1.2.3.4`) is two groups.
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    let body = text;
    if (v4) {
      const n = parseAddress(v4[1])!.value;
      body = `${text.slice(0, -v4[1].length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
    }
    if (body.includes('::')) {
      const [head, tail] = body.split('::');
      const h = head === '' ? [] : head.split(':');
      const t = tail === '' ? [] : tail.split(':');
      groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    } else {
      groups = body.split(':');
    }
    const value = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
    return { family, value };
  }
  return undefined;
}

/** The address text of an integer (IPv4 dotted, IPv6 compressed by the URL parser). */
export function formatAddress(family: IpFamily, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
  }
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) {
    groups.push(((value >> shift) & 0xffffn).toString(16));
  }
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/** A CIDR (`10.42.0.0/16`, `fd00::/8`) or a bare address (a /32 or /128); undefined when malformed. */
export function parseCidr(text: unknown): Cidr | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  const address = parseAddress(slash < 0 ? text : text.slice(0, slash));
  if (!address) return undefined;
  const bits = BITS[address.family];
  let prefix = bits;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > bits) return undefined;
    prefix = Number(p);
  }
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  return {
    family: address.family,
    network: address.value & ~hostMask,
    prefix,
    hostBits: (address.value & hostMask) !== 0n,
  };
}

/** `network/prefix` in canonical form. */
export function formatCidr(cidr: Cidr): string {
  return `${formatAddress(cidr.family, cidr.network)}/${cidr.prefix}`;
}

export function cidrInterval(cidr: Cidr): AddressInterval {
  const size = 1n << BigInt(BITS[cidr.family] - cidr.prefix);
  return { family: cidr.family, first: cidr.network, last: cidr.network + size - 1n };
}

/** The n-th address of a block (0 is the network address). */
export function nthAddress(cidr: Cidr, n: number): string {
  return formatAddress(cidr.family, cidr.network + BigInt(n));
}

/**
 * A set of addresses: sorted, disjoint, non-adjacent intervals. Immutable;
 * every operation returns a new set.
 */
export class AddressSet {
  public static readonly EMPTY = new AddressSet([]);

  /** `cidr` minus each of `except` (strings that do not parse are ignored by the caller). */
  public static of(cidr: Cidr, except: readonly Cidr[] = []): AddressSet {
    return new AddressSet([cidrInterval(cidr)]).subtract(new AddressSet(except.map(cidrInterval)));
  }

  public readonly intervals: readonly AddressInterval[];

  private constructor(intervals: readonly AddressInterval[]) {
    this.intervals = normalize(intervals);
  }

  public get isEmpty(): boolean {
    return this.intervals.length === 0;
  }

  public union(other: AddressSet): AddressSet {
    return new AddressSet([...this.intervals, ...other.intervals]);
  }

  public subtract(other: AddressSet): AddressSet {
    let rest: AddressInterval[] = [...this.intervals];
    for (const cut of other.intervals) {
      const next: AddressInterval[] = [];
      for (const i of rest) {
        if (i.family !== cut.family || cut.last < i.first || cut.first > i.last) {
          next.push(i);
          continue;
        }
        if (cut.first > i.first) next.push({ ...i, last: cut.first - 1n });
        if (cut.last < i.last) next.push({ ...i, first: cut.last + 1n });
      }
      rest = next;
    }
    return new AddressSet(rest);
  }

  /** True when every address of `other` is in this set. */
  public covers(other: AddressSet): boolean {
    return other.subtract(this).isEmpty;
  }

  public intersects(other: AddressSet): boolean {
    return !this.subtract(other).covers(this);
  }
}

function normalize(intervals: readonly AddressInterval[]): AddressInterval[] {
  const sorted = [...intervals].sort((a, b) =>
    a.family !== b.family
      ? a.family - b.family
      : a.first < b.first
        ? -1
        : a.first > b.first
          ? 1
          : 0,
  );
  const out: AddressInterval[] = [];
  for (const i of sorted) {
    const prev = out[out.length - 1];
    if (prev && prev.family === i.family && i.first <= prev.last + 1n) {
      if (i.last > prev.last) out[out.length - 1] = { ...prev, last: i.last };
    } else {
      out.push(i);
    }
  }
  return out;
}
