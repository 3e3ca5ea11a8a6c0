// Addresses added and removed: netlink_address_changes_total counts real transitions (not raw
// RTM_NEWADDR messages: IPv6 re-sends them on DAD completion and lifetime changes),
// netlink_interface_addresses follows the kernel, netlink_address_info comes and goes.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AddrInfoJson, createNetns, liveDescribe, Netns } from '../helpers/netns';
import { Exporter, poll, Scrape, startExporter } from '../helpers/exporter';

const IF = 'ad0';

liveDescribe('addresses', { timeout: 90_000 }, () => {
  let ns: Netns;
  let ex: Exporter | undefined;

  const L = () => ({ netns: ns.name, interface: IF });
  const kernelCount = (family: 'inet' | 'inet6'): number => ns.addresses(IF).filter((a) => a.family === family).length;
  const changes = (s: Scrape, family: string, action: string) =>
    s.value('netlink_address_changes_total', { ...L(), family, action });
  const gauge = (s: Scrape, family: string) => s.value('netlink_interface_addresses', { ...L(), family });
  const info = (s: Scrape, family: string, address: string, prefix: number) =>
    s.value('netlink_address_info', { ...L(), family, address, prefix_length: String(prefix), scope: 'global' });

  /** Checks counters (absent = 0) and the gauge against the kernel; returns what is wrong. */
  function check(s: Scrape, expect: { added: Record<string, number>; removed: Record<string, number> }): string[] {
    const wrong: string[] = [];
    for (const family of ['inet', 'inet6'] as const) {
      for (const action of ['added', 'removed'] as const) {
        const got = changes(s, family, action) ?? 0;
        const want = expect[action][family] ?? 0;
        if (got !== want)
          wrong.push(`netlink_address_changes_total{family="${family}",action="${action}"} = ${got}, expected ${want}`);
      }
      const k = kernelCount(family);
      const g = gauge(s, family);
      if ((g ?? 0) !== k || (k > 0 && g === undefined)) {
        wrong.push(
          `netlink_interface_addresses{family="${family}"} = ${g === undefined ? '(absent)' : g}, kernel lists ${k}`,
        );
      }
    }
    return wrong;
  }

  before(async () => {
    ns = createNetns('addr');
    ns.addVeth(IF, 'ad1', { up: true });
    ex = await startExporter({ netns: [ns.name] });
    await ex.waitForValue('netlink_interface_admin_up', L(), 1);
  });

  after(async () => {
    await ex?.stop();
    ns?.delete();
  });

  test('no addresses at start', async () => {
    const s = await ex!.scrape();
    assert.deepEqual(check(s, { added: {}, removed: {} }), []);
    assert.equal(s.series('netlink_address_info', L()).length, 0, s.show('netlink_address_info', L()));
  });

  test('IPv4 and IPv6 added (one IPv6 through DAD, one re-sent by a lifetime change): counted once each', async () => {
    ns.batch([
      `addr add 10.20.0.1/24 dev ${IF}`,
      `addr add 10.20.0.2/24 dev ${IF}`, // secondary
      `addr add 2001:db8:20::1/64 dev ${IF} nodad`,
      `addr add 2001:db8:21::1/64 dev ${IF}`, // goes through DAD: RTM_NEWADDR twice
      `addr add fe80::1/64 dev ${IF} nodad`, // link-local: counted, but no address_info by default
    ]);
    await poll('2001:db8:21::1 no longer tentative in the kernel', () => {
      const a = ns.addresses(IF).find((x: AddrInfoJson) => x.local === '2001:db8:21::1');
      return a && !a.tentative ? true : JSON.stringify(a);
    });
    assert.equal(kernelCount('inet'), 2);
    assert.equal(kernelCount('inet6'), 3);
    // A lifetime change: the kernel sends RTM_NEWADDR again; not an addition.
    ns.ip('addr', 'change', '2001:db8:20::1/64', 'dev', IF, 'valid_lft', '3600', 'preferred_lft', '1800');
    const expectAdded = { added: { inet: 2, inet6: 3 }, removed: {} };
    const s = await ex!.waitFor('address counters and gauges after the additions', (sc) => {
      const wrong = check(sc, expectAdded);
      return wrong.length ? wrong.join('; ') : true;
    });
    assert.equal(info(s, 'inet', '10.20.0.1', 24), 1, s.show('netlink_address_info', L()));
    assert.equal(info(s, 'inet', '10.20.0.2', 24), 1, s.show('netlink_address_info', L()));
    assert.equal(info(s, 'inet6', '2001:db8:20::1', 64), 1, s.show('netlink_address_info', L()));
    assert.equal(info(s, 'inet6', '2001:db8:21::1', 64), 1, s.show('netlink_address_info', L()));
    assert.equal(
      s.series('netlink_address_info', { ...L(), address: 'fe80::1' }).length,
      0,
      `link-local addresses get no netlink_address_info by default: ${s.show('netlink_address_info', L())}`,
    );
    assert.equal(s.series('netlink_address_info', L()).length, 4, s.show('netlink_address_info', L()));
    // Stable: a later scrape still says the same (no late double count of the DAD re-send).
    const again = await ex!.scrape();
    assert.deepEqual(check(again, expectAdded), []);
  });

  test('removed: counters and gauge follow the kernel (deleting a primary IPv4 takes its secondaries)', async () => {
    ns.batch([`addr del 2001:db8:21::1/64 dev ${IF}`, `addr del 10.20.0.1/24 dev ${IF}`]);
    // Without promote_secondaries the kernel also removes 10.20.0.2; with it, 10.20.0.2 stays.
    const inetLeft = kernelCount('inet');
    const s = await ex!.waitFor('address counters after the first removals', (sc) => {
      const wrong = check(sc, { added: { inet: 2, inet6: 3 }, removed: { inet: 2 - inetLeft, inet6: 1 } });
      return wrong.length ? wrong.join('; ') : true;
    });
    assert.equal(info(s, 'inet', '10.20.0.1', 24), undefined, s.show('netlink_address_info', L()));
    assert.equal(info(s, 'inet6', '2001:db8:21::1', 64), undefined, s.show('netlink_address_info', L()));
    assert.equal(info(s, 'inet6', '2001:db8:20::1', 64), 1, s.show('netlink_address_info', L()));

    const rest = [`addr del 2001:db8:20::1/64 dev ${IF}`, `addr del fe80::1/64 dev ${IF}`];
    if (inetLeft > 0) rest.push(`addr flush dev ${IF} scope global`);
    ns.batch(rest);
    assert.equal(kernelCount('inet') + kernelCount('inet6'), 0);
    const s2 = await ex!.waitFor('address counters after removing everything', (sc) => {
      const wrong = check(sc, { added: { inet: 2, inet6: 3 }, removed: { inet: 2, inet6: 3 } });
      if (sc.series('netlink_address_info', L()).length) wrong.push(`still: ${sc.show('netlink_address_info', L())}`);
      return wrong.length ? wrong.join('; ') : true;
    });
    assert.equal(s2.series('netlink_address_info', L()).length, 0);
  });

  test('the same address added again is a new transition', async () => {
    ns.ip('addr', 'add', '10.20.0.1/24', 'dev', IF);
    await ex!.waitFor('re-added 10.20.0.1', (sc) => {
      const wrong = check(sc, { added: { inet: 3, inet6: 3 }, removed: { inet: 2, inet6: 3 } });
      if (info(sc, 'inet', '10.20.0.1', 24) !== 1) wrong.push(`address_info: ${sc.show('netlink_address_info', L())}`);
      return wrong.length ? wrong.join('; ') : true;
    });
  });

  test('point-to-point IPv4 (local + peer): the address is IFA_LOCAL, not the peer', async () => {
    ns.ip('addr', 'add', '10.20.0.5', 'peer', '10.20.0.6/32', 'dev', IF);
    const k = ns.addresses(IF).find((a) => a.local === '10.20.0.5');
    assert.ok(k, JSON.stringify(ns.addresses(IF)));
    assert.equal(k.prefixlen, 32);
    const s = await ex!.waitFor('10.20.0.5 peer 10.20.0.6', (sc) => {
      const wrong = check(sc, { added: { inet: 4, inet6: 3 }, removed: { inet: 2, inet6: 3 } });
      if (info(sc, 'inet', '10.20.0.5', 32) !== 1) wrong.push(`address_info: ${sc.show('netlink_address_info', L())}`);
      return wrong.length ? wrong.join('; ') : true;
    });
    assert.equal(
      s.series('netlink_address_info', { ...L(), address: '10.20.0.6' }).length,
      0,
      s.show('netlink_address_info', L()),
    );
  });
});
