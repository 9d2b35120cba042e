// The reachability check on small hand-made folders: each NetworkPolicy rule
// of the Kubernetes semantics, the classic traps, and the declaration format.
import * as YAML from 'yaml';
import {
  CONNECTIONS_ANNOTATION,
  DeclaredConnection,
  formatConnections,
} from '../../lib/connections';
import { parseYaml } from '../../validation';
import { checkNetwork, flowMessage, type Flow } from '../../validation/flows';

const NS = 'shop';

/** A Deployment in `namespace` whose pods carry `labels` and declare `connections`. */
function workload(
  name: string,
  labels: Record<string, string>,
  connections?: readonly DeclaredConnection[] | string,
  namespace = NS,
  ports: object[] = [{ name: 'http', containerPort: 8080 }],
): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace,
      annotations:
        connections === undefined
          ? undefined
          : {
              [CONNECTIONS_ANNOTATION]:
                typeof connections === 'string' ? connections : formatConnections(connections),
            },
    },
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'app', image: 'example/app:1', ports }] },
      },
    },
  };
}

function namespace(name: string, labels: Record<string, string> = {}): object {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

function policy(name: string, spec: object, ns = NS): object {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace: ns },
    spec,
  };
}

const DENY_ALL = policy('default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
const WEB = { app: 'web' };
const API = { app: 'api' };

/** Runs the check on the objects, as one folder (through real YAML). */
function check(...objects: object[]) {
  const text = objects.map((o) => YAML.stringify(o)).join('---\n');
  const { docs, findings } = parseYaml('f.yaml', text);
  expect(findings).toEqual([]);
  return checkNetwork(docs);
}

/** The verdicts of every flow the web workload declares, given the policies. */
function webFlows(connections: DeclaredConnection[], ...others: object[]): Flow[] {
  return check(namespace(NS), workload('web', WEB, connections), ...others).flows;
}

const toApi = (port: number | string = 8080, protocol?: string): DeclaredConnection => ({
  to: { namespace: NS, pods: API },
  port,
  protocol,
  purpose: 'calls the API',
});

describe('isolation', () => {
  test('without policies nothing is isolated: allowed, but the namespace lacks a default deny', () => {
    const r = check(namespace(NS), workload('web', WEB, [toApi()]), workload('api', API));
    expect(r.flows.map(flowMessage)).toEqual([
      'flow shop/web -> shop/api TCP/8080: allowed (egress: not isolated; ingress: not isolated) [calls the API]',
    ]);
    expect(r.findings.map((f) => f.message)).toEqual([
      'namespace "shop" runs pods but has no default-deny NetworkPolicy for Ingress and Egress (podSelector: {}, policyTypes: [Ingress, Egress], no rules): every pod there is open to every connection',
    ]);
  });

  test('a default deny isolates both directions and denies; the error names both ends and the port', () => {
    const r = check(namespace(NS), workload('web', WEB, [toApi()]), workload('api', API), DENY_ALL);
    expect(r.flows.map((f) => f.allowed)).toEqual([false]);
    expect(r.findings.map((f) => `${f.kind}/${f.name}: ${f.message}`)).toEqual([
      'Deployment/web: needed connection shop/web -> shop/api TCP/8080 (calls the API) is denied: egress: DENIED, isolated by NetworkPolicy/default-deny and no rule allows it; ingress: DENIED, isolated by NetworkPolicy/default-deny and no rule allows it',
    ]);
  });

  test('allowed only when the source egress AND the destination ingress allow it', () => {
    const egress = policy('web-out', {
      podSelector: { matchLabels: WEB },
      policyTypes: ['Egress'],
      egress: [{ to: [{ podSelector: { matchLabels: API } }] }],
    });
    const ingress = policy('api-in', {
      podSelector: { matchLabels: API },
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ podSelector: { matchLabels: WEB } }] }],
    });
    const flows = (...p: object[]) => webFlows([toApi()], workload('api', API), DENY_ALL, ...p);
    expect(flows(egress)[0]).toMatchObject({ allowed: false, egress: { allowed: true } });
    expect(flows(ingress)[0]).toMatchObject({ allowed: false, ingress: { allowed: true } });
    const both = flows(egress, ingress)[0];
    expect(both.allowed).toBe(true);
    expect(flowMessage(both)).toBe(
      'flow shop/web -> shop/api TCP/8080: allowed (egress: NetworkPolicy/web-out; ingress: NetworkPolicy/api-in) [calls the API]',
    );
  });

  test('a policy isolates only the pods it selects, and only for its policyTypes', () => {
    const other = policy('other', {
      podSelector: { matchLabels: { app: 'db' } },
      policyTypes: ['Ingress', 'Egress'],
    });
    const ingressOnly = policy('web-in', {
      podSelector: { matchLabels: WEB },
      policyTypes: ['Ingress'],
    });
    const [f] = webFlows([toApi()], workload('api', API), other, ingressOnly);
    expect(f.allowed).toBe(true);
    expect(f.egress).toEqual({ allowed: true, isolatedBy: [], allowedBy: [] });
  });

  test('policyTypes defaults to Ingress, plus Egress only when egress has rules', () => {
    const emptyEgress = policy('p', { podSelector: { matchLabels: WEB }, egress: [] });
    expect(webFlows([toApi()], workload('api', API), emptyEgress)[0].egress?.isolatedBy).toEqual(
      [],
    );
    const withEgress = policy('p', {
      podSelector: { matchLabels: WEB },
      egress: [{ to: [{ podSelector: { matchLabels: { app: 'db' } } }] }],
    });
    const [f] = webFlows([toApi()], workload('api', API), withEgress);
    expect(f.egress).toEqual({ allowed: false, isolatedBy: ['p'], allowedBy: [] });
  });
});

describe('peers', () => {
  const fromOther: DeclaredConnection = {
    from: { namespace: 'other', pods: { app: 'client' } },
    port: 8080,
    purpose: 'client',
  };
  /** web's ingress from pods of namespace "other" (labelled team=a) or of "shop", with `from`. */
  function ingressVerdicts(from: unknown, ...extra: object[]) {
    const p = policy('web-in', {
      podSelector: { matchLabels: WEB },
      policyTypes: ['Ingress'],
      ingress: [from === undefined ? {} : { from }],
    });
    const r = check(
      namespace(NS),
      namespace('other', { team: 'a' }),
      workload('web', WEB, [
        fromOther,
        { from: { namespace: NS, pods: API }, port: 8080, purpose: 'api' },
      ]),
      workload('api', API),
      workload('client', { app: 'client' }, undefined, 'other'),
      p,
      ...extra,
    );
    return r.flows.map((f) => `${f.source.display}:${f.allowed}`);
  }

  test('trap: a rule without `from` allows every source; `from: [{podSelector: {}}]` only this namespace', () => {
    expect(ingressVerdicts(undefined)).toEqual(['other/client:true', 'shop/api:true']);
    expect(ingressVerdicts([{ podSelector: {} }])).toEqual(['other/client:false', 'shop/api:true']);
    expect(ingressVerdicts([])).toEqual(['other/client:true', 'shop/api:true']);
  });

  test('trap: namespaceSelector and podSelector in one peer (AND) vs two peers (OR)', () => {
    const ns = { namespaceSelector: { matchLabels: { team: 'a' } } };
    const pods = { podSelector: { matchLabels: API } };
    // One peer: pods labelled app=api in namespaces labelled team=a: neither source.
    expect(ingressVerdicts([{ ...ns, ...pods }])).toEqual(['other/client:false', 'shop/api:false']);
    // Two peers: every pod of team=a namespaces, or app=api pods of this namespace.
    expect(ingressVerdicts([ns, pods])).toEqual(['other/client:true', 'shop/api:true']);
  });

  test('namespaceSelector matches the folder namespace labels and kubernetes.io/metadata.name', () => {
    const byName = [
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'other' } } },
    ];
    expect(ingressVerdicts(byName)).toEqual(['other/client:true', 'shop/api:false']);
    expect(ingressVerdicts([{ namespaceSelector: {} }])).toEqual([
      'other/client:true',
      'shop/api:true',
    ]);
  });

  test('a namespace the folder does not define carries only its name label', () => {
    const conn = (ns: string): DeclaredConnection => ({
      to: { namespace: ns, pods: { 'k8s-app': 'kube-dns' } },
      port: 53,
      protocol: 'UDP',
      purpose: 'DNS',
    });
    const allow = (peer: object) =>
      policy('dns', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [peer] }] });
    const pods = { podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } };
    const byName = {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
      ...pods,
    };
    const byLabel = { namespaceSelector: { matchLabels: { team: 'platform' } }, ...pods };
    const [ok] = webFlows([conn('kube-system')], DENY_ALL, allow(byName));
    expect(flowMessage(ok)).toBe(
      'flow shop/web -> kube-system/{k8s-app=kube-dns} UDP/53: allowed (egress: NetworkPolicy/dns; ingress: not in this folder) [DNS]',
    );
    expect(webFlows([conn('kube-system')], DENY_ALL, allow(byLabel))[0].allowed).toBe(false);
  });

  test('matchExpressions: In, NotIn (a missing key is not in), Exists, DoesNotExist', () => {
    const verdict = (expr: object) =>
      ingressVerdicts([{ namespaceSelector: {}, podSelector: { matchExpressions: [expr] } }]);
    expect(verdict({ key: 'app', operator: 'In', values: ['api', 'x'] })).toEqual([
      'other/client:false',
      'shop/api:true',
    ]);
    expect(verdict({ key: 'app', operator: 'NotIn', values: ['api'] })).toEqual([
      'other/client:true',
      'shop/api:false',
    ]);
    expect(verdict({ key: 'tier', operator: 'NotIn', values: ['x'] })).toEqual([
      'other/client:true',
      'shop/api:true',
    ]);
    expect(verdict({ key: 'app', operator: 'Exists' })).toEqual([
      'other/client:true',
      'shop/api:true',
    ]);
    expect(verdict({ key: 'app', operator: 'DoesNotExist' })).toEqual([
      'other/client:false',
      'shop/api:false',
    ]);
    expect(verdict({ key: 'app', operator: 'Bogus', values: ['api'] })).toEqual([
      'other/client:false',
      'shop/api:false',
    ]);
  });

  test('"any pod of a namespace" is allowed only by a selector that selects every pod', () => {
    const anyPod: DeclaredConnection = {
      from: { namespace: 'monitoring' },
      port: 8080,
      purpose: 'scrape',
    };
    const allow = (peer: object) =>
      policy('in', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [peer] }] });
    const ns = {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
    };
    expect(webFlows([anyPod], allow(ns))[0].allowed).toBe(true);
    expect(webFlows([anyPod], allow({ ...ns, podSelector: {} }))[0].allowed).toBe(true);
    const some = { ...ns, podSelector: { matchLabels: { app: 'prometheus' } } };
    expect(webFlows([anyPod], allow(some))[0].allowed).toBe(false);
  });
});

describe('ipBlock', () => {
  const CLUSTER = ['10.42.0.0/16', '10.43.0.0/16'];
  const outside = (port: number): DeclaredConnection => ({
    to: { cidr: '0.0.0.0/0', except: CLUSTER },
    port,
    purpose: 'internet',
  });
  const egressTo = (...blocks: { cidr: string; except?: string[] }[]) =>
    policy('out', {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: blocks.map((ipBlock) => ({ to: [{ ipBlock }] })),
    });

  test('the allowed blocks must cover every declared address, except taken out', () => {
    expect(
      webFlows([outside(443)], egressTo({ cidr: '0.0.0.0/0', except: CLUSTER }))[0].allowed,
    ).toBe(true);
    expect(
      webFlows([outside(443)], egressTo({ cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] }))[0].allowed,
    ).toBe(false);
    const [partly] = webFlows([outside(443)], egressTo({ cidr: '0.0.0.0/1' }));
    expect(flowMessage(partly)).toContain(
      'egress: DENIED, isolated by NetworkPolicy/out and no rule allows it (NetworkPolicy/out only partly)',
    );
    // Two rules together cover it.
    expect(
      webFlows([outside(443)], egressTo({ cidr: '0.0.0.0/1' }, { cidr: '128.0.0.0/1' }))[0].allowed,
    ).toBe(true);
  });

  test('a single address inside an except is denied; an IPv6 block never matches IPv4', () => {
    const api = (cidr: string): DeclaredConnection => ({
      to: { cidr },
      port: 6443,
      purpose: 'API',
    });
    const p = egressTo({ cidr: '192.0.2.0/24', except: ['192.0.2.128/25'] });
    expect(webFlows([api('192.0.2.10'), api('192.0.2.200/32')], p).map((f) => f.allowed)).toEqual([
      true,
      false,
    ]);
    expect(webFlows([api('192.0.2.10')], egressTo({ cidr: '::/0' }))[0].allowed).toBe(false);
  });

  test('ipBlocks do not prove pod-to-pod connections, and selectors never match addresses', () => {
    expect(
      webFlows([toApi()], workload('api', API), egressTo({ cidr: '0.0.0.0/0' }))[0].egress?.allowed,
    ).toBe(false);
    const selectAll = policy('out', {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [{ to: [{ namespaceSelector: {} }] }],
    });
    expect(webFlows([outside(443)], selectAll)[0].allowed).toBe(false);
    const anyPeer = policy('out', {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [{ ports: [{ port: 443 }] }],
    });
    expect(webFlows([outside(443), outside(80)], anyPeer).map((f) => f.allowed)).toEqual([
      true,
      false,
    ]);
  });
});

describe('ports', () => {
  const apiIn = (ports: object[]) =>
    policy('api-in', {
      podSelector: { matchLabels: API },
      policyTypes: ['Ingress'],
      ingress: [{ ports }],
    });
  const api = workload('api', API, undefined, NS, [
    { name: 'http', containerPort: 9090 },
    { name: 'dns', containerPort: 5353, protocol: 'UDP' },
  ]);
  const allowed = (conn: DeclaredConnection, ports: object[]) =>
    webFlows([conn], api, apiIn(ports))[0].allowed;

  test('by number, protocol TCP by default, and port ranges with endPort', () => {
    expect(allowed(toApi(9090), [{ port: 9090 }])).toBe(true);
    expect(allowed(toApi(9090), [{ port: 9090, protocol: 'UDP' }])).toBe(false);
    expect(allowed(toApi(9090, 'UDP'), [{ port: 9090 }])).toBe(false);
    expect(allowed(toApi(9090), [{ port: 9000, endPort: 9100 }])).toBe(true);
    expect(allowed(toApi(9090), [{ port: 9000, endPort: 9089 }])).toBe(false);
    expect(allowed(toApi(9999), [{ protocol: 'TCP' }])).toBe(true);
    expect(allowed(toApi(9999, 'UDP'), [{ protocol: 'TCP' }])).toBe(false);
  });

  test('trap: a named port resolves on the destination pod containers, with its protocol', () => {
    expect(allowed(toApi(9090), [{ port: 'http' }])).toBe(true);
    expect(allowed(toApi(8080), [{ port: 'http' }])).toBe(false);
    expect(allowed(toApi(5353, 'UDP'), [{ port: 'dns', protocol: 'UDP' }])).toBe(true);
    expect(allowed(toApi(5353, 'UDP'), [{ port: 'dns' }])).toBe(false);
    // The declaration may name the port too; it resolves on the destination.
    const [f] = webFlows([toApi('http')], api, apiIn([{ port: 9090 }]));
    expect(flowMessage(f)).toContain('shop/web -> shop/api TCP/9090 (http): allowed');
  });

  test('a named port in an egress rule resolves on the destination, not on the source', () => {
    const webOut = policy('web-out', {
      podSelector: { matchLabels: WEB },
      policyTypes: ['Egress'],
      egress: [{ ports: [{ port: 'http' }] }],
    });
    // web's own "http" is 8080, api's 9090: the rule allows 9090, not 8080.
    expect(webFlows([toApi(9090), toApi(8080)], api, webOut).map((f) => f.allowed)).toEqual([
      true,
      false,
    ]);
    const dns: DeclaredConnection = {
      to: { namespace: 'kube-system', pods: { 'k8s-app': 'kube-dns' } },
      port: 53,
      protocol: 'UDP',
      purpose: 'DNS',
    };
    const namedDns = policy('web-out', {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [{ ports: [{ port: 'dns', protocol: 'UDP' }] }],
    });
    // Containers of pods outside the folder are unknown: a name cannot be proven.
    expect(webFlows([dns], namedDns)[0].allowed).toBe(false);
  });
});

describe('default deny and declarations', () => {
  test('a default deny may be split into two policies; an allow-all is none', () => {
    const split = [
      policy('deny-in', { podSelector: {}, policyTypes: ['Ingress'] }),
      policy('deny-out', { podSelector: {}, policyTypes: ['Egress'] }),
    ];
    expect(check(namespace(NS), workload('web', WEB), ...split).findings).toEqual([]);
    const allowAll = policy('all', {
      podSelector: {},
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{}],
      egress: [{}],
    });
    expect(
      check(namespace(NS), workload('web', WEB), allowAll).findings.map((f) => f.message)[0],
    ).toContain('no default-deny NetworkPolicy for Ingress and Egress');
    const onlyIn = policy('deny', {
      podSelector: { matchLabels: WEB },
      policyTypes: ['Ingress', 'Egress'],
    });
    expect(check(namespace(NS), workload('web', WEB), onlyIn).findings).toHaveLength(1);
  });

  test('malformed declarations are findings of the workload', () => {
    const messages = (annotation: string, ...others: object[]) =>
      check(namespace(NS), workload('web', WEB, annotation), DENY_ALL, ...others).findings.map(
        (f) => f.message,
      );
    expect(messages('[{')[0]).toMatch(/^manifests\.sophia\.ai\/connections is not JSON: /);
    expect(messages('{}')).toEqual([
      'manifests.sophia.ai/connections must be a JSON list of connections',
    ]);
    expect(messages('[{"to":{"namespace":"x"},"from":{"namespace":"y"},"port":1}]')).toEqual([
      'manifests.sophia.ai/connections[0]: each connection needs exactly one of "to" and "from"',
    ]);
    expect(messages('[{"to":{"namespace":"shop","pods":{"app":"db"}},"port":1}]')).toEqual([
      'manifests.sophia.ai/connections[0]: no pod template in namespace "shop" has the labels app=db',
    ]);
    expect(messages('[{"to":{"namespace":"x"},"port":"metrics"}]')).toEqual([
      'manifests.sophia.ai/connections[0]: port "metrics" is not a TCP container port of x/* (name ports only of pods this folder defines)',
    ]);
    expect(messages('[{"to":{"cidr":"10.0.0.0/33"},"port":1}]')[0]).toContain('must be IP blocks');
    expect(messages('[{"to":{"cidr":"10.0.0.1"},"port":1,"protocol":"ICMP"}]')[0]).toContain(
      'protocol "ICMP"',
    );
  });
});
