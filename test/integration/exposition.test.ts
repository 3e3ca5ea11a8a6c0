// The whole exposition as Prometheus sees it: `promtool check metrics` accepts it, and every
// family of the metric contract is announced. The namespace is given as a path (the `netns`
// label is the path as given), with links, addresses and routes of every kind present.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createNetns, liveDescribe, Netns } from '../helpers/netns';
import { Exporter, parseExposition, startExporter } from '../helpers/exporter';
import { METRICS } from '../../src/metrics/contract';

liveDescribe('exposition', { timeout: 60_000 }, () => {
  let ns: Netns;
  let ex: Exporter | undefined;
  let text = '';

  before(async () => {
    ns = createNetns('expo');
    ns.addVeth('ex0', 'ex1', { up: true });
    ns.batch([
      'addr add 10.50.0.1/24 dev ex0',
      'addr add 2001:db8:50::1/64 dev ex0 nodad',
      'route add default via 10.50.0.2 proto dhcp',
      'route add 10.51.0.0/24 via 10.50.0.3 table 100 proto bird',
      'route add blackhole 10.52.0.0/24 proto static',
      'route add 2001:db8:51::/64 via 2001:db8:50::2 proto ospf',
    ]);
    ex = await startExporter({ netns: [ns.path] });
    const res = await ex.get('/metrics');
    assert.equal(res.status, 200);
    text = res.body;
  });

  after(async () => {
    await ex?.stop();
    ns?.delete();
  });

  test('promtool check metrics accepts it', () => {
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(r.error, undefined, `promtool: ${r.error?.message}`);
    assert.equal(r.status, 0, `promtool check metrics failed:\n${r.stdout}${r.stderr}`);
  });

  test('every family of the contract is announced with its type', () => {
    for (const def of Object.values(METRICS)) {
      assert.ok(text.includes(`# TYPE ${def.name} ${def.type}\n`), `${def.name} (${def.type}) is missing`);
    }
  });

  test('the netns label is the path as given, and the state is there on the first scrape', () => {
    const s = parseExposition(text);
    const netns = ns.path;
    assert.equal(s.value('netlink_interface_up', { netns, interface: 'ex0' }), 1, s.show('netlink_interface_up', { netns }));
    assert.equal(
      s.value('netlink_default_route_info', { netns, table: 'main', family: 'inet', interface: 'ex0', gateway: '10.50.0.2', protocol: 'dhcp' }),
      1,
      s.show('netlink_default_route_info', { netns }),
    );
    assert.equal(s.value('netlink_routes', { netns, table: '100', family: 'inet', protocol: 'bird' }), 1, s.show('netlink_routes', { netns }));
    assert.equal(s.value('netlink_routes', { netns, table: 'main', family: 'inet', protocol: 'static' }), 1, s.show('netlink_routes', { netns }));
    assert.equal(s.value('netlink_routes', { netns, table: 'main', family: 'inet6', protocol: 'ospf' }), 1, s.show('netlink_routes', { netns }));
    assert.equal(s.value('netlink_namespace_ready', { netns }), 1);
    // The state came from the dump (link-local DAD may still add notifications, so no check on those).
    assert.ok((s.value('netlink_dump_messages_total', { netns, type: 'RTM_NEWROUTE' }) ?? 0) >= 4, s.show('netlink_dump_messages_total', { netns }));
  });
});
