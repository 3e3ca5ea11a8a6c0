// Routes added, replaced (protocol change) and removed in main and table 100, and the kernel's
// silent removals: netlink_route_changes_total exact per (table, family, protocol, action),
// netlink_routes equal to `ip route show table all` grouped the same way, the default route.

import { test, before, after } from 'node:test';
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

type Counts = Map<string, number>;
const changeKey = (table: string, family: string, protocol: string, action: string) =>
  `${routeGroupKey(table, family, protocol)},action=${action}`;

liveDescribe('routes', { timeout: 120_000 }, () => {
  let ns: Netns;
  let ex: Exporter | undefined;
  /** Expected netlink_route_changes_total, kept up to date by each step. */
  let expected: Counts;

  function exporterChanges(s: Scrape): Counts {
    const m: Counts = new Map();
    for (const x of s.series('netlink_route_changes_total', { netns: ns.name })) {
      const l = x.labels;
      m.set(changeKey(l.table!, l.family!, l.protocol!, l.action!), x.value);
    }
    return m;
  }

  function gaugeWrong(s: Scrape): string[] {
    const got: Counts = new Map();
    for (const x of s.series('netlink_routes', { netns: ns.name })) {
      got.set(routeGroupKey(x.labels.table!, x.labels.family!, x.labels.protocol!), x.value);
    }
    return diffCounts('netlink_routes', got, groupRoutes(kernelRoutes(ns))).map((d) =>
      d.replace('expected', 'kernel lists'),
    );
  }

  /** Waits until the gauge equals the kernel and the change counters equal `expected`. */
  async function settle(what: string): Promise<Scrape> {
    return ex!.waitFor(what, (s) => {
      const wrong = [...diffCounts('netlink_route_changes_total', exporterChanges(s), expected), ...gaugeWrong(s)];
      return wrong.length ? wrong.join('; ') : true;
    });
  }

  function bump(table: string, family: string, protocol: string, action: string, n = 1): void {
    const k = changeKey(table, family, protocol, action);
    expected.set(k, (expected.get(k) ?? 0) + n);
  }

  const routeId = (r: KernelRoute) =>
    `${r.family} ${r.table} ${r.type} ${r.dst} ${r.protocol} ${r.dev ?? ''} ${r.gateway ?? ''}`;

  /** Routes of `before` missing from `after`. */
  function vanished(before: KernelRoute[], after: KernelRoute[]): KernelRoute[] {
    const left = new Set(after.map(routeId));
    return before.filter((r) => !left.has(routeId(r)));
  }

  before(async () => {
    ns = createNetns('routes');
    ns.addVeth('rt0', 'rt1', { up: true });
    ns.ip('addr', 'add', '10.30.0.1/24', 'dev', 'rt0');
    ns.ip('addr', 'add', '2001:db8:30::1/64', 'dev', 'rt0', 'nodad');
    ex = await startExporter({ netns: [ns.name] });
  });

  after(async () => {
    await ex?.stop();
    ns?.delete();
  });

  test('at start: netlink_routes equals ip route show table all, grouped', async () => {
    const s = await ex!.scrape();
    expected = exporterChanges(s);
    // Nothing changed since the dump.
    for (const [k, v] of expected) assert.equal(v, 0, `netlink_route_changes_total{${k}} = ${v} right after start`);
    expected = new Map();
    await settle('routes gauge equal to the kernel at start');
  });

  test('added in main and table 100 (IPv4, IPv6, a default route, a blackhole)', async () => {
    ns.batch([
      'route add 10.31.0.0/24 via 10.30.0.2 proto static',
      'route add 10.32.0.0/24 via 10.30.0.2 proto static',
      'route add default via 10.30.0.254 proto static',
      'route add 10.31.0.0/24 via 10.30.0.2 table 100 proto static',
      'route add blackhole 10.33.0.0/24 table 100',
      'route add 2001:db8:31::/64 via 2001:db8:30::2 proto static',
      'route add 2001:db8:32::/64 dev rt0 table 100 proto static',
    ]);
    bump('main', 'inet', 'static', 'added', 3);
    bump('100', 'inet', 'static', 'added');
    bump('100', 'inet', 'boot', 'added');
    bump('main', 'inet6', 'static', 'added');
    bump('100', 'inet6', 'static', 'added');
    ns.ip('-6', 'route', 'add', 'default', 'via', '2001:db8:30::fe', 'dev', 'rt0', 'proto', 'static');
    bump('main', 'inet6', 'static', 'added');
    const s = await settle('route counters and gauge after the additions');
    const dflt6 = {
      netns: ns.name,
      table: 'main',
      family: 'inet6',
      interface: 'rt0',
      gateway: '2001:db8:30::fe',
      protocol: 'static',
    };
    assert.equal(
      s.value('netlink_default_route_info', dflt6),
      1,
      s.show('netlink_default_route_info', { netns: ns.name }),
    );
    assert.equal(
      s.value('netlink_default_route_changes_total', { netns: ns.name, table: 'main', family: 'inet6' }),
      1,
      s.show('netlink_default_route_changes_total', { netns: ns.name }),
    );
    const dflt = {
      netns: ns.name,
      table: 'main',
      family: 'inet',
      interface: 'rt0',
      gateway: '10.30.0.254',
      protocol: 'static',
    };
    assert.equal(
      s.value('netlink_default_route_info', dflt),
      1,
      s.show('netlink_default_route_info', { netns: ns.name }),
    );
    assert.equal(
      s.series('netlink_default_route_info', { netns: ns.name }).length,
      2,
      s.show('netlink_default_route_info', { netns: ns.name }),
    );
    assert.equal(
      s.value('netlink_default_route_changes_total', { netns: ns.name, table: 'main', family: 'inet' }),
      1,
      s.show('netlink_default_route_changes_total', { netns: ns.name }),
    );
  });

  test('replaced with another protocol (static -> bird): replaced counted, gauges move', async () => {
    ns.batch([
      'route replace 10.31.0.0/24 via 10.30.0.2 proto bird',
      'route replace 10.31.0.0/24 via 10.30.0.2 table 100 proto bird',
      'route replace 2001:db8:31::/64 via 2001:db8:30::2 proto bird',
    ]);
    const k = kernelRoutes(ns);
    assert.equal(
      k
        .filter((r) => r.dst === '10.31.0.0/24')
        .map((r) => `${r.table}/${r.protocol}`)
        .sort()
        .join(','),
      '100/bird,main/bird',
    );
    bump('main', 'inet', 'bird', 'replaced');
    bump('100', 'inet', 'bird', 'replaced');
    bump('main', 'inet6', 'bird', 'replaced');
    await settle('route counters and gauge after the replacements');
  });

  test('removed', async () => {
    ns.batch(['route del 10.32.0.0/24', 'route del 2001:db8:32::/64 table 100']);
    bump('main', 'inet', 'static', 'removed');
    bump('100', 'inet6', 'static', 'removed');
    await settle('route counters and gauge after the removals');
  });

  test('replaced onto another device: the route follows it (per-route state)', async () => {
    const beforeAddr = kernelRoutes(ns);
    ns.ip('addr', 'add', '10.39.0.1/24', 'dev', 'rt1');
    ns.ip('route', 'add', '10.38.0.0/24', 'via', '10.30.0.2', 'dev', 'rt0', 'proto', 'static');
    bump('main', 'inet', 'static', 'added');
    // The connected routes of 10.39.0.1/24 on rt1 (kernel-added, one notification each).
    for (const r of vanished(kernelRoutes(ns), beforeAddr))
      if (r.dst !== '10.38.0.0/24') bump(r.table, r.family, r.protocol, 'added');
    await settle('10.38.0.0/24 via rt0');
    ns.ip('route', 'replace', '10.38.0.0/24', 'via', '10.39.0.2', 'dev', 'rt1', 'proto', 'static');
    assert.equal(kernelRoutes(ns).find((r) => r.dst === '10.38.0.0/24')?.dev, 'rt1');
    bump('main', 'inet', 'static', 'replaced');
    await settle('10.38.0.0/24 replaced onto rt1');
    // The next test takes rt0 down: 10.38.0.0/24 is on rt1 now and must not be flushed.
  });

  test('link admin down: IPv4 routes dropped without RTM_DELROUTE are counted as flushed', async () => {
    const beforeDown = kernelRoutes(ns);
    ns.ip('link', 'set', 'dev', 'rt0', 'down');
    const afterDown = kernelRoutes(ns);
    const gone = vanished(beforeDown, afterDown);
    const goneV4 = gone.filter((r) => r.family === 'inet');
    const goneV6 = gone.filter((r) => r.family === 'inet6');
    // Test setup: the default, both via routes and the connected routes went; the blackhole stayed.
    assert.ok(
      goneV4.some((r) => r.dst === 'default'),
      `kernel dropped: ${gone.map(routeId).join('; ')}`,
    );
    assert.ok(
      afterDown.some((r) => r.dst === '10.33.0.0/24'),
      'the blackhole route does not use rt0 and stays',
    );
    assert.ok(
      afterDown.some((r) => r.dst === '10.38.0.0/24'),
      'the route replaced onto rt1 stays (rt1 only lost its carrier)',
    );
    // The kernel sends no RTM_DELROUTE for IPv4 routes on admin down; IPv6 routes get one each.
    for (const r of goneV4) bump(r.table, 'inet', r.protocol, 'flushed');
    for (const r of goneV6) bump(r.table, 'inet6', r.protocol, 'removed');
    const s = await settle(`counters after rt0 down (kernel dropped ${gone.length}: ${gone.map(routeId).join('; ')})`);
    assert.equal(
      s.series('netlink_default_route_info', { netns: ns.name }).length,
      0,
      s.show('netlink_default_route_info', { netns: ns.name }),
    );
  });

  test('link up again: the connected IPv4 routes come back, the gauge follows', async () => {
    const beforeUp = kernelRoutes(ns);
    ns.ip('link', 'set', 'dev', 'rt0', 'up');
    const afterUp = kernelRoutes(ns);
    const back = vanished(afterUp, beforeUp); // new ones
    for (const r of back) bump(r.table, r.family, r.protocol, 'added');
    await settle(`counters after rt0 up (kernel added ${back.map(routeId).join('; ')})`);
  });

  test('an address removed while the device keeps another: a route preferring it as source goes once (removed or flushed), gauges exact', async () => {
    ns.ip('addr', 'add', '10.31.0.1/24', 'dev', 'rt0');
    const kernelMade = vanished(kernelRoutes(ns), []).filter(
      (r) => r.family === 'inet' && r.protocol === 'kernel' && (r.dst ?? '').startsWith('10.31.'),
    );
    for (const r of kernelMade) bump(r.table, 'inet', 'kernel', 'added');
    ns.ip('route', 'add', '198.51.100.0/24', 'dev', 'rt0', 'src', '10.31.0.1', 'proto', 'static');
    bump('main', 'inet', 'static', 'added');
    await settle('10.31.0.1 and a route preferring it added');
    const beforeDel = kernelRoutes(ns);
    ns.ip('addr', 'del', '10.31.0.1/24', 'dev', 'rt0');
    const gone = vanished(beforeDel, kernelRoutes(ns)).filter((r) => r.family === 'inet');
    assert.ok(
      gone.some((r) => r.dst === '198.51.100.0/24'),
      `kernel dropped: ${gone.map(routeId).join('; ')}`,
    );
    for (const r of gone) if (r.protocol === 'kernel') bump(r.table, 'inet', 'kernel', 'removed');
    // Whether this kernel notifies the static route's removal decides removed or flushed; either
    // way it is counted once, and the gauges equal the kernel's.
    await ex!.waitFor('the static route counted gone exactly once', (sc) => {
      const got = exporterChanges(sc);
      const once =
        (got.get(changeKey('main', 'inet', 'static', 'removed')) ?? 0) +
        (got.get(changeKey('main', 'inet', 'static', 'flushed')) ?? 0);
      const before =
        (expected.get(changeKey('main', 'inet', 'static', 'removed')) ?? 0) +
        (expected.get(changeKey('main', 'inet', 'static', 'flushed')) ?? 0);
      const wrong = gaugeWrong(sc);
      if (once !== before + 1) wrong.push(`static removed+flushed ${once}, expected ${before + 1}`);
      return wrong.length ? wrong.join('; ') : true;
    });
    const got = exporterChanges(await ex!.scrape());
    for (const action of ['removed', 'flushed'])
      expected.set(
        changeKey('main', 'inet', 'static', action),
        got.get(changeKey('main', 'inet', 'static', action)) ?? 0,
      );
    await settle('counters after the address went');
  });

  test('last IPv4 address removed: routes via it are flushed silently', async () => {
    ns.ip('route', 'add', '10.34.0.0/24', 'via', '10.30.0.2', 'proto', 'static');
    bump('main', 'inet', 'static', 'added');
    await settle('route 10.34.0.0/24 added');
    const beforeDel = kernelRoutes(ns);
    ns.ip('addr', 'del', '10.30.0.1/24', 'dev', 'rt0');
    const gone = vanished(beforeDel, kernelRoutes(ns)).filter((r) => r.family === 'inet');
    assert.ok(
      gone.some((r) => r.dst === '10.34.0.0/24'),
      `kernel dropped: ${gone.map(routeId).join('; ')}`,
    );
    // The routes of the address itself (prefix, local, broadcast: protocol kernel) are deleted
    // with RTM_DELROUTE; the others that used it go silently.
    for (const r of gone) bump(r.table, 'inet', r.protocol, r.protocol === 'kernel' ? 'removed' : 'flushed');
    await settle(`counters after the last IPv4 address went (kernel dropped ${gone.map(routeId).join('; ')})`);
  });

  test('multipath and append: counted as ip route show lists them', async () => {
    // Addresses back (their connected routes are kernel-added, one notification each).
    const beforeAddr = kernelRoutes(ns);
    ns.batch(['addr add 10.30.0.1/24 dev rt0', 'addr add 2001:db8:30::1/64 dev rt0 nodad']);
    // The kernel installs an IPv6 address's local route from a work queue: wait for it before
    // taking the kernel's list as what the exporter must have counted (a loaded machine was late).
    await poll('the local route of 2001:db8:30::1 in the kernel', () =>
      kernelRoutes(ns).some((r) => r.family === 'inet6' && r.table === 'local' && r.dst === '2001:db8:30::1')
        ? true
        : 'not yet',
    );
    for (const r of vanished(kernelRoutes(ns), beforeAddr)) bump(r.table, r.family, r.protocol, 'added');
    await settle('connected routes of the re-added addresses');

    ns.batch([
      // IPv4: a multipath route is one route; two routes appended side by side are two.
      'route add 10.36.0.0/24 proto static nexthop via 10.30.0.2 nexthop via 10.30.0.3',
      'route append 10.37.0.0/24 via 10.30.0.2 proto static',
      'route append 10.37.0.0/24 via 10.30.0.3 proto static',
      // IPv6: an appended nexthop joins the route as a sibling, and ip lists one multipath route.
      'route add 2001:db8:36::/64 proto static nexthop via 2001:db8:30::2 nexthop via 2001:db8:30::3',
      'route append 2001:db8:37::/64 via 2001:db8:30::2 proto static',
      'route append 2001:db8:37::/64 via 2001:db8:30::3 proto static',
    ]);
    const listed = kernelRoutes(ns);
    assert.equal(listed.filter((r) => r.dst === '10.37.0.0/24').length, 2, 'kernel: two IPv4 routes side by side');
    assert.equal(listed.filter((r) => r.dst === '2001:db8:37::/64').length, 1, 'kernel: one IPv6 multipath route');
    // One RTM_NEWROUTE with NLM_F_CREATE per command.
    bump('main', 'inet', 'static', 'added', 3);
    bump('main', 'inet6', 'static', 'added', 3);
    await settle('multipath and appended routes');

    // Removing one nexthop of the IPv6 route leaves the route (one RTM_DELROUTE); removing one
    // of the two IPv4 routes leaves the other.
    ns.batch(['route del 2001:db8:37::/64 via 2001:db8:30::3', 'route del 10.37.0.0/24 via 10.30.0.3']);
    assert.equal(
      kernelRoutes(ns).filter((r) => r.dst === '2001:db8:37::/64').length,
      1,
      'kernel: the IPv6 route keeps one nexthop',
    );
    bump('main', 'inet6', 'static', 'removed');
    bump('main', 'inet', 'static', 'removed');
    await settle('one nexthop of the IPv6 route and one of the IPv4 twins removed');
  });
});

// IPv4 multipath routes over two devices, which the kernel drops without a notification when
// all their nexthops are dead (each device admin down, or without its last IPv4 address), or
// at once when one of their devices is deleted; carrier loss only flags them linkdown. Each
// case starts from fresh devices; netlink_routes must equal `ip route show table all` and the
// flushed counter must count the route exactly when the kernel dropped it (the gap used to
// stay until an overrun's resync).
liveDescribe('multipath routes over several devices: repaired exactly', { timeout: 120_000 }, () => {
  let ns: Netns;
  let ex: Exporter | undefined;
  let flushed = 0;
  let round = 0;
  const MP = '10.90.0.0/16';

  function gaugeWrong(s: Scrape): string[] {
    const got: Counts = new Map();
    for (const x of s.series('netlink_routes', { netns: ns.name }))
      got.set(routeGroupKey(x.labels.table!, x.labels.family!, x.labels.protocol!), x.value);
    return diffCounts('netlink_routes', got, groupRoutes(kernelRoutes(ns))).map((d) =>
      d.replace('expected', 'kernel lists'),
    );
  }

  const staticFlushed = (s: Scrape): number =>
    s.value('netlink_route_changes_total', {
      netns: ns.name,
      table: 'main',
      family: 'inet',
      protocol: 'static',
      action: 'flushed',
    }) ?? 0;
  const hasMultipath = (): boolean => kernelRoutes(ns).some((r) => r.family === 'inet' && r.dst === MP);

  /** Fresh devices ma/mb (with addresses, peers up) and the multipath route over them. */
  async function setup(): Promise<[string, string]> {
    round++;
    const a = `ma${round}`;
    const b = `mb${round}`;
    ns.addVeth(a, `pa${round}`, { up: true });
    ns.addVeth(b, `pb${round}`, { up: true });
    ns.batch([
      `addr add 10.91.${round}.1/24 dev ${a}`,
      `addr add 10.92.${round}.1/24 dev ${b}`,
      `route add ${MP} proto static nexthop via 10.91.${round}.2 dev ${a} nexthop via 10.92.${round}.2 dev ${b}`,
    ]);
    assert.ok(hasMultipath(), 'test setup: the multipath route exists');
    await ex!.waitFor('the multipath route counted', (s) => {
      const wrong = gaugeWrong(s);
      return wrong.length ? wrong.join('; ') : true;
    });
    return [a, b];
  }

  /** Runs the commands; the kernel keeps or drops the route as `kernelDrops` says; the exporter must agree exactly. */
  async function step(what: string, commands: string[], kernelDrops: boolean): Promise<void> {
    ns.batch(commands);
    assert.equal(
      hasMultipath(),
      !kernelDrops,
      `kernel: after ${what}, the multipath route is ${kernelDrops ? 'gone' : 'kept'} (${JSON.stringify(kernelRoutes(ns).filter((r) => r.dst === MP))})`,
    );
    if (kernelDrops) flushed++;
    const s = await ex!.waitFor(`after ${what}: gauges equal the kernel, static flushed ${flushed}`, (sc) => {
      const wrong = gaugeWrong(sc);
      if (staticFlushed(sc) !== flushed) wrong.push(`static flushed ${staticFlushed(sc)}, expected ${flushed}`);
      return wrong.length ? wrong.join('; ') : true;
    });
    // (At 0 the series may be absent or read 0, depending on the gauge's zero rule; both are 0 here.)
    assert.equal(
      s.value('netlink_routes', { netns: ns.name, table: 'main', family: 'inet', protocol: 'static' }) ?? 0,
      kernelDrops ? 0 : 1,
    );
  }

  before(async () => {
    ns = createNetns('mpath');
    ex = await startExporter({ netns: [ns.name] });
  });

  after(async () => {
    await ex?.stop();
    ns?.delete();
  });

  test('one device down, then the other deleted: the route goes (flushed once)', async () => {
    const [a, b] = await setup();
    await step(`${a} down`, [`link set ${a} down`], false);
    await step(`${b} deleted`, [`link del ${b}`], true);
  });

  test('one device down, then the other down too: the route goes', async () => {
    const [a, b] = await setup();
    await step(`${a} down`, [`link set ${a} down`], false);
    await step(`${b} down`, [`link set ${b} down`], true);
  });

  test('one device deleted while the other is up: the kernel drops the whole route', async () => {
    const [, b] = await setup();
    await step(`${b} deleted`, [`link del ${b}`], true);
  });

  test('both devices lose their carrier: the route stays (linkdown), nothing flushed', async () => {
    round++;
    const [a, b] = await setup();
    await step(`${a} and ${b} lose carrier`, [`link set pa${round} down`, `link set pb${round} down`], false);
    await step(`${a} and ${b} deleted`, [`link del ${a}`, `link del ${b}`], true);
  });

  test('a device down and up again (its nexthop alive again), then the other down: the route stays', async () => {
    const [a, b] = await setup();
    await step(`${a} down and up`, [`link set ${a} down`, `link set ${a} up`], false);
    await step(`${b} down`, [`link set ${b} down`], false);
    await step(`${a} deleted`, [`link del ${a}`], true);
  });

  test('an exporter started while one nexthop is dead learns it from the dump (RTNH_F_DEAD): the other down, the route goes', async () => {
    const [a, b] = await setup();
    await step(`${a} down`, [`link set ${a} down`], false);
    const late = await startExporter({ netns: [ns.name] });
    try {
      const f0 = staticFlushed(await late.scrape());
      ns.ip('link', 'set', b, 'down');
      assert.equal(hasMultipath(), false, 'kernel: the route is gone');
      flushed++;
      await late.waitFor('the late exporter counts the route flushed', (sc) => {
        const wrong = gaugeWrong(sc);
        if (staticFlushed(sc) - f0 !== 1) wrong.push(`static flushed delta ${staticFlushed(sc) - f0}, expected 1`);
        return wrong.length ? wrong.join('; ') : true;
      });
      await ex!.waitFor('the first exporter too', (sc) =>
        staticFlushed(sc) === flushed && gaugeWrong(sc).length === 0
          ? true
          : `static flushed ${staticFlushed(sc)}; ${gaugeWrong(sc).join('; ')}`,
      );
    } finally {
      await late.stop();
    }
  });

  test('a device loses its last IPv4 address (its nexthop dies), then the other goes down: the route goes', async () => {
    const [a, b] = await setup();
    await step(`${a}'s last address removed`, [`addr flush dev ${a}`], false);
    await step(`${b} down`, [`link set ${b} down`], true);
  });
});
