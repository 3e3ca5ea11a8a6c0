// Route events show the whole route, on a live kernel in a private namespace: a multipath route
// (both families) prints every nexthop as `ip route` does, on its first nexthop's device, and so
// does its removal; a route with metric, preferred source and MTU prints them; a route through
// a nexthop object prints its nhid; a scope that is not the default for the route's type is
// printed, a default one is not. Each line is checked against the change that caused it.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createNetns, liveDescribe, Netns } from '../helpers/netns';
import { Exporter, poll, startExporter } from '../helpers/exporter';
import { formatEventLine } from '../../src/events/format';
import type { DomainEvent } from '../../src/state/events';
import { sequentialSteps } from '../helpers/steps';

liveDescribe('route events show the whole route', { timeout: 120_000 }, () => {
  let ns: Netns;
  let ex: Exporter | undefined;
  const step = sequentialSteps();
  let if0 = 0;
  let if2 = 0;

  async function routeEvents(): Promise<DomainEvent[]> {
    const res = await ex!.get(`/api/v1/events?kind=route&netns=${encodeURIComponent(ns.name)}&limit=1000`);
    assert.equal(res.status, 200, res.body.slice(0, 300));
    return (JSON.parse(res.body) as { events: DomainEvent[] }).events;
  }

  /** The route events of `destination` with `action`, as human lines without time and netns. */
  async function lines(destination: string, action: string): Promise<string[]> {
    return (await routeEvents())
      .filter((e) => e.kind === 'route' && e.destination === destination && e.action === action)
      .map((e) => formatEventLine({ ...e, time: 'T', netns: '' }).replace(/^T /, ''));
  }

  async function expectLine(destination: string, action: string, expected: string): Promise<DomainEvent> {
    await poll(`route ${action} ${destination}`, async () => {
      const got = await lines(destination, action);
      return got.length > 0 ? true : 'no event yet';
    });
    assert.deepEqual(await lines(destination, action), [expected]);
    const e = (await routeEvents()).find(
      (x) => x.kind === 'route' && x.destination === destination && x.action === action,
    );
    assert.ok(e);
    return e;
  }

  before(async () => {
    ns = createNetns('rtext');
    ns.ip('link', 'set', 'dev', 'lo', 'up');
    ns.addVeth('rx0', 'rx1', { up: true });
    ns.addVeth('rx2', 'rx3', { up: true });
    ns.ip('addr', 'add', '10.70.0.1/24', 'dev', 'rx0');
    ns.ip('addr', 'add', '10.70.1.1/24', 'dev', 'rx2');
    ns.ip('-6', 'addr', 'add', '2001:db8:70::1/64', 'dev', 'rx0', 'nodad');
    ns.ip('-6', 'addr', 'add', '2001:db8:71::1/64', 'dev', 'rx2', 'nodad');
    if0 = ns.ifindex('rx0');
    if2 = ns.ifindex('rx2');
    await poll('rx0 and rx2 up', () =>
      ns.link('rx0').operstate === 'UP' && ns.link('rx2').operstate === 'UP' ? true : 'not yet',
    );
    ex = await startExporter({ netns: [ns.name] });
  });

  after(async () => {
    await ex?.stop();
    ns?.delete();
  });

  step('an IPv4 multipath route: every nexthop, on the first nexthop’s device; its removal too', async () => {
    ns.ip(
      'route',
      'add',
      '10.88.0.0/16',
      'metric',
      '20',
      'nexthop',
      'via',
      '10.70.0.2',
      'dev',
      'rx0',
      'weight',
      '1',
      'nexthop',
      'via',
      '10.70.1.2',
      'dev',
      'rx2',
      'weight',
      '3',
    );
    const text =
      `inet table=main protocol=boot type=unicast 10.88.0.0/16 metric 20` +
      ` nexthop via 10.70.0.2 dev rx0 weight 1 nexthop via 10.70.1.2 dev rx2 weight 3`;
    const e = await expectLine('10.88.0.0/16', 'added', `route added rx0 ifindex=${if0} ${text}`);
    assert.ok(e.kind === 'route');
    assert.deepEqual(e.nexthops, [
      { gateway: '10.70.0.2', interface: 'rx0', ifindex: if0, weight: 1 },
      { gateway: '10.70.1.2', interface: 'rx2', ifindex: if2, weight: 3 },
    ]);
    ns.ip('route', 'del', '10.88.0.0/16');
    await expectLine('10.88.0.0/16', 'removed', `route removed rx0 ifindex=${if0} ${text}`);
  });

  step('an IPv6 multipath route: every nexthop', async () => {
    ns.ip(
      '-6',
      'route',
      'add',
      '2001:db8:88::/64',
      'nexthop',
      'via',
      '2001:db8:70::2',
      'dev',
      'rx0',
      'nexthop',
      'via',
      '2001:db8:71::2',
      'dev',
      'rx2',
    );
    await expectLine(
      '2001:db8:88::/64',
      'added',
      `route added rx0 ifindex=${if0} inet6 table=main protocol=boot type=unicast 2001:db8:88::/64 metric 1024` +
        ` nexthop via 2001:db8:70::2 dev rx0 weight 1 nexthop via 2001:db8:71::2 dev rx2 weight 1`,
    );
  });

  step('metric, preferred source and MTU; a scope that is the default for the type is not printed', async () => {
    ns.ip(
      'route',
      'add',
      '10.89.0.0/24',
      'via',
      '10.70.0.2',
      'dev',
      'rx0',
      'metric',
      '100',
      'src',
      '10.70.0.1',
      'mtu',
      '1400',
    );
    const e = await expectLine(
      '10.89.0.0/24',
      'added',
      `route added rx0 ifindex=${if0} inet table=main protocol=boot type=unicast 10.89.0.0/24 via 10.70.0.2 src 10.70.0.1 metric 100 mtu 1400`,
    );
    assert.ok(e.kind === 'route');
    assert.deepEqual(
      { metric: e.metric, prefsrc: e.prefsrc, mtu: e.mtu, scope: e.scope, nexthops: e.nexthops },
      { metric: 100, prefsrc: '10.70.0.1', mtu: 1400, scope: undefined, nexthops: undefined },
    );
    // The kernel's own routes for a new address: scope link (connected) and host (local) are
    // their types' defaults, not printed; their preferred source is.
    ns.ip('addr', 'add', '10.72.0.1/24', 'dev', 'rx0');
    await expectLine(
      '10.72.0.0/24',
      'added',
      `route added rx0 ifindex=${if0} inet table=main protocol=kernel type=unicast 10.72.0.0/24 src 10.72.0.1`,
    );
    await expectLine(
      '10.72.0.1/32',
      'added',
      `route added rx0 ifindex=${if0} inet table=local protocol=kernel type=local 10.72.0.1/32 src 10.72.0.1`,
    );
    // A device route asked for with scope host: not its default.
    ns.ip('route', 'add', '10.90.0.0/24', 'dev', 'rx2', 'scope', 'host');
    await expectLine(
      '10.90.0.0/24',
      'added',
      `route added rx2 ifindex=${if2} inet table=main protocol=boot type=unicast 10.90.0.0/24 scope host`,
    );
  });

  step('a route through a nexthop object prints its nhid', async () => {
    ns.ip('nexthop', 'add', 'id', '7', 'via', '10.70.1.2', 'dev', 'rx2');
    ns.ip('route', 'add', '10.91.0.0/24', 'nhid', '7');
    await expectLine(
      '10.91.0.0/24',
      'added',
      `route added rx2 ifindex=${if2} inet table=main protocol=boot type=unicast 10.91.0.0/24 nhid 7 via 10.70.1.2`,
    );
  });
});
