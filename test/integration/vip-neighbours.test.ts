// VIP watch, IPv6 duplicate address detection failures and neighbours, against the kernel:
// a VIP held, held twice, ignored on lo, released; DAD failing between the two ends of a veth
// pair; neighbour entries added, answering from a new MAC (for a VIP too), and removed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createNetns, liveDescribe, Netns } from '../helpers/netns';
import { Exporter, startExporter } from '../helpers/exporter';

liveDescribe('vips and neighbours', { timeout: 90_000 }, () => {
  let ns: Netns;
  let ex: Exporter | undefined;
  let dir = '';
  const web = { vip: '10.77.0.100', name: 'web' };
  const lvs = { vip: '10.77.0.200', name: 'lvs' };
  const web6 = { vip: '2001:db8:77::100', name: 'web6' };
  const at = (vip: { vip: string; name: string }) => ({ netns: ns.name, ...vip });

  before(async () => {
    ns = createNetns('vip');
    ns.addVeth('vp0', 'vp1', { up: true });
    ns.ip('link', 'set', 'lo', 'up');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nle-vip-'));
    const config = path.join(dir, 'config.yml');
    fs.writeFileSync(
      config,
      [
        'vips:',
        `  - {address: ${web.vip}, name: ${web.name}}`,
        `  - {address: "2001:0db8:77:0::100", name: ${web6.name}}`, // written long: compared canonically
        `  - {address: ${lvs.vip}, name: ${lvs.name}, ignore_interfaces: [lo]}`,
        '',
      ].join('\n'),
    );
    ex = await startExporter({ netns: [ns.name], configFile: config });
  });

  after(async () => {
    await ex?.stop();
    ns?.delete();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('every VIP has its series before anything holds it', async () => {
    const s = await ex!.scrape();
    for (const vip of [web, web6, lvs]) {
      assert.equal(s.value('netlink_vip_present', at(vip)), 0, s.show('netlink_vip_present', { netns: ns.name }));
      assert.equal(s.value('netlink_vip_bindings', at(vip)), 0);
      assert.equal(s.value('netlink_vip_transitions_total', { ...at(vip), action: 'acquired' }), 0);
      assert.equal(s.value('netlink_vip_transitions_total', { ...at(vip), action: 'released' }), 0);
      assert.equal(s.value('netlink_vip_mac_changes_total', at(vip)), 0);
    }
  });

  test('held, held on two interfaces, released', async () => {
    ns.ip('addr', 'add', `${web.vip}/32`, 'dev', 'vp0');
    let s = await ex!.waitForValue('netlink_vip_present', at(web), 1);
    assert.equal(s.value('netlink_vip_interface_info', { ...at(web), interface: 'vp0' }), 1);
    ns.ip('addr', 'add', `${web.vip}/32`, 'dev', 'vp1');
    s = await ex!.waitForValue('netlink_vip_bindings', at(web), 2);
    assert.equal(s.value('netlink_vip_interface_info', { ...at(web), interface: 'vp1' }), 1);
    ns.ip('addr', 'del', `${web.vip}/32`, 'dev', 'vp0');
    ns.ip('addr', 'del', `${web.vip}/32`, 'dev', 'vp1');
    s = await ex!.waitForValue('netlink_vip_present', at(web), 0);
    assert.equal(s.value('netlink_vip_bindings', at(web)), 0);
    assert.equal(s.value('netlink_vip_interface_info', { ...at(web), interface: 'vp0' }), undefined);
    assert.equal(
      s.value('netlink_vip_transitions_total', { ...at(web), action: 'acquired' }),
      1,
      'one acquisition, however many holders',
    );
    assert.equal(s.value('netlink_vip_transitions_total', { ...at(web), action: 'released' }), 1);
  });

  test('a VIP on an ignored interface is not held; an IPv6 VIP is matched canonically', async () => {
    ns.ip('addr', 'add', `${lvs.vip}/32`, 'dev', 'lo');
    ns.ip('-6', 'addr', 'add', `${web6.vip}/128`, 'dev', 'vp0', 'nodad');
    const s = await ex!.waitForValue('netlink_vip_present', at(web6), 1);
    assert.equal(s.value('netlink_vip_present', at(lvs)), 0, s.show('netlink_vip_present', { netns: ns.name }));
    assert.equal(s.value('netlink_vip_bindings', at(lvs)), 0);
  });

  test('IPv6 duplicate address detection failure is counted on the interface that lost', async () => {
    // vp1 holds the address; vp0's DAD probe reaches it over the veth pair and fails.
    ns.ip('-6', 'addr', 'add', '2001:db8:77::5/64', 'dev', 'vp1', 'nodad');
    ns.ip('-6', 'addr', 'add', '2001:db8:77::5/64', 'dev', 'vp0');
    const s = await ex!.waitForValue('netlink_address_dad_failures_total', { netns: ns.name, interface: 'vp0' }, 1, {
      timeoutMs: 15_000,
    });
    assert.equal(s.value('netlink_address_dad_failures_total', { netns: ns.name, interface: 'vp1' }), 0);
    const flags = ns.ip('-6', 'addr', 'show', 'dev', 'vp0');
    assert.match(flags, /2001:db8:77::5\/64 .*dadfailed/, 'the kernel agrees');
  });

  test('neighbours: added, a new MAC for the same IP (and for a VIP), removed; state churn is no change', async () => {
    const v0 = (family: string, action: string) => ({ netns: ns.name, interface: 'vp0', family, action });
    const before = await ex!.scrape();
    const base = (action: string) => before.value('netlink_neighbour_changes_total', v0('inet', action)) ?? NaN;
    ns.ip('neigh', 'add', '10.77.0.50', 'lladdr', '02:00:00:00:00:01', 'dev', 'vp0', 'nud', 'reachable');
    ns.ip('neigh', 'change', '10.77.0.50', 'lladdr', '02:00:00:00:00:01', 'dev', 'vp0', 'nud', 'stale'); // state only
    ns.ip('neigh', 'replace', '10.77.0.50', 'lladdr', '02:00:00:00:00:02', 'dev', 'vp0', 'nud', 'reachable');
    ns.ip('neigh', 'add', web.vip, 'lladdr', '02:00:00:00:00:0a', 'dev', 'vp0', 'nud', 'reachable');
    ns.ip('neigh', 'replace', web.vip, 'lladdr', '02:00:00:00:00:0b', 'dev', 'vp0', 'nud', 'reachable');
    ns.ip('neigh', 'del', '10.77.0.50', 'dev', 'vp0');
    const s = await ex!.waitForValue('netlink_neighbour_changes_total', v0('inet', 'removed'), base('removed') + 1);
    assert.equal(
      s.value('netlink_neighbour_changes_total', v0('inet', 'added')),
      base('added') + 2,
      s.show('netlink_neighbour_changes_total', { netns: ns.name, interface: 'vp0' }),
    );
    assert.equal(s.value('netlink_neighbour_changes_total', v0('inet', 'lladdr_changed')), base('lladdr_changed') + 2);
    assert.equal(s.value('netlink_vip_mac_changes_total', at(web)), 1);
    // The table size is the kernel's.
    const kernel = ns.ipJson<unknown[]>('-4', 'neigh', 'show').length;
    assert.equal(
      s.value('netlink_neighbours', { netns: ns.name, family: 'inet' }),
      kernel,
      s.show('netlink_neighbours', { netns: ns.name }),
    );
    // `ip ntable` reads the same table parameters (sysctl's /proc/sys/net/ipv4/neigh may be absent).
    const limit = Number(/thresh3 (\d+)/.exec(ns.ip('ntable', 'show', 'name', 'arp_cache'))?.[1]);
    // Host-wide, so exported once per family (no netns label), not once per namespace.
    assert.equal(
      s.value('netlink_neighbour_table_limit', { family: 'inet' }),
      limit,
      s.show('netlink_neighbour_table_limit', {}),
    );
    assert.equal(s.series('netlink_neighbour_table_limit', {}).length, 2, s.show('netlink_neighbour_table_limit', {}));
    assert.equal(
      s.series('netlink_neighbour_table_entries', {}).length,
      2,
      s.show('netlink_neighbour_table_entries', {}),
    );
  });
});
