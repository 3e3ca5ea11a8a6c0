// Forwarding and the other netconf values (`ip netconf`), both families, in a private namespace,
// changed with sysctl inside it: netlink_forwarding_enabled, netlink_rp_filter_mode,
// netlink_mc_forwarding_enabled, netlink_proxy_neigh_enabled and
// netlink_ignore_routes_with_linkdown_enabled equal what /proc/sys/net/ipv{4,6}/conf says for
// "all", "default" and every interface; netlink_netconf_changes_total counts each change once;
// the `netconf` events say each change once and nothing for the initial dump or a new interface;
// after an overrun (the socket's smallest buffer, the exporter stopped) the resync makes every
// value exact and tells each change it missed once. Then `events` mode prints the lines.
//
// The steps build on each other: once one fails, the later ones are skipped.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createNetns, liveDescribe, Netns, run } from '../helpers/netns';
import { EventsProcess, Exporter, poll, Scrape, startEvents, startExporter } from '../helpers/exporter';
import { overrunAndResync, resumeAndStop, resyncsIn } from '../helpers/overrun';
import { sequentialSteps } from '../helpers/steps';

type Json = Record<string, unknown>;

/** The gauge of each setting, and the file that holds it under /proc/sys/net/ipv{4,6}/conf/IF/. */
const SETTINGS = [
  { setting: 'forwarding', metric: 'netlink_forwarding_enabled', v4: 'forwarding', v6: 'forwarding' },
  { setting: 'rp_filter', metric: 'netlink_rp_filter_mode', v4: 'rp_filter', v6: undefined },
  // IPv6 mc_forwarding is announced only by kernels built with IPv6 multicast routing: IPv4 only here.
  { setting: 'mc_forwarding', metric: 'netlink_mc_forwarding_enabled', v4: 'mc_forwarding', v6: undefined },
  { setting: 'proxy_neigh', metric: 'netlink_proxy_neigh_enabled', v4: 'proxy_arp', v6: 'proxy_ndp' },
  {
    setting: 'ignore_routes_with_linkdown',
    metric: 'netlink_ignore_routes_with_linkdown_enabled',
    v4: 'ignore_routes_with_linkdown',
    v6: 'ignore_routes_with_linkdown',
  },
] as const;

const FAMILIES = [
  ['inet', 'ipv4'],
  ['inet6', 'ipv6'],
] as const;

/** "family|interface|metric" -> the value the gauge must show (rp_filter's mode, else 0/1). */
function kernelValues(ns: Netns): Map<string, number> {
  const files: string[] = [];
  for (const [, dir] of FAMILIES)
    for (const s of SETTINGS) {
      const file = dir === 'ipv4' ? s.v4 : s.v6;
      if (file) files.push(`/proc/sys/net/${dir}/conf/*/${file}`);
    }
  const out = run('ip', ['netns', 'exec', ns.name, 'sh', '-c', `grep -s -H . ${files.join(' ')}`]).stdout;
  const values = new Map<string, number>();
  for (const line of out.split('\n')) {
    const m = /^\/proc\/sys\/net\/(ipv4|ipv6)\/conf\/([^/]+)\/([a-z_]+):(-?\d+)$/.exec(line.trim());
    if (!m) continue;
    const [, dir, iface, file, raw] = m;
    const family = dir === 'ipv4' ? 'inet' : 'inet6';
    const s = SETTINGS.find((x) => (dir === 'ipv4' ? x.v4 : x.v6) === file)!;
    const n = Number(raw);
    values.set(`${family}|${iface}|${s.metric}`, s.setting === 'rp_filter' ? n : n !== 0 ? 1 : 0);
  }
  return values;
}

/** The scrape's netconf gauges of the namespace, keyed as kernelValues. */
function scrapedValues(s: Scrape, netns: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const { metric } of SETTINGS)
    for (const sample of s.series(metric, { netns })) {
      if (metric === 'netlink_mc_forwarding_enabled' && sample.labels.family === 'inet6') continue;
      values.set(`${sample.labels.family}|${sample.labels.interface}|${metric}`, sample.value);
    }
  return values;
}

liveDescribe('forwarding and netconf: gauges, counters, events, exact after a resync', { timeout: 240_000 }, () => {
  let ns: Netns;
  let ex: Exporter | undefined;
  let dir: string | undefined;
  /** netlink_netconf_changes_total expected, by "family,setting". */
  const changes = new Map<string, number>();
  for (const [family] of FAMILIES)
    for (const s of SETTINGS)
      if (family === 'inet' || s.v6 !== undefined || s.setting === 'mc_forwarding')
        changes.set(`${family},${s.setting}`, 0);
  const bump = (family: string, setting: string, n = 1) =>
    changes.set(`${family},${setting}`, changes.get(`${family},${setting}`)! + n);
  /** How many netconf events the exporter has told so far. */
  let told = 0;
  /** Resyncs expected so far: before the overrun step, every change must come by notification. */
  let resyncsExpected = 0;

  const step = sequentialSteps();

  const sysctl = (...assignments: string[]) => ns.exec('sysctl', '-qw', ...assignments);

  /** Differences between the scrape and the kernel (both ways), and the expected counters. */
  function wrong(s: Scrape): string[] {
    const problems: string[] = [];
    const resyncs = s.value('netlink_resyncs_total', { netns: ns.name }) ?? 0;
    if (resyncs < resyncsExpected) problems.push(`netlink_resyncs_total ${resyncs}: no resync yet`);
    if (resyncsExpected === 0 && resyncs > 0)
      throw new Error(
        `netlink_resyncs_total ${resyncs}: an overrun before the storm (the change came by a resync, not by its notification)`,
      );
    const kernel = kernelValues(ns);
    const scraped = scrapedValues(s, ns.name);
    for (const [key, n] of kernel)
      if (scraped.get(key) !== n) problems.push(`${key}: ${scraped.get(key)}, kernel ${n}`);
    for (const key of scraped.keys())
      if (!kernel.has(key)) problems.push(`${key}: scraped, the kernel has no such entry`);
    for (const [key, n] of changes) {
      const [family, setting] = key.split(',') as [string, string];
      const got = s.value('netlink_netconf_changes_total', { netns: ns.name, family, setting });
      if (got !== n) problems.push(`changes ${key}: ${got}, expected ${n}`);
    }
    return problems;
  }

  const settle = (what: string, timeoutMs = 15_000) =>
    ex!.waitFor(
      what,
      (s) => {
        const w = wrong(s);
        return w.length ? w.slice(0, 8).join('; ') : true;
      },
      { timeoutMs },
    );

  async function netconfEvents(): Promise<Json[]> {
    const res = await ex!.get(`/api/v1/events?kind=netconf&netns=${encodeURIComponent(ns.name)}&limit=1000`);
    assert.equal(res.status, 200, res.body.slice(0, 300));
    return (JSON.parse(res.body) as { events: Json[] }).events;
  }

  /** The events told since the last call, as "interface family setting oldValue->value", in order. */
  async function newEvents(expected: number): Promise<string[]> {
    let events: Json[] = [];
    await poll(`${expected} new netconf events`, async () => {
      events = await netconfEvents();
      return events.length >= told + expected ? true : `${events.length - told} new events`;
    });
    const fresh = events.slice(told);
    told = events.length;
    for (const e of fresh) {
      // The JSON schema, field for field (README's event-schema table).
      assert.deepEqual(Object.keys(e).sort(), [
        'action',
        'family',
        'ifindex',
        'interface',
        'kind',
        'netns',
        'oldValue',
        'seq',
        'setting',
        'time',
        'value',
      ]);
      assert.equal(e.kind, 'netconf');
      assert.equal(e.action, 'changed');
      assert.equal(e.netns, ns.name);
    }
    return fresh.map((e) => `${e.interface} ${e.family} ${e.setting} ${e.oldValue}->${e.value}`);
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nle-netconf-'));
    const config = path.join(dir, 'config.yml');
    // A small receive buffer: room for the notifications of one sysctl write (a few dozen), not
    // for the storm of the overrun step, written while the exporter is stopped.
    fs.writeFileSync(config, 'socket:\n  receive_buffer_bytes: 32768\n');
    ns = createNetns('netconf');
    ns.ip('link', 'set', 'dev', 'lo', 'up');
    ns.addVeth('nf0', 'nf1', { up: true });
    ns.addVeth('nx0', 'nx1');
    // A namespace's IPv4 "all" and "default" start from the host's: start from off, whatever the host does.
    sysctl('net.ipv4.conf.all.forwarding=0', 'net.ipv6.conf.all.forwarding=0');
    ex = await startExporter({ netns: [ns.name], configFile: config });
  });

  after(async () => {
    await resumeAndStop(ex);
    ns?.delete();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  step(
    'at start: every value of all, default and each interface equals the kernel; counters at 0; no events',
    async () => {
      const s = await settle('the initial dump');
      const netns = ns.name;
      for (const iface of ['all', 'default', 'lo', 'nf0', 'nf1', 'nx0', 'nx1']) {
        assert.equal(s.value('netlink_forwarding_enabled', { netns, interface: iface, family: 'inet' }), 0, iface);
        assert.equal(s.value('netlink_forwarding_enabled', { netns, interface: iface, family: 'inet6' }), 0, iface);
      }
      // 7 entries a family: 5 IPv4 values, 3 IPv6 ones (IPv6 has no rp_filter).
      assert.equal(scrapedValues(s, netns).size, 7 * 5 + 7 * 3, s.show('netlink_forwarding_enabled', { netns }));
      assert.equal(s.series('netlink_netconf_changes_total', { netns }).length, 9);
      assert.equal(s.value('netlink_netconf_dropped_total', { netns }), 0);
      assert.equal((await netconfEvents()).length, 0, 'the initial dump is quiet');
    },
  );

  step('IPv4 forwarding on for the namespace: all, default and every interface turn on, one event each', async () => {
    sysctl('net.ipv4.conf.all.forwarding=1');
    bump('inet', 'forwarding', 7);
    await settle('IPv4 forwarding on');
    const events = await newEvents(7);
    assert.deepEqual(
      [...events].sort(),
      ['all', 'default', 'lo', 'nf0', 'nf1', 'nx0', 'nx1'].map((i) => `${i} inet forwarding off->on`).sort(),
    );
  });

  step(
    'per interface: IPv6 forwarding, rp_filter strict and loose, proxy_arp, proxy_ndp, ignore_routes_with_linkdown',
    async () => {
      sysctl('net.ipv6.conf.nf0.forwarding=1');
      sysctl('net.ipv4.conf.nf0.rp_filter=2');
      sysctl('net.ipv4.conf.all.rp_filter=1');
      sysctl('net.ipv4.conf.nf1.proxy_arp=1');
      sysctl('net.ipv6.conf.nf1.proxy_ndp=1');
      sysctl('net.ipv4.conf.nf0.ignore_routes_with_linkdown=1');
      sysctl('net.ipv6.conf.nf0.ignore_routes_with_linkdown=1');
      // The same value again changes nothing: no event, no count.
      sysctl('net.ipv4.conf.nf0.rp_filter=2');
      bump('inet6', 'forwarding');
      bump('inet', 'rp_filter', 2);
      bump('inet', 'proxy_neigh');
      bump('inet6', 'proxy_neigh');
      bump('inet', 'ignore_routes_with_linkdown');
      bump('inet6', 'ignore_routes_with_linkdown');
      const s = await settle('the per-interface values');
      const netns = ns.name;
      assert.equal(s.value('netlink_rp_filter_mode', { netns, interface: 'nf0', family: 'inet' }), 2);
      assert.equal(s.value('netlink_rp_filter_mode', { netns, interface: 'all', family: 'inet' }), 1);
      assert.equal(s.value('netlink_forwarding_enabled', { netns, interface: 'nf0', family: 'inet6' }), 1);
      assert.equal(s.value('netlink_forwarding_enabled', { netns, interface: 'nf1', family: 'inet6' }), 0);
      assert.deepEqual(await newEvents(7), [
        'nf0 inet6 forwarding off->on',
        'nf0 inet rp_filter off->loose',
        'all inet rp_filter off->strict',
        'nf1 inet proxy_neigh off->on',
        'nf1 inet6 proxy_neigh off->on',
        'nf0 inet ignore_routes_with_linkdown off->on',
        'nf0 inet6 ignore_routes_with_linkdown off->on',
      ]);
      // Each event carries the kernel's ifindex; the namespace-wide ones -1.
      const events = (await netconfEvents()).slice(-7);
      assert.equal(events[0]!.ifindex, ns.ifindex('nf0'));
      assert.equal(events[2]!.ifindex, -1);
    },
  );

  step('a new interface is quiet and gets its series; a rename moves them; a deletion takes them away', async () => {
    ns.ip('link', 'add', 'name', 'nn0', 'type', 'ifb');
    let s = await settle('nn0 added');
    assert.equal(s.value('netlink_forwarding_enabled', { netns: ns.name, interface: 'nn0', family: 'inet' }), 1);
    ns.ip('link', 'set', 'dev', 'nn0', 'name', 'nn1');
    s = await settle('nn0 renamed nn1');
    assert.equal(s.series('netlink_forwarding_enabled', { netns: ns.name, interface: 'nn0' }).length, 0);
    ns.ip('link', 'del', 'dev', 'nn1');
    s = await settle('nn1 deleted');
    assert.equal(s.series('netlink_forwarding_enabled', { netns: ns.name, interface: 'nn1' }).length, 0);
    // A rename is an RTM_DELNETCONF and a new entry: neither is a change of a value.
    assert.equal((await netconfEvents()).length, told, 'no netconf event for a new, renamed or deleted interface');
  });

  step('IPv4 forwarding off on a router: every interface turns off, one event each', async () => {
    sysctl('net.ipv4.conf.all.forwarding=0');
    bump('inet', 'forwarding', 7);
    await settle('IPv4 forwarding off');
    const events = await newEvents(7);
    assert.deepEqual(
      [...events].sort(),
      ['all', 'default', 'lo', 'nf0', 'nf1', 'nx0', 'nx1'].map((i) => `${i} inet forwarding on->off`).sort(),
    );
  });

  step('values changed while the socket overran: the resync makes them exact and tells each change once', async () => {
    resyncsExpected = resyncsIn(await ex!.scrape(), ns.name) + 1;
    // all, default, lo, nf0, nf1: off -> on (nx0 and its peer nx1 went: no change of a value).
    bump('inet', 'forwarding', 5);
    bump('inet6', 'forwarding');
    bump('inet', 'rp_filter');
    bump('inet', 'proxy_neigh');
    // Addresses added first fill the kernel's buffer, so that every netconf notification after
    // them is lost and the resync alone finds the changes (each value changed once: the counts
    // are then exact).
    const { scrape: s } = await overrunAndResync(
      ex!,
      ns.name,
      () => {
        const adds: string[] = [];
        for (let i = 0; i < 800; i++) adds.push(`addr add 10.77.${i >> 8}.${i & 255}/32 dev nf0`);
        ns.batch(adds);
        ns.ip('link', 'del', 'dev', 'nx0');
        sysctl(
          'net.ipv4.conf.all.forwarding=1',
          'net.ipv6.conf.nf0.forwarding=0',
          'net.ipv4.conf.nf0.rp_filter=0',
          'net.ipv4.conf.nf1.proxy_arp=0',
        );
      },
      {
        what: 'a resync, then the values equal the kernel',
        until: (sc) => {
          const w = wrong(sc);
          return w.length ? w.slice(0, 8).join('; ') : true;
        },
      },
    );
    assert.equal(s.series('netlink_forwarding_enabled', { netns: ns.name, interface: 'nx0' }).length, 0);
    const events = await newEvents(8);
    assert.deepEqual([...events].sort(), [
      'all inet forwarding off->on',
      'default inet forwarding off->on',
      'lo inet forwarding off->on',
      'nf0 inet forwarding off->on',
      'nf0 inet rp_filter loose->off',
      'nf0 inet6 forwarding on->off',
      'nf1 inet forwarding off->on',
      'nf1 inet proxy_neigh on->off',
    ]);
    // And not a second time: a scrape after one more change shows exactly that one more.
    sysctl('net.ipv4.conf.nf1.ignore_routes_with_linkdown=1');
    bump('inet', 'ignore_routes_with_linkdown');
    await settle('one more change after the resync');
    assert.deepEqual(await newEvents(1), ['nf1 inet ignore_routes_with_linkdown off->on']);
  });
});

liveDescribe(
  'forwarding and netconf in events mode: one line per change, none from the initial dump',
  { timeout: 120_000 },
  () => {
    let ns: Netns;
    let ev: EventsProcess | undefined;
    const step = sequentialSteps();
    const sysctl = (...assignments: string[]) => ns.exec('sysctl', '-qw', ...assignments);
    /** A netconf line of the test's namespace (the exporter's own namespace is watched too). */
    const ours = (line: string) => line.includes(` netns=${ns.name} netconf `);

    before(async () => {
      ns = createNetns('netconfev');
      ns.addVeth('ne0', 'ne1', { up: true });
      sysctl('net.ipv4.conf.all.forwarding=0');
      ev = startEvents({ netns: [ns.name] });
      // Readiness without knowing the log lines: flip the namespace's IPv6 forwarding until a line
      // tells it (changes before the initial dump are part of its baseline, told by nothing).
      let on = false;
      await poll(
        'events mode telling an IPv6 forwarding change',
        async () => {
          if (!ev!.running) throw new Error(`events mode exited (code ${ev!.child.exitCode}): ${ev!.stderr.tail(20)}`);
          on = !on;
          sysctl(`net.ipv6.conf.default.forwarding=${on ? 1 : 0}`);
          try {
            await ev!.nextLine(
              'a default inet6 forwarding line',
              (l) => ours(l) && / changed default inet6 forwarding=/.test(l),
              1_000,
            );
            return true;
          } catch {
            return 'no line yet';
          }
        },
        { timeoutMs: 30_000, intervalMs: 10 },
      );
      // Back to off, and its line read: from here on every line is one of ours.
      if (on) {
        sysctl('net.ipv6.conf.default.forwarding=0');
        await ev.nextLine(
          'default inet6 forwarding off',
          (l) => ours(l) && / changed default inet6 forwarding=on->off$/.test(l),
        );
      }
    });

    after(async () => {
      await ev?.stop();
      ns?.delete();
    });

    step('forwarding on for the namespace: one line per entry, in the human format', async () => {
      const ifindex = { ne0: ns.ifindex('ne0'), ne1: ns.ifindex('ne1'), lo: 1 };
      sysctl('net.ipv4.conf.all.forwarding=1');
      const lines = new Set<string>();
      for (let i = 0; i < 5; i++) {
        const line = await ev!.nextLine('an IPv4 forwarding line', ours);
        lines.add(line.replace(/^\S+ /, '').replace(`netns=${ns.name} `, ''));
      }
      assert.deepEqual([...lines].sort(), [
        'netconf changed all inet forwarding=off->on',
        'netconf changed default inet forwarding=off->on',
        `netconf changed lo ifindex=${ifindex.lo} inet forwarding=off->on`,
        `netconf changed ne0 ifindex=${ifindex.ne0} inet forwarding=off->on`,
        `netconf changed ne1 ifindex=${ifindex.ne1} inet forwarding=off->on`,
      ]);
    });

    step('rp_filter loose, then the same value again (no line), then proxy_arp: exactly two lines', async () => {
      sysctl('net.ipv4.conf.ne0.rp_filter=2');
      sysctl('net.ipv4.conf.ne0.rp_filter=2');
      sysctl('net.ipv4.conf.ne1.proxy_arp=1');
      const first = await ev!.nextLine('the rp_filter line', ours);
      assert.match(
        first,
        new RegExp(`netns=${ns.name} netconf changed ne0 ifindex=${ns.ifindex('ne0')} inet rp_filter=off->loose$`),
      );
      const second = await ev!.nextLine('the proxy_arp line', ours);
      assert.match(second, / netconf changed ne1 ifindex=\d+ inet proxy_neigh=off->on$/);
      assert.deepEqual(ev!.unread().filter(ours), [], 'no line for the value written twice');
    });
  },
);
