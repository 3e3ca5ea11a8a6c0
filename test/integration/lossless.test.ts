// Zero loss at the kernel's full rate, with the default configuration: route, address and flap
// bursts generated with many requests per sendmsg (no acks), and every counter equal to the
// kernel's truth afterwards, with no overrun and no drop on the exporter's socket.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createNetns, groupRoutes, kernelRoutes, liveDescribe, Netns, routeGroupKey } from '../helpers/netns';
import { Exporter, poll, Scrape, startExporter } from '../helpers/exporter';
import {
  addressRequest,
  BurstSender,
  formatIPv4,
  ipv4Nth,
  ipv6Nth,
  linkToggleRequest,
  routeBurst,
  subscribedRouteSockets,
} from '../helpers/burst';
import { AF_INET, AF_INET6, RTM_DELADDR, RTM_NEWADDR } from '../../src/netlink/constants';

const ROUTES = 20_000;
const ROUTE_TABLE = 200;
const RTPROT_STATIC = 4;
/** Address burst: per device, this many IPv4 /32 and as many IPv6 /128 (nodad). */
const ADDRESS_DEVICES = ['la0', 'la1', 'lb0', 'lb1'];
const ADDRESSES_PER_FAMILY = 250;
/** Flap burst: admin down/up cycles of one end of each pair. */
const FLAP_PAIRS = 20;
const FLAP_CYCLES = 50;

liveDescribe('lossless bursts (default configuration)', { timeout: 180_000 }, () => {
  let ns: Netns;
  let ex: Exporter | undefined;
  let sender: BurstSender | undefined;

  const nsl = () => ({ netns: ns.name });
  const msgs = (s: Scrape, type: string) => s.value('netlink_messages_received_total', { netns: ns.name, type }) ?? 0;

  /** No overrun counted, and the kernel dropped nothing on the exporter's socket. */
  function assertNoLoss(s: Scrape, what: string): void {
    assert.equal(
      s.value('netlink_socket_overruns_total', nsl()),
      0,
      `${what}: ${s.show('netlink_socket_overruns_total', nsl())}`,
    );
    assert.equal(s.value('netlink_resyncs_total', nsl()), 0, `${what}: ${s.show('netlink_resyncs_total', nsl())}`);
    const socks = subscribedRouteSockets(ns);
    assert.equal(
      socks.length,
      1,
      `${what}: one subscribed NETLINK_ROUTE socket in ${ns.name}: ${JSON.stringify(socks)}`,
    );
    assert.equal(
      socks[0]!.drops,
      0,
      `${what}: /proc/net/netlink Drops of the exporter's socket: ${JSON.stringify(socks)}`,
    );
  }

  function routeGaugeWrong(s: Scrape): string[] {
    const got = new Map<string, number>();
    for (const x of s.series('netlink_routes', nsl()))
      got.set(routeGroupKey(x.labels.table!, x.labels.family!, x.labels.protocol!), x.value);
    const want = groupRoutes(kernelRoutes(ns));
    const wrong: string[] = [];
    for (const k of new Set([...got.keys(), ...want.keys()])) {
      if ((got.get(k) ?? 0) !== (want.get(k) ?? 0))
        wrong.push(`netlink_routes{${k}} = ${got.get(k) ?? '(absent)'}, kernel lists ${want.get(k) ?? 0}`);
    }
    return wrong;
  }

  before(async () => {
    ns = createNetns('lossless');
    ns.addVeth('lr0', 'lr1', { up: true });
    ns.addVeth('la0', 'la1', { up: true });
    ns.addVeth('lb0', 'lb1', { up: true });
    const lines: string[] = [];
    for (let i = 0; i < FLAP_PAIRS; i++) {
      lines.push(`link add name lf${i}a type veth peer name lf${i}b`);
      lines.push(`link set dev lf${i}a addrgenmode none`, `link set dev lf${i}b addrgenmode none`);
      lines.push(`link set dev lf${i}a up`, `link set dev lf${i}b up`);
    }
    ns.batch(lines);
    ex = await startExporter({ netns: [ns.name] });
    sender = new BurstSender(ns);
  });

  after(async () => {
    sender?.close();
    await ex?.stop();
    ns?.delete();
  });

  test(`route burst: ${ROUTES} IPv4 adds then deletes, batched; every notification counted`, async () => {
    const group = { netns: ns.name, table: String(ROUTE_TABLE), family: 'inet', protocol: 'static' };
    const s0 = await ex!.scrape();
    assertNoLoss(s0, 'before the route burst');
    const base = {
      added: s0.value('netlink_route_changes_total', { ...group, action: 'added' }) ?? 0,
      removed: s0.value('netlink_route_changes_total', { ...group, action: 'removed' }) ?? 0,
      newroute: msgs(s0, 'RTM_NEWROUTE'),
      delroute: msgs(s0, 'RTM_DELROUTE'),
    };
    const { adds, deletes } = routeBurst({
      count: ROUTES,
      second: 100,
      table: ROUTE_TABLE,
      protocol: RTPROT_STATIC,
      oif: ns.ifindex('lr0'),
      seq: 1,
    });

    const sends = sender!.send(adds);
    await sender!.sync('route adds');
    assert.ok(sends < ROUTES / 1000, `${sends} sendmsg calls for ${ROUTES} routes`);
    assert.equal(
      groupRoutes(kernelRoutes(ns)).get(routeGroupKey(group.table, 'inet', 'static')),
      ROUTES,
      'kernel: every route added (test setup)',
    );
    const s1 = await ex!.waitFor(
      `${ROUTES} routes added`,
      (s) => {
        const wrong = routeGaugeWrong(s);
        const added = (s.value('netlink_route_changes_total', { ...group, action: 'added' }) ?? 0) - base.added;
        if (added !== ROUTES) wrong.push(`route_changes_total{action="added"} delta ${added}, expected ${ROUTES}`);
        const newroute = msgs(s, 'RTM_NEWROUTE') - base.newroute;
        if (newroute !== ROUTES)
          wrong.push(`messages_received_total{type="RTM_NEWROUTE"} delta ${newroute}, expected ${ROUTES}`);
        return wrong.length ? wrong.join('; ') : true;
      },
      { timeoutMs: 30_000 },
    );
    assertNoLoss(s1, 'after the route adds');

    sender!.send(deletes);
    await sender!.sync('route deletes');
    const s2 = await ex!.waitFor(
      `${ROUTES} routes removed`,
      (s) => {
        const wrong = routeGaugeWrong(s);
        const removed = (s.value('netlink_route_changes_total', { ...group, action: 'removed' }) ?? 0) - base.removed;
        if (removed !== ROUTES)
          wrong.push(`route_changes_total{action="removed"} delta ${removed}, expected ${ROUTES}`);
        const delroute = msgs(s, 'RTM_DELROUTE') - base.delroute;
        if (delroute !== ROUTES)
          wrong.push(`messages_received_total{type="RTM_DELROUTE"} delta ${delroute}, expected ${ROUTES}`);
        return wrong.length ? wrong.join('; ') : true;
      },
      { timeoutMs: 30_000 },
    );
    // Nothing else moved: no replaced, no flushed, exactly ROUTES NEWROUTE.
    for (const action of ['replaced', 'flushed']) {
      assert.equal(
        s2.value('netlink_route_changes_total', { ...group, action }) ?? 0,
        0,
        s2.show('netlink_route_changes_total', group),
      );
    }
    assert.equal(msgs(s2, 'RTM_NEWROUTE') - base.newroute, ROUTES, s2.show('netlink_messages_received_total', nsl()));
    // The emptied group stays, at 0 (an alert on it must see the fall).
    assert.equal(s2.value('netlink_routes', group), 0, s2.show('netlink_routes', group));
    assertNoLoss(s2, 'after the route deletes');
  });

  test(`address burst: ${ADDRESS_DEVICES.length * 2 * ADDRESSES_PER_FAMILY} adds then removes over ${ADDRESS_DEVICES.length} devices`, async () => {
    const s0 = await ex!.scrape();
    const key = (iface: string, family: string, action: string) => ({
      netns: ns.name,
      interface: iface,
      family,
      action,
    });
    const base = new Map<string, number>();
    for (const iface of ADDRESS_DEVICES) {
      for (const family of ['inet', 'inet6']) {
        for (const action of ['added', 'removed'])
          base.set(
            `${iface}/${family}/${action}`,
            s0.value('netlink_address_changes_total', key(iface, family, action)) ?? 0,
          );
      }
    }
    const delAddrBase = msgs(s0, 'RTM_DELADDR');
    const adds: Buffer[] = [];
    const dels: Buffer[] = [];
    let seq = 100_000;
    ADDRESS_DEVICES.forEach((iface, d) => {
      const ifindex = ns.ifindex(iface);
      for (let i = 0; i < ADDRESSES_PER_FAMILY; i++) {
        const v4 = { family: AF_INET, ifindex, address: ipv4Nth(200 + d, i), prefixLength: 32 };
        const v6 = { family: AF_INET6, ifindex, address: ipv6Nth(0x200 + d, i + 1), prefixLength: 128 };
        adds.push(
          addressRequest({ ...v4, type: RTM_NEWADDR, seq: seq++ }),
          addressRequest({ ...v6, type: RTM_NEWADDR, seq: seq++ }),
        );
        dels.push(
          addressRequest({ ...v4, type: RTM_DELADDR, seq: seq++ }),
          addressRequest({ ...v6, type: RTM_DELADDR, seq: seq++ }),
        );
      }
    });
    /** Exporter address gauges against `ip addr`, and the change counters against `want` deltas. */
    const check = (s: Scrape, want: { added: number; removed: number }): string[] => {
      const wrong: string[] = [];
      for (const iface of ADDRESS_DEVICES) {
        const kernel = ns.addresses(iface);
        for (const family of ['inet', 'inet6'] as const) {
          const held = kernel.filter((a) => a.family === family).length;
          const gauge = s.value('netlink_interface_addresses', { netns: ns.name, interface: iface, family }) ?? 0;
          if (gauge !== held)
            wrong.push(`${iface}: netlink_interface_addresses{family="${family}"} ${gauge}, kernel holds ${held}`);
          for (const action of ['added', 'removed'] as const) {
            const got =
              (s.value('netlink_address_changes_total', key(iface, family, action)) ?? 0) -
              base.get(`${iface}/${family}/${action}`)!;
            if (got !== want[action])
              wrong.push(
                `${iface}: address_changes_total{family="${family}",action="${action}"} delta ${got}, expected ${want[action]}`,
              );
          }
        }
      }
      return wrong;
    };

    sender!.send(adds);
    await sender!.sync('address adds');
    assert.equal(
      ns.addresses('la0').filter((a) => a.family === 'inet').length,
      ADDRESSES_PER_FAMILY,
      'kernel: the IPv4 addresses were added (test setup)',
    );
    assert.ok(
      ns.addresses('la0').some((a) => a.local === formatIPv4(ipv4Nth(200, 7))),
      'kernel: 10.200.0.7 on la0 (test setup)',
    );
    const s1 = await ex!.waitFor(
      'every address added',
      (s) => {
        const wrong = check(s, { added: ADDRESSES_PER_FAMILY, removed: 0 });
        return wrong.length ? wrong.slice(0, 8).join('; ') : true;
      },
      { timeoutMs: 30_000 },
    );
    assertNoLoss(s1, 'after the address adds');

    sender!.send(dels);
    await sender!.sync('address removals');
    const s2 = await ex!.waitFor(
      'every address removed',
      (s) => {
        const wrong = check(s, { added: ADDRESSES_PER_FAMILY, removed: ADDRESSES_PER_FAMILY });
        const delAddr = msgs(s, 'RTM_DELADDR') - delAddrBase;
        if (delAddr !== dels.length)
          wrong.push(`messages_received_total{type="RTM_DELADDR"} delta ${delAddr}, expected ${dels.length}`);
        return wrong.length ? wrong.slice(0, 8).join('; ') : true;
      },
      { timeoutMs: 30_000 },
    );
    assertNoLoss(s2, 'after the address removals');
    assert.deepEqual(
      routeGaugeWrong(s2),
      [],
      'netlink_routes still equal to the kernel (local routes of the addresses came and went)',
    );
    // The kernel notifies the removal of each address's local route: none may be taken for a
    // silent removal (flushed), which a repair that ran before the notification would do.
    const flushed =
      s2.sum('netlink_route_changes_total', { netns: ns.name, action: 'flushed' }) -
      s0.sum('netlink_route_changes_total', { netns: ns.name, action: 'flushed' });
    assert.equal(flushed, 0, s2.show('netlink_route_changes_total', { netns: ns.name, action: 'flushed' }));
  });

  test(`flap burst: ${2 * FLAP_CYCLES * FLAP_PAIRS} admin toggles over ${FLAP_PAIRS} veth pairs; flaps == carrier_down_count delta on every end`, async () => {
    const ends: string[] = [];
    for (let i = 0; i < FLAP_PAIRS; i++) ends.push(`lf${i}a`, `lf${i}b`);
    const labels = (iface: string) => ({ netns: ns.name, interface: iface });
    const kernelAllUp = async (): Promise<void> =>
      poll('every flap end operstate UP in the kernel', () => {
        const down = ns.links().filter((l) => ends.includes(l.ifname) && l.operstate !== 'UP');
        return down.length === 0 ? true : down.map((l) => `${l.ifname} ${l.operstate}`).join(', ');
      });
    await kernelAllUp();
    const s0 = await ex!.waitFor('every flap end up in the exporter', (s) => {
      const bad = ends.filter((e) => s.value('netlink_interface_up', labels(e)) !== 1);
      return bad.length === 0 ? true : `not up: ${bad.join(', ')}`;
    });
    const base = new Map<string, { flaps: number; down: number }>();
    for (const e of ends)
      base.set(e, { flaps: s0.value('netlink_interface_flaps_total', labels(e))!, down: ns.carrierCounters(e).down });
    const newlinkBase = msgs(s0, 'RTM_NEWLINK');

    const ifindex = new Map(ns.links().map((l) => [l.ifname, l.ifindex]));
    const requests: Buffer[] = [];
    let seq = 200_000;
    for (let c = 0; c < FLAP_CYCLES; c++) {
      for (let i = 0; i < FLAP_PAIRS; i++) requests.push(linkToggleRequest(ifindex.get(`lf${i}a`)!, false, seq++));
      for (let i = 0; i < FLAP_PAIRS; i++) requests.push(linkToggleRequest(ifindex.get(`lf${i}a`)!, true, seq++));
    }
    sender!.send(requests);
    await sender!.sync('link toggles');
    await kernelAllUp();
    for (const e of ends) {
      const d = ns.carrierCounters(e).down - base.get(e)!.down;
      assert.equal(
        d,
        FLAP_CYCLES,
        `kernel: ${e} carrier_down_count moved by ${d}, expected ${FLAP_CYCLES} (test setup)`,
      );
    }

    const s1 = await ex!.waitFor(
      'flaps and carrier counters equal to the kernel on every end',
      (s) => {
        const wrong: string[] = [];
        for (const e of ends) {
          const k = ns.carrierCounters(e);
          const b = base.get(e)!;
          const flaps = s.value('netlink_interface_flaps_total', labels(e));
          if (flaps === undefined || flaps - b.flaps !== k.down - b.down)
            wrong.push(
              `${e}: flaps delta ${flaps === undefined ? '(absent)' : flaps - b.flaps}, kernel carrier_down_count delta ${k.down - b.down}`,
            );
          const down = s.value('netlink_interface_carrier_down_changes_total', labels(e));
          if (down !== k.down) wrong.push(`${e}: carrier_down_changes_total ${down}, kernel ${k.down}`);
          const changes = s.value('netlink_interface_carrier_changes_total', labels(e));
          if (changes !== k.changes) wrong.push(`${e}: carrier_changes_total ${changes}, kernel ${k.changes}`);
          if (s.value('netlink_interface_up', labels(e)) !== 1)
            wrong.push(`${e}: netlink_interface_up ${s.value('netlink_interface_up', labels(e))}`);
        }
        // Every admin toggle is notified at once for the toggled end (only carrier changes
        // coalesce). Polled too: the flap counters can be right (from the kernel's carrier
        // counters) while the last notifications are still on their way.
        const newlinks = msgs(s, 'RTM_NEWLINK') - newlinkBase;
        if (newlinks < requests.length)
          wrong.push(`messages_received_total{type="RTM_NEWLINK"} delta ${newlinks} < ${requests.length} toggles`);
        return wrong.length ? wrong.slice(0, 8).join('; ') : true;
      },
      { timeoutMs: 30_000 },
    );
    assertNoLoss(s1, 'after the flap burst');
  });
});
