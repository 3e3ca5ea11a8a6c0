// Topology and link settings on the live kernel, in private namespaces: a bridge port enslaved
// and released (and one created as a port, then deleted), allmulticast on, macvlan and vxlan parents, a macvlan whose parent is in another namespace, an
// alias set, changed and cleared, alternative names added and removed, an MTU change, promisc
// on and off. Each step checks the exact info series and the exact `setting` event lines, twice:
// from /api/v1/events of the exporter, and line by line from an `events` mode process watching
// the same namespace. Then changes made while the exporter was stopped and its socket overran
// come out of the resync once each, and the series are exact again. The steps build on each
// other: once one fails, the later ones are skipped.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createNetns, liveDescribe, Netns } from '../helpers/netns';
import { EventsProcess, Exporter, poll, Scrape, startEvents, startExporter } from '../helpers/exporter';
import { eventsModeReady, overrunAndResync, resumeAndStop } from '../helpers/overrun';
import { formatEventLine } from '../../src/events/format';
import type { DomainEvent } from '../../src/state/events';
import { sequentialSteps } from '../helpers/steps';

const FAMILIES = [
  'netlink_interface_master_info',
  'netlink_interface_parent_info',
  'netlink_interface_alias_info',
  'netlink_interface_altname_info',
] as const;

liveDescribe('topology: masters, parents, aliases, altnames, MTU and flags', { timeout: 240_000 }, () => {
  let ns: Netns;
  let other: Netns;
  let ex: Exporter | undefined;
  let ev: EventsProcess | undefined;
  let dir = '';
  /** Every setting event line expected so far, without the time and netns. */
  const expectedLines: string[] = [];
  /** The info series expected now, as `family{labels}` keys (netns left out). */
  let expectedSeries: string[] = [];
  /** How many setting lines of the events process were checked so far. */
  let eventsModeSeen = 0;

  const step = sequentialSteps();

  const key = (labels: Record<string, string>): string =>
    Object.entries(labels)
      .filter(([k]) => k !== 'netns')
      .map(([k, v]) => `${k}=${v}`)
      .join(',');

  function seriesNow(s: Scrape): string[] {
    return FAMILIES.flatMap((f) =>
      s.series(f, { netns: ns.name }).map((x) => `${f}{${key(x.labels)}} ${x.value}`),
    ).sort();
  }

  /** The exporter's setting events for our namespace, as human lines without time and netns. */
  async function apiLines(): Promise<string[]> {
    const res = await ex!.get(`/api/v1/events?kind=setting&limit=1000&netns=${encodeURIComponent(ns.name)}`);
    assert.equal(res.status, 200, res.body);
    const events = (JSON.parse(res.body) as { events: DomainEvent[] }).events;
    return events.map((e) => formatEventLine({ ...e, time: 'T', netns: '' }).replace(/^T /, ''));
  }

  /** An events-mode line without its time and netns, or undefined for other kinds. */
  function settingOf(line: string): string | undefined {
    const m = /^\S+ netns=\S+ (setting .*)$/.exec(line);
    return m ? m[1] : undefined;
  }

  /**
   * Waits until the series are the expected ones and the events (API and events mode) are the
   * expected lines, in order, nothing more.
   */
  async function settle(what: string): Promise<Scrape> {
    const want = [...expectedSeries].sort();
    const s = await ex!.waitFor(what, (scrape) => {
      const got = seriesNow(scrape);
      return JSON.stringify(got) === JSON.stringify(want) ? true : `series: ${got.join(' ')}`;
    });
    assert.deepEqual(seriesNow(s), want);
    let lines: string[] = [];
    await poll(`${what}: the API's events`, async () => {
      lines = await apiLines();
      return lines.length >= expectedLines.length ? true : `${lines.length} events: ${lines.join(' | ')}`;
    });
    assert.deepEqual(lines, expectedLines, `${what}: /api/v1/events`);
    // events mode: the next lines of kind setting, each against the change that caused it.
    for (; eventsModeSeen < expectedLines.length; eventsModeSeen++) {
      const want1 = expectedLines[eventsModeSeen]!;
      const got = await ev!.nextLine(`${what}: ${want1}`, (l) => settingOf(l) !== undefined, 20_000);
      assert.equal(settingOf(got), want1, `${what}: events mode line ${eventsModeSeen + 1}: ${got}`);
    }
    return s;
  }

  const ifx = (name: string): string => `${name} ifindex=${ns.ifindex(name)}`;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nle-topo-'));
    const config = path.join(dir, 'config.yml');
    // The kernel's smallest receive buffer: a burst while the exporter is stopped overruns it.
    fs.writeFileSync(config, 'socket:\n  receive_buffer_bytes: 1\n');
    ns = createNetns('topo');
    other = createNetns('topoo');
    ns.ip('link', 'set', 'dev', 'lo', 'up');
    ns.addVeth('t0', 't1', { up: true });
    ns.ip('link', 'add', 'name', 'br0', 'type', 'bridge');
    ns.ip('link', 'set', 'dev', 'br0', 'addrgenmode', 'none');
    ns.ip('link', 'set', 'dev', 'br0', 'up');
    // Set before the exporter starts: held quietly from the initial dump.
    ns.ip('link', 'set', 'dev', 't1', 'alias', 'pre set');
    expectedSeries = ['netlink_interface_alias_info{interface=t1,alias=pre set} 1'];
    ex = await startExporter({ netns: [ns.name], configFile: config });
    ev = startEvents({ netns: [ns.name] });
    await eventsModeReady(ev, ns);
  });

  after(async () => {
    await ev?.stop();
    await resumeAndStop(ex);
    ns?.delete();
    other?.delete();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  step('at start: the alias set before is held, no master, no parent for a veth, no event', async () => {
    const s = await settle('start');
    assert.equal(s.value('netlink_interface_altnames_dropped', { netns: ns.name }), 0);
  });

  step('ip link set master br0, then nomaster: enslaved and released, naming the bridge', async () => {
    ns.ip('link', 'set', 'dev', 't0', 'master', 'br0');
    expectedLines.push(`setting enslaved ${ifx('t0')} master=br0 master_kind=bridge`);
    expectedSeries.push('netlink_interface_master_info{interface=t0,master=br0,master_kind=bridge} 1');
    await settle('t0 enslaved');
    ns.ip('link', 'set', 'dev', 't0', 'nomaster');
    expectedLines.push(`setting released ${ifx('t0')} master=br0 master_kind=bridge`);
    expectedSeries = expectedSeries.filter((x) => !x.startsWith('netlink_interface_master_info'));
    await settle('t0 released');
    // Created as a port: enslaved; deleted as one: removed, not released (the kernel sends no
    // RTM_NEWLINK without the master before the RTM_DELLINK).
    ns.ip('link', 'add', 'tp2', 'master', 'br0', 'type', 'veth', 'peer', 'name', 'tp3');
    expectedLines.push(`setting enslaved ${ifx('tp2')} master=br0 master_kind=bridge`);
    expectedSeries.push('netlink_interface_master_info{interface=tp2,master=br0,master_kind=bridge} 1');
    await settle('tp2 created as a port');
    ns.ip('link', 'del', 'dev', 'tp2');
    expectedSeries = expectedSeries.filter((x) => !x.includes('interface=tp2'));
    // A marker after it: once its line is in, the deletion was seen, and told no setting.
    ns.ip('link', 'set', 'dev', 't0', 'allmulticast', 'on');
    expectedLines.push(`setting flag ${ifx('t0')} allmulti=off->on`);
    await settle('tp2 deleted');
  });

  step('macvlan and vxlan on t0: parent_info names t0', async () => {
    ns.ip('link', 'add', 'link', 't0', 'name', 'mv0', 'type', 'macvlan', 'mode', 'bridge');
    ns.ip('link', 'add', 'name', 'vx0', 'type', 'vxlan', 'id', '42', 'dev', 't0', 'dstport', '4789');
    expectedSeries.push(
      'netlink_interface_parent_info{interface=mv0,parent=t0,parent_netnsid=} 1',
      'netlink_interface_parent_info{interface=vx0,parent=t0,parent_netnsid=} 1',
    );
    await settle('macvlan and vxlan added');
    // Deleted, their series go with them (no grace period for topology). (A port with a macvlan
    // on it cannot join a bridge: mv0 goes before t0 is enslaved again.)
    ns.ip('link', 'del', 'dev', 'vx0');
    ns.ip('link', 'del', 'dev', 'mv0');
    expectedSeries = expectedSeries.filter((x) => !x.includes('interface=vx0') && !x.includes('interface=mv0'));
    await settle('vxlan and macvlan deleted');
  });

  step('a macvlan moved in from another namespace: parent if<N> with the link-netnsid', async () => {
    other.ip('link', 'add', 'name', 'lower0', 'type', 'ifb');
    other.ip('link', 'add', 'link', 'lower0', 'name', 'mvx', 'type', 'macvlan');
    const lower = other.ifindex('lower0');
    other.ip('link', 'set', 'dev', 'mvx', 'netns', ns.name);
    const detail = ns.ipJson<Array<{ link_netnsid?: number }>>('-d', 'link', 'show', 'dev', 'mvx')[0]!;
    assert.equal(typeof detail.link_netnsid, 'number', 'ip link shows a link-netnsid');
    expectedSeries.push(
      `netlink_interface_parent_info{interface=mvx,parent=if${lower},parent_netnsid=${detail.link_netnsid}} 1`,
    );
    await settle('mvx moved in');
  });

  step('alias set, changed, cleared: one alias event each, old -> new', async () => {
    ns.ip('link', 'set', 'dev', 't0', 'alias', 'circuit 42');
    expectedLines.push(`setting alias ${ifx('t0')} alias=""->"circuit 42"`);
    expectedSeries.push('netlink_interface_alias_info{interface=t0,alias=circuit 42} 1');
    await settle('alias set');
    ns.ip('link', 'set', 'dev', 't0', 'alias', 'circuit-43');
    expectedLines.push(`setting alias ${ifx('t0')} alias="circuit 42"->"circuit-43"`);
    expectedSeries = expectedSeries.map((x) => x.replace('alias=circuit 42', 'alias=circuit-43'));
    await settle('alias changed');
    ns.ip('link', 'set', 'dev', 't0', 'alias', '');
    expectedLines.push(`setting alias ${ifx('t0')} alias="circuit-43"->""`);
    expectedSeries = expectedSeries.filter((x) => !x.includes('interface=t0,alias='));
    await settle('alias cleared');
  });

  step('ip link property add/del altname: altname_added, altname_removed', async () => {
    ns.ip('link', 'property', 'add', 'dev', 't0', 'altname', 'topo-uplink-port-a');
    expectedLines.push(`setting altname_added ${ifx('t0')} altname=topo-uplink-port-a`);
    expectedSeries.push('netlink_interface_altname_info{interface=t0,altname=topo-uplink-port-a} 1');
    await settle('altname added');
    ns.ip('link', 'property', 'del', 'dev', 't0', 'altname', 'topo-uplink-port-a');
    expectedLines.push(`setting altname_removed ${ifx('t0')} altname=topo-uplink-port-a`);
    expectedSeries = expectedSeries.filter((x) => !x.includes('altname=topo-uplink-port-a'));
    await settle('altname removed');
  });

  step('MTU changed: mtu old -> new, and the MTU gauge follows', async () => {
    ns.ip('link', 'set', 'dev', 't1', 'mtu', '1400');
    expectedLines.push(`setting mtu ${ifx('t1')} mtu=1500->1400`);
    const s = await settle('mtu 1400');
    assert.equal(s.value('netlink_interface_mtu_bytes', { netns: ns.name, interface: 't1' }), 1400);
  });

  step('promisc on, then off: a flag event each way', async () => {
    ns.ip('link', 'set', 'dev', 't1', 'promisc', 'on');
    expectedLines.push(`setting flag ${ifx('t1')} promisc=off->on`);
    await settle('promisc on');
    ns.ip('link', 'set', 'dev', 't1', 'promisc', 'off');
    expectedLines.push(`setting flag ${ifx('t1')} promisc=on->off`);
    await settle('promisc off');
  });

  step('changed while the socket overran: the resync tells each change once, the series are exact', async () => {
    const storm: string[] = [];
    for (let i = 0; i < 300; i++) storm.push(`addr add 10.77.${i >> 7}.${(i & 127) + 1}/32 dev lo`);
    // The storm fills the exporter's socket buffer, so the changes after it reach only the
    // resync's dump (events mode, with its own socket and buffer, hears them as they happen: the
    // same lines).
    await overrunAndResync(ex!, ns.name, () => {
      ns.batch(storm);
      // In the order the dump lists them (by ifindex: t1, the veth's peer, was made first) and
      // the model tells them.
      assert.ok(ns.ifindex('t1') < ns.ifindex('t0'));
      ns.ip('link', 'set', 'dev', 't1', 'mtu', '1300');
      ns.ip('link', 'property', 'add', 'dev', 't1', 'altname', 'topo-late-name');
      ns.ip('link', 'set', 'dev', 't1', 'promisc', 'on');
      ns.ip('link', 'set', 'dev', 't0', 'master', 'br0');
      ns.ip('link', 'set', 'dev', 't0', 'alias', 'after resync');
    });
    expectedLines.push(
      `setting mtu ${ifx('t1')} mtu=1400->1300`,
      `setting altname_added ${ifx('t1')} altname=topo-late-name`,
      `setting flag ${ifx('t1')} promisc=off->on`,
      `setting enslaved ${ifx('t0')} master=br0 master_kind=bridge`,
      `setting alias ${ifx('t0')} alias=""->"after resync"`,
    );
    expectedSeries.push(
      'netlink_interface_master_info{interface=t0,master=br0,master_kind=bridge} 1',
      'netlink_interface_alias_info{interface=t0,alias=after resync} 1',
      'netlink_interface_altname_info{interface=t1,altname=topo-late-name} 1',
    );
    const s = await settle('after the resync');
    assert.equal(s.value('netlink_interface_mtu_bytes', { netns: ns.name, interface: 't1' }), 1300);
    // What the kernel says, for the record: the same master, alias and altname.
    const t0 = ns.link('t0') as unknown as { master?: string; ifalias?: string };
    assert.equal(t0.master, 'br0');
    assert.equal(t0.ifalias, 'after resync');
    // A second resync that finds nothing changed tells nothing: SIGSTOP and a storm again.
    await overrunAndResync(ex!, ns.name, () => ns.batch(storm.map((l) => l.replace('addr add', 'addr del'))), {
      what: 'a second resync',
    });
    // A marker after it: once its event is in, anything the resync told is in too.
    ns.ip('link', 'set', 'dev', 't1', 'promisc', 'off');
    expectedLines.push(`setting flag ${ifx('t1')} promisc=on->off`);
    await settle('after the second resync');
  });
});
