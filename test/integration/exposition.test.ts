// The whole exposition as Prometheus sees it: `promtool check metrics` accepts it, and every
// family of the metric contract is announced. The namespace is given as a path (the `netns`
// label is the path as given), with links, addresses and routes of every kind present.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createNetns, liveDescribe, Netns } from '../helpers/netns';
import { Exporter, httpGet, OPENMETRICS_ACCEPT, parseExposition, startExporter } from '../helpers/exporter';
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
    assert.equal(
      s.value('netlink_interface_up', { netns, interface: 'ex0' }),
      1,
      s.show('netlink_interface_up', { netns }),
    );
    assert.equal(
      s.value('netlink_default_route_info', {
        netns,
        table: 'main',
        family: 'inet',
        interface: 'ex0',
        gateway: '10.50.0.2',
        protocol: 'dhcp',
      }),
      1,
      s.show('netlink_default_route_info', { netns }),
    );
    assert.equal(
      s.value('netlink_routes', { netns, table: '100', family: 'inet', protocol: 'bird' }),
      1,
      s.show('netlink_routes', { netns }),
    );
    assert.equal(
      s.value('netlink_routes', { netns, table: 'main', family: 'inet', protocol: 'static' }),
      1,
      s.show('netlink_routes', { netns }),
    );
    assert.equal(
      s.value('netlink_routes', { netns, table: 'main', family: 'inet6', protocol: 'ospf' }),
      1,
      s.show('netlink_routes', { netns }),
    );
    assert.equal(s.value('netlink_namespace_ready', { netns }), 1);
    // The state came from the dump (link-local DAD may still add notifications, so no check on those).
    assert.ok(
      (s.value('netlink_dump_messages_total', { netns, type: 'RTM_NEWROUTE' }) ?? 0) >= 4,
      s.show('netlink_dump_messages_total', { netns }),
    );
  });

  test('OpenMetrics: every counter sample is followed by its _created sample, the time its label set was first seen', async () => {
    const netns = ns.path;
    const bornAfter = Date.now() / 1000;
    // Born after start-up: an interface (its kernel counters start with it) and a route group.
    ns.ip('link', 'add', 'late0', 'type', 'veth', 'peer', 'name', 'late1');
    ns.ip('route', 'add', '10.53.0.0/24', 'via', '10.50.0.3', 'proto', 'babel');
    await ex!.waitFor('late0 and the babel group', (sc) =>
      sc.value('netlink_interface_carrier_changes_total', { netns, interface: 'late0' }) !== undefined &&
      sc.value('netlink_routes', { netns, table: 'main', family: 'inet', protocol: 'babel' }) === 1
        ? true
        : 'not yet',
    );
    const bornBefore = Date.now() / 1000;
    const res = await httpGet(`${ex!.baseUrl}/metrics`, 10_000, { accept: OPENMETRICS_ACCEPT });
    assert.equal(res.status, 200);
    const lines = res.body.split('\n');
    const types = new Map<string, string>();
    const created = new Map<string, number>();
    const missing: string[] = [];
    const stray: string[] = [];
    const split = (line: string): [name: string, labels: string, value: string] => {
      const space = line.lastIndexOf(' ');
      const series = line.slice(0, space);
      const brace = series.indexOf('{');
      return brace < 0
        ? [series, '', line.slice(space + 1)]
        : [series.slice(0, brace), series.slice(brace), line.slice(space + 1)];
    };
    // Interfaces found by the initial dump: the kernel's counters predate the exporter (no _created).
    const kernelCounter = /^netlink_interface_carrier(_up|_down)?_changes_total$/;
    const foundAtStart = (labels: string): boolean => !labels.includes('interface="late');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type) types.set(type[1]!, type[2]!);
      if (line === '' || line.startsWith('#')) continue;
      const [name, labels] = split(line);
      if (name.endsWith('_created')) {
        const [previousName, previousLabels] = split(lines[i - 1] ?? ' ');
        const family = name.slice(0, -'_created'.length);
        if (types.get(family) !== 'counter' || previousName !== `${family}_total` || previousLabels !== labels)
          stray.push(line);
        continue;
      }
      if (!name.endsWith('_total') || types.get(name.slice(0, -'_total'.length)) !== 'counter') continue;
      const next = lines[i + 1] ?? '';
      const [nextName, nextLabels, nextValue] = split(next);
      const family = name.slice(0, -'_total'.length);
      if (nextName === `${family}_created` && nextLabels === labels) created.set(`${name}${labels}`, Number(nextValue));
      else if (!(kernelCounter.test(name) && foundAtStart(labels))) missing.push(line);
    }
    assert.deepEqual(missing, [], 'counter samples without _created');
    assert.deepEqual(stray, [], '_created samples not right after their counter sample');
    const at = (name: string, labels: string): number => {
      const t = created.get(labels === '' ? name : `${name}{${labels}}`);
      assert.ok(t !== undefined, `${name}{${labels}} has a _created sample`);
      return t;
    };
    const ns_ = `netns="${netns}"`;
    for (const [what, t] of [
      ['late0 carrier changes', at('netlink_interface_carrier_changes_total', `${ns_},interface="late0"`)],
      ['late0 flaps', at('netlink_interface_flaps_total', `${ns_},interface="late0"`)],
      [
        'babel routes added',
        at('netlink_route_changes_total', `${ns_},table="main",family="inet",protocol="babel",action="added"`),
      ],
    ] as const) {
      assert.ok(
        t >= Math.floor(bornAfter * 1000) / 1000 && t <= bornBefore,
        `${what}: _created ${t} not within [${bornAfter}, ${bornBefore}]`,
      );
    }
    // Born with the exporter (the initial dump): before the changes above.
    assert.ok(at('netlink_interface_flaps_total', `${ns_},interface="ex0"`) < bornAfter);
    assert.ok(at('netlink_messages_received_total', `${ns_},type="RTM_NEWROUTE"`) < bornAfter);
    assert.ok(at('process_cpu_seconds_total', '') < bornAfter);
    ns.ip('link', 'del', 'late0');
  });
});
