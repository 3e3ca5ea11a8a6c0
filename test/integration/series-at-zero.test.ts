// Series that alert rules can rely on: a gauge whose label set was seen reads 0 when its last
// route or address goes, instead of vanishing (so `netlink_routes{protocol="bgp"} < 1000` fires
// when BGP withdraws everything), and stays until its namespace goes.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createNetns, liveDescribe, Netns } from '../helpers/netns';
import { Exporter, startExporter } from '../helpers/exporter';

liveDescribe('series at zero', { timeout: 120_000 }, () => {
  let ns: Netns;
  let ex: Exporter | undefined;

  before(async () => {
    ns = createNetns('zero');
    ns.addVeth('z0', 'z1', { up: true });
    ns.batch(['addr add 10.60.0.1/24 dev z0', 'addr add 2001:db8:60::1/64 dev z0 nodad']);
    ex = await startExporter({ netns: [ns.name] });
  });

  after(async () => {
    await ex?.stop();
    ns?.delete();
  });

  const bgp4 = Array.from({ length: 40 }, (_, i) => `10.61.${i}.0/24`);
  const bgp6 = Array.from({ length: 10 }, (_, i) => `2001:db8:61:${i}::/64`);
  const table100 = Array.from({ length: 5 }, (_, i) => `10.62.${i}.0/24`);

  test('routes born after start: BGP (proto 186) in main for both families, an unnamed protocol (150) in table 100', async () => {
    ns.batch([
      ...bgp4.map((dst) => `route add ${dst} via 10.60.0.2 proto 186`),
      ...bgp6.map((dst) => `route add ${dst} via 2001:db8:60::2 proto bgp`),
      ...table100.map((dst) => `route add ${dst} via 10.60.0.3 table 100 proto 150`),
    ]);
    const netns = ns.name;
    await ex!.waitFor('the new groups counted', (s) => {
      const got = [
        s.value('netlink_routes', { netns, table: 'main', family: 'inet', protocol: 'bgp' }),
        s.value('netlink_routes', { netns, table: 'main', family: 'inet6', protocol: 'bgp' }),
        s.value('netlink_routes', { netns, table: '100', family: 'inet', protocol: '150' }),
      ];
      return got.join(',') === `${bgp4.length},${bgp6.length},${table100.length}`
        ? true
        : `got ${got.join(',')}: ${s.show('netlink_routes', { netns })}`;
    });
  });

  test('BGP withdraws everything and table 100 empties: each group reads 0, its change counters stay', async () => {
    ns.batch([
      ...bgp4.map((dst) => `route del ${dst} proto 186`),
      ...bgp6.map((dst) => `route del ${dst} proto bgp`),
      ...table100.map((dst) => `route del ${dst} table 100`),
    ]);
    const netns = ns.name;
    const s = await ex!.waitFor('the withdrawn groups at 0', (sc) => {
      const got = [
        sc.value('netlink_routes', { netns, table: 'main', family: 'inet', protocol: 'bgp' }),
        sc.value('netlink_routes', { netns, table: 'main', family: 'inet6', protocol: 'bgp' }),
        sc.value('netlink_routes', { netns, table: '100', family: 'inet', protocol: '150' }),
      ];
      return got.join(',') === '0,0,0'
        ? true
        : `got ${got.map(String).join(',')} (undefined = series missing): ${sc.show('netlink_routes', { netns })}`;
    });
    const changes = (table: string, family: string, protocol: string, action: string): number | undefined =>
      s.value('netlink_route_changes_total', { netns, table, family, protocol, action });
    assert.equal(changes('main', 'inet', 'bgp', 'added'), bgp4.length);
    assert.equal(changes('main', 'inet', 'bgp', 'removed'), bgp4.length);
    assert.equal(changes('main', 'inet6', 'bgp', 'removed'), bgp6.length);
    assert.equal(changes('100', 'inet', '150', 'removed'), table100.length);
    assert.equal(changes('100', 'inet', '150', 'flushed'), 0);
    assert.equal(s.value('netlink_route_groups_forgotten_total', { netns }), 0);
  });

  test('routes back in an emptied group: the same series counts them again', async () => {
    ns.ip('route', 'add', '10.63.0.0/24', 'via', '10.60.0.2', 'proto', 'bgp');
    await ex!.waitForValue('netlink_routes', { netns: ns.name, table: 'main', family: 'inet', protocol: 'bgp' }, 1);
    ns.ip('route', 'del', '10.63.0.0/24', 'proto', 'bgp');
    await ex!.waitForValue('netlink_routes', { netns: ns.name, table: 'main', family: 'inet', protocol: 'bgp' }, 0);
  });

  test('an interface that loses its last address of a family reads 0 for that family', async () => {
    ns.batch(['addr del 10.60.0.1/24 dev z0', 'addr del 2001:db8:60::1/64 dev z0']);
    const netns = ns.name;
    await ex!.waitFor('z0 holds no addresses', (s) => {
      const got = ['inet', 'inet6'].map((family) =>
        s.value('netlink_interface_addresses', { netns, interface: 'z0', family }),
      );
      return got.join(',') === '0,0'
        ? true
        : `got ${got.map(String).join(',')}: ${s.show('netlink_interface_addresses', { netns, interface: 'z0' })}`;
    });
    // The kernel flushed the connected routes (and the IPv4 ones silently): their groups read 0 too.
    await ex!.waitForValue('netlink_routes', { netns, table: 'main', family: 'inet', protocol: 'kernel' }, 0);
  });
});
