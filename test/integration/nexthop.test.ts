// Routes installed as FRR installs them: nexthop objects (`ip nexthop add id N ...`), groups of
// them, and routes that name one (`nhid N`, RTA_NH_ID and no RTA_OIF). When a nexthop object
// goes, the kernel drops the IPv4 routes that use it WITHOUT RTM_DELROUTE (counted as
// action="flushed"); IPv6 ones get an RTM_DELROUTE each ("removed"). Nexthop objects also go,
// silently, with their device's carrier. netlink_routes is compared with the kernel every time.
//
// Two suites, each with its own namespace and exporter, so that one cannot hide the other. In
// each, the steps build on each other: once one fails, the model is off from there and the
// later steps are skipped (the first failure is the one to read).

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  createNetns,
  groupRoutes,
  kernelRoutes,
  KernelRoute,
  liveDescribe,
  Netns,
  routeGroupKey,
  diffCounts,
} from '../helpers/netns';
import { Exporter, poll, Scrape, startExporter } from '../helpers/exporter';
import { sequentialSteps } from '../helpers/steps';

type Counts = Map<string, number>;
const changeKey = (table: string, family: string, protocol: string, action: string) =>
  `${routeGroupKey(table, family, protocol)},action=${action}`;
/** Routes per nexthop object and family. */
const PER_NH = 8;
const BGP4 = { table: 'main', family: 'inet', protocol: 'bgp' };
const BGP6 = { table: 'main', family: 'inet6', protocol: 'bgp' };

const routeId = (r: KernelRoute) => `${r.family} ${r.table} ${r.type} ${r.dst} ${r.protocol} ${r.dev ?? ''}`;
/** Routes of `beforeList` missing from `afterList`. */
function vanished(beforeList: KernelRoute[], afterList: KernelRoute[]): KernelRoute[] {
  const left = new Set(afterList.map(routeId));
  return beforeList.filter((r) => !left.has(routeId(r)));
}

/**
 * FRR-style on DEV: objects 10, 11 (IPv4) and 16, 17 (IPv6), groups 20 = 10/11 and 26 = 16/17,
 * PER_NH routes through each: 10.NET.(16|32|48 + i).0/24 and 2001:db8:NET:(16|32|48 + i)::/64.
 */
function install(dev: string, net: number): string[] {
  const lines = [
    `nexthop add id 10 via 10.40.0.2 dev ${dev}`,
    `nexthop add id 11 via 10.40.0.3 dev ${dev}`,
    'nexthop add id 20 group 10/11',
    `nexthop add id 16 via 2001:db8:40::2 dev ${dev}`,
    `nexthop add id 17 via 2001:db8:40::3 dev ${dev}`,
    'nexthop add id 26 group 16/17',
  ];
  for (const [nh4, nh6, third] of [
    [10, 16, 1],
    [11, 17, 2],
    [20, 26, 3],
  ] as const) {
    for (let i = 0; i < PER_NH; i++) {
      lines.push(`route add 10.${net}.${third * 16 + i}.0/24 nhid ${nh4} proto bgp`);
      lines.push(`route add 2001:db8:${net}:${third * 16 + i}::/64 nhid ${nh6} proto bgp`);
    }
  }
  return lines;
}

/** One namespace (veth nh0/nh1, addresses on nh0) watched by one exporter, and the bookkeeping. */
function nexthopSuite(suite: string): {
  ns: () => Netns;
  step: (name: string, fn: () => Promise<void>) => void;
  settle: (what: string) => Promise<Scrape>;
  bump: (r: { table: string; family: string; protocol: string }, action: string, n?: number) => void;
  kernelNexthops: () => number[];
  nh0Up: () => Promise<void>;
} {
  let ns: Netns;
  let ex: Exporter | undefined;
  const step = sequentialSteps();
  /** netlink_route_changes_total{action!="replaced"} expected, from the start. */
  const expected: Counts = new Map();

  function exporterChanges(s: Scrape): Counts {
    const m: Counts = new Map();
    for (const x of s.series('netlink_route_changes_total', { netns: ns.name })) {
      const l = x.labels;
      // Changing a nexthop object may re-announce the routes that use it (RTM_NEWROUTE with
      // NLM_F_REPLACE, nexthop_compat_mode): how often is the kernel's business, not counted here.
      if (l.action === 'replaced') continue;
      m.set(changeKey(l.table!, l.family!, l.protocol!, l.action!), x.value);
    }
    return m;
  }

  function gaugeWrong(s: Scrape): string[] {
    const got: Counts = new Map();
    for (const x of s.series('netlink_routes', { netns: ns.name }))
      got.set(routeGroupKey(x.labels.table!, x.labels.family!, x.labels.protocol!), x.value);
    return diffCounts('netlink_routes', got, groupRoutes(kernelRoutes(ns))).map((d) =>
      d.replace('expected', 'kernel lists'),
    );
  }

  before(async () => {
    ns = createNetns(suite);
    ns.addVeth('nh0', 'nh1', { up: true });
    ns.ip('addr', 'add', '10.40.0.1/24', 'dev', 'nh0');
    ns.ip('addr', 'add', '2001:db8:40::1/64', 'dev', 'nh0', 'nodad');
    await poll('nh0 operstate UP', () => (ns.link('nh0').operstate === 'UP' ? true : ns.link('nh0').operstate));
    ex = await startExporter({ netns: [ns.name] });
  });

  after(async () => {
    await ex?.stop();
    ns?.delete();
  });

  return {
    ns: () => ns,
    step,
    settle(what) {
      return ex!.waitFor(what, (s) => {
        const wrong = [...diffCounts('netlink_route_changes_total', exporterChanges(s), expected), ...gaugeWrong(s)];
        return wrong.length ? wrong.join('; ') : true;
      });
    },
    bump(r, action, n = 1) {
      const k = changeKey(r.table, r.family, r.protocol, action);
      expected.set(k, (expected.get(k) ?? 0) + n);
    },
    kernelNexthops: () =>
      ns
        .ipJson<Array<{ id: number }>>('nexthop', 'show')
        .map((n) => n.id)
        .sort((a, b) => a - b),
    nh0Up: () => poll('nh0 operstate UP', () => (ns.link('nh0').operstate === 'UP' ? true : ns.link('nh0').operstate)),
  };
}

liveDescribe('nexthop objects: deleted, lost with the carrier, flushed with admin down', { timeout: 120_000 }, () => {
  const { ns, step, settle, bump, kernelNexthops, nh0Up } = nexthopSuite('nexthop');

  step('routes through nexthop objects installed: counted added, gauge equal to the kernel', async () => {
    await settle('gauge equal to the kernel at start');
    ns().batch(install('nh0', 41));
    const routes = kernelRoutes(ns()).filter((r) => r.protocol === 'bgp');
    assert.equal(routes.length, 6 * PER_NH, `kernel: ${routes.length} bgp routes (test setup)`);
    for (const r of routes) bump(r, 'added');
    await settle('routes through nexthop objects added');
  });

  step(
    'ip nexthop del: its IPv4 routes go without RTM_DELROUTE (flushed), IPv6 ones with (removed); the groups keep theirs',
    async () => {
      const beforeDel = kernelRoutes(ns());
      ns().batch(['nexthop del id 10', 'nexthop del id 16']);
      const gone = vanished(beforeDel, kernelRoutes(ns()));
      assert.deepEqual(kernelNexthops(), [11, 17, 20, 26], 'kernel: the groups stay with one member');
      assert.equal(gone.length, 2 * PER_NH, `kernel dropped ${gone.map(routeId).join('; ')}`);
      assert.ok(
        gone.every((r) => /^(10\.41\.|2001:db8:41:)(1[6-9]|2[0-3])[.:]/.test(r.dst)),
        `only the routes via 10 and 16 went: ${gone.map(routeId).join('; ')}`,
      );
      for (const r of gone) bump(r, r.family === 'inet' ? 'flushed' : 'removed');
      await settle(`after deleting nexthops 10 and 16 (kernel dropped ${gone.length} routes)`);
    },
  );

  step(
    'carrier loss on the nexthop device (peer down): the kernel deletes the nexthop objects; IPv4 routes through them vanish silently',
    async () => {
      const beforeDown = kernelRoutes(ns());
      ns().ip('link', 'set', 'dev', 'nh1', 'down');
      await poll('nh0 loses its carrier and its nexthop objects', () => {
        const nhs = kernelNexthops();
        const op = ns().link('nh0').operstate;
        return nhs.length === 0 && op !== 'UP' ? true : `nh0 operstate ${op}, nexthops [${nhs.join(',')}]`;
      });
      const afterDown = kernelRoutes(ns());
      const gone = vanished(beforeDown, afterDown);
      assert.equal(
        gone.filter((r) => r.protocol === 'bgp').length,
        4 * PER_NH,
        `kernel dropped ${gone.map(routeId).join('; ')}`,
      );
      assert.ok(
        afterDown.some((r) => r.dst === '10.40.0.0/24'),
        'plain routes stay (linkdown) on carrier loss',
      );
      // nh1's own IPv6 multicast route goes with its admin down (notified); on nh0 only the routes
      // through nexthop objects go.
      assert.ok(
        !gone.some((r) => r.protocol !== 'bgp' && r.dev !== 'nh1'),
        `only routes through nexthop objects went: ${gone.map(routeId).join('; ')}`,
      );
      for (const r of gone) bump(r, r.family === 'inet' ? 'flushed' : 'removed');
      await settle(`after nh0 lost its carrier (kernel dropped ${gone.length} routes)`);
    },
  );

  step(
    'carrier back, nexthops and routes re-installed, then admin down: every IPv4 route through them flushed',
    async () => {
      const beforeInstall = kernelRoutes(ns());
      ns().ip('link', 'set', 'dev', 'nh1', 'up');
      await nh0Up();
      ns().batch(install('nh0', 51));
      for (const r of vanished(kernelRoutes(ns()), beforeInstall)) bump(r, 'added');
      await settle('routes re-installed');

      const beforeDown = kernelRoutes(ns());
      ns().ip('link', 'set', 'dev', 'nh0', 'down');
      assert.deepEqual(kernelNexthops(), [], 'kernel: nexthop objects gone with the device');
      const gone = vanished(beforeDown, kernelRoutes(ns()));
      assert.equal(
        gone.filter((r) => r.protocol === 'bgp').length,
        6 * PER_NH,
        `kernel dropped ${gone.map(routeId).join('; ')}`,
      );
      // IPv4 routes on admin down go silently (the connected ones too); IPv6 ones are notified.
      for (const r of gone) bump(r, r.family === 'inet' ? 'flushed' : 'removed');
      await settle(`after nh0 admin down (kernel dropped ${gone.length} routes)`);
    },
  );
});

liveDescribe('nexthop objects that change under their routes', { timeout: 120_000 }, () => {
  const { ns, step, settle, bump, kernelNexthops } = nexthopSuite('nhchange');

  step('routes through nexthop objects installed', async () => {
    ns().batch(install('nh0', 42));
    for (const r of kernelRoutes(ns()).filter((x) => x.protocol === 'bgp')) bump(r, 'added');
    await settle('routes through nexthop objects added');
  });

  step('nexthop object replaced (new gateway), then a route through it deleted: removed, gauge exact', async () => {
    ns().batch(['nexthop replace id 11 via 10.40.0.4 dev nh0', 'nexthop replace id 17 via 2001:db8:40::4 dev nh0']);
    assert.equal(
      kernelRoutes(ns()).find((r) => r.dst === '10.42.32.0/24')?.gateway,
      '10.40.0.4',
      'kernel: the route follows its nexthop object',
    );
    await settle('after the nexthop replacements');
    ns().batch(['route del 10.42.32.0/24', 'route del 2001:db8:42:32::/64']);
    bump(BGP4, 'removed');
    bump(BGP6, 'removed');
    await settle('a route through each replaced nexthop object deleted');
  });

  step('a group loses a member; routes through it then deleted with ip route del: removed, gauge exact', async () => {
    const beforeDel = kernelRoutes(ns());
    ns().batch(['nexthop del id 10', 'nexthop del id 16']);
    assert.deepEqual(kernelNexthops(), [11, 17, 20, 26], 'kernel: the groups stay with one member');
    for (const r of vanished(beforeDel, kernelRoutes(ns()))) bump(r, r.family === 'inet' ? 'flushed' : 'removed');
    await settle('after deleting nexthops 10 and 16');
    // The kernel sent RTM_NEWNEXTHOP for the shrunk groups and no route notification; the
    // routes' RTM_DELROUTE now lists the remaining member only.
    ns().batch([
      'route del 10.42.48.0/24',
      'route del 10.42.49.0/24',
      'route del 2001:db8:42:48::/64',
      'route del 2001:db8:42:49::/64',
    ]);
    bump(BGP4, 'removed', 2);
    bump(BGP6, 'removed', 2);
    await settle('two IPv4 and two IPv6 routes through the shrunk groups deleted');
  });
});
