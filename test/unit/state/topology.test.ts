// Topology and link settings on synthetic RTM_NEWLINKs: the model keeps master, parent, alias and
// alternative names (bounded, counted past the cap), the `setting` events (enslaved, released,
// mtu, alias, altname, flag) are told once per change, never for the initial dump, once for a
// resync that finds a change and never for one that finds none; the info series render only for
// interfaces that have something to say (a pod's veth: none), and the event lines read as the
// README says.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IFF_ALLMULTI, IFF_NOARP, IFF_PROMISC } from '../../../src/netlink/constants';
import type { LinkMessage } from '../../../src/netlink/types';
import type { DomainEvent, PendingEvent } from '../../../src/state/events';
import { NamespaceModel } from '../../../src/state/model';
import { labelText, MAX_ALTNAMES, NO_TOPOLOGY } from '../../../src/state/topology';
import { formatEventLine } from '../../../src/events/format';
import { topology } from '../../../src/metrics/collectors/topology';
import { ExpositionWriter } from '../../../src/metrics/writer';
import { namespaceSource, upLink } from '../../helpers/model-source';

function model(events: PendingEvent[], netns = ''): NamespaceModel {
  return new NamespaceModel({
    netns,
    include: /^.*$/,
    exclude: undefined,
    maxTracked: 100,
    now: () => 1000,
    onEvent: (e) => events.push(e),
  });
}

function link(ifindex: number, name: string, more: Partial<LinkMessage> = {}): LinkMessage {
  return { ...upLink(ifindex, name), ...more };
}

/** An event as its human line, without time and netns. */
const line = (e: PendingEvent): string =>
  formatEventLine({ ...(e as DomainEvent), seq: 1, time: 'T', netns: '' }).replace(/^T /, '');

const settingLines = (events: PendingEvent[]): string[] => events.filter((e) => e.kind === 'setting').map(line);

function render(m: NamespaceModel, compact = false): string[] {
  const w = new ExpositionWriter(false);
  topology(w, [namespaceSource(m, { compact })]);
  return w
    .text()
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'));
}

test('the initial dump is quiet; later changes are told once each, as lines', () => {
  const events: PendingEvent[] = [];
  const m = model(events);
  m.link(link(2, 'br0', { kind: 'bridge' }), 'initial-dump');
  m.link(link(3, 'p1', { kind: 'veth', link: 4, master: 2, slaveKind: 'bridge', alias: 'circuit 42' }), 'initial-dump');
  m.link(link(5, 'mv0', { kind: 'macvlan', link: 3, altNames: ['mv-long-name'] }), 'initial-dump');
  assert.equal(events.length, 0, 'nothing told for the initial dump');
  assert.deepEqual(render(m), [
    'netlink_interface_master_info{netns="",interface="p1",master="br0",master_kind="bridge"} 1',
    'netlink_interface_parent_info{netns="",interface="mv0",parent="p1",parent_netnsid=""} 1',
    'netlink_interface_alias_info{netns="",interface="p1",alias="circuit 42"} 1',
    'netlink_interface_altname_info{netns="",interface="mv0",altname="mv-long-name"} 1',
    'netlink_interface_altnames_dropped{netns=""} 0',
  ]);

  // nomaster; the same message again is no change.
  m.link(link(3, 'p1', { kind: 'veth', link: 4, alias: 'circuit 42' }));
  m.link(link(3, 'p1', { kind: 'veth', link: 4, alias: 'circuit 42' }));
  // master again, a new MTU, the alias changed, promisc on.
  m.link(
    link(3, 'p1', {
      kind: 'veth',
      link: 4,
      master: 2,
      slaveKind: 'bridge',
      mtu: 9000,
      alias: 'circuit "43"',
      ifFlags: upLink(3, 'p1').ifFlags | IFF_PROMISC,
    }),
  );
  // altnames: one added, then one removed and one added; allmulti and noarp on, promisc off.
  m.link(link(5, 'mv0', { kind: 'macvlan', link: 3, altNames: ['mv-long-name', 'second'] }));
  m.link(
    link(5, 'mv0', {
      kind: 'macvlan',
      link: 3,
      altNames: ['second', 'third'],
      ifFlags: upLink(5, 'mv0').ifFlags | IFF_ALLMULTI | IFF_NOARP,
    }),
  );
  m.link(link(3, 'p1', { kind: 'veth', link: 4, master: 2, slaveKind: 'bridge', mtu: 9000 }));
  assert.deepEqual(settingLines(events), [
    'setting released p1 ifindex=3 master=br0 master_kind=bridge',
    'setting enslaved p1 ifindex=3 master=br0 master_kind=bridge',
    'setting mtu p1 ifindex=3 mtu=1500->9000',
    'setting alias p1 ifindex=3 alias="circuit 42"->"circuit \\"43\\""',
    'setting flag p1 ifindex=3 promisc=off->on',
    'setting altname_added mv0 ifindex=5 altname=second',
    'setting altname_removed mv0 ifindex=5 altname=mv-long-name',
    'setting altname_added mv0 ifindex=5 altname=third',
    'setting flag mv0 ifindex=5 allmulti=off->on',
    'setting flag mv0 ifindex=5 noarp=off->on',
    'setting alias p1 ifindex=3 alias="circuit \\"43\\""->""',
    'setting flag p1 ifindex=3 promisc=on->off',
  ]);
  const enslaved = events.find((e) => e.kind === 'setting' && e.action === 'enslaved');
  assert.deepEqual(enslaved, {
    netns: '',
    kind: 'setting',
    action: 'enslaved',
    interface: 'p1',
    ifindex: 3,
    master: 'br0',
    masterKind: 'bridge',
  });
  assert.deepEqual(render(m), [
    'netlink_interface_master_info{netns="",interface="p1",master="br0",master_kind="bridge"} 1',
    'netlink_interface_parent_info{netns="",interface="mv0",parent="p1",parent_netnsid=""} 1',
    'netlink_interface_altname_info{netns="",interface="mv0",altname="second"} 1',
    'netlink_interface_altname_info{netns="",interface="mv0",altname="third"} 1',
    'netlink_interface_altnames_dropped{netns=""} 0',
  ]);
  // A rename of the master moves the port's label with it (named at scrape time).
  m.link(link(2, 'br-core', { kind: 'bridge' }));
  assert.match(render(m)[0]!, /interface="p1",master="br-core"/);
});

test('an interface created as a port: link added, then enslaved', () => {
  const events: PendingEvent[] = [];
  const m = model(events);
  m.link(link(2, 'br0', { kind: 'bridge' }), 'initial-dump');
  m.link(link(7, 'p7', { kind: 'veth', master: 2, slaveKind: 'bridge' }));
  assert.deepEqual(
    events.map((e) => `${e.kind} ${e.action} ${e.interface}`),
    ['link added p7', 'setting enslaved p7'],
  );
  assert.deepEqual(settingLines(events), ['setting enslaved p7 ifindex=7 master=br0 master_kind=bridge']);
});

test('a resync tells what changed unheard once, and nothing when nothing changed', () => {
  const events: PendingEvent[] = [];
  const m = model(events);
  m.link(link(2, 'br0', { kind: 'bridge' }), 'initial-dump');
  m.link(link(3, 'p1', { kind: 'veth', link: 4 }), 'initial-dump');
  const resync = (msgs: LinkMessage[]): void => {
    m.beginSweep();
    for (const msg of msgs) m.link(msg, 'resync-dump');
    m.sweep();
  };
  resync([link(2, 'br0', { kind: 'bridge' }), link(3, 'p1', { kind: 'veth', link: 4 })]);
  assert.deepEqual(settingLines(events), [], 'a resync that finds nothing changed is quiet');
  const changed = link(3, 'p1', { kind: 'veth', link: 4, master: 2, slaveKind: 'bridge', mtu: 1400, alias: 'x' });
  resync([link(2, 'br0', { kind: 'bridge' }), changed]);
  resync([link(2, 'br0', { kind: 'bridge' }), changed]);
  assert.deepEqual(settingLines(events), [
    'setting enslaved p1 ifindex=3 master=br0 master_kind=bridge',
    'setting mtu p1 ifindex=3 mtu=1500->1400',
    'setting alias p1 ifindex=3 alias=""->"x"',
  ]);
});

test('a veth has no parent (its IFLA_LINK is its peer); a parent in another namespace is if<N> with its netnsid', () => {
  const m = model([]);
  m.link(link(2, 'eth0', { kind: 'veth', link: 17, linkNetnsid: 0 }), 'initial-dump');
  m.link(link(3, 'lo', { ifFlags: upLink(3, 'lo').ifFlags | IFF_NOARP }), 'initial-dump');
  assert.deepEqual(render(m, true), [], 'a pod namespace (lo and a veth) costs no series');
  assert.equal(m.links.get(2)!.topology, NO_TOPOLOGY, 'and no object of its own');
  m.link(link(4, 'mv0', { kind: 'macvlan', link: 9, linkNetnsid: 1 }));
  m.link(link(5, 'vx0', { kind: 'vxlan', link: 0 }));
  m.link(link(6, 'vx1', { kind: 'vxlan', vxlanLink: 4 }));
  assert.deepEqual(render(m, true), [
    'netlink_interface_parent_info{netns="",interface="mv0",parent="if9",parent_netnsid="1"} 1',
    'netlink_interface_parent_info{netns="",interface="vx1",parent="mv0",parent_netnsid=""} 1',
  ]);
});

test(`alternative names: the first ${MAX_ALTNAMES} kept, the rest counted; aliases as safe label text`, () => {
  const m = model([]);
  const names = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'];
  m.link(link(2, 'eth0', { altNames: names, alias: 'line\nbreak\u0001' }), 'initial-dump');
  m.link(link(3, 'eth1', { altNames: ['b1', 'b2', 'b3', 'b4', 'b5'] }), 'initial-dump');
  const lines = render(m, true);
  assert.deepEqual(
    lines.filter((l) => l.startsWith('netlink_interface_altname_info')).map((l) => /altname="(\w+)"/.exec(l)![1]),
    ['a1', 'a2', 'a3', 'a4', 'b1', 'b2', 'b3', 'b4'],
  );
  assert.ok(lines.includes('netlink_interface_altnames_dropped{netns=""} 3'), lines.join('\n'));
  assert.ok(
    lines.includes('netlink_interface_alias_info{netns="",interface="eth0",alias="line\\\\x0abreak\\\\x01"} 1'),
  );
  // Back under the cap: the count goes back to what is dropped now.
  m.link(link(2, 'eth0', { altNames: ['a1'] }));
  m.link(link(3, 'eth1', {}));
  assert.ok(render(m).includes('netlink_interface_altnames_dropped{netns=""} 0'));
  assert.ok(
    !render(m, true).some((l) => l.startsWith('netlink_interface_altnames_dropped')),
    'compact: born at its first drop',
  );
  assert.equal(labelText('plain ü \\x80'), 'plain ü \\x80');
  assert.equal(labelText('a\u007fb\u0085c'), 'a\\x7fb\\x85c');
});

test('interfaces without series (exclude regex) get no topology series', () => {
  const m = new NamespaceModel({
    netns: 'n',
    include: /^.*$/,
    exclude: /^p.*$/,
    maxTracked: 100,
    now: () => 1000,
  });
  m.link(link(2, 'br0', { kind: 'bridge', alias: 'core' }), 'initial-dump');
  m.link(link(3, 'p1', { master: 2, slaveKind: 'bridge', alias: 'hidden' }), 'initial-dump');
  assert.deepEqual(render(m), [
    'netlink_interface_alias_info{netns="n",interface="br0",alias="core"} 1',
    'netlink_interface_altnames_dropped{netns="n"} 0',
  ]);
});

test('bond, VRF and team ports and a VLAN parent (no such driver on the test kernel: synthetic messages)', () => {
  const events: PendingEvent[] = [];
  const m = model(events);
  m.link(link(2, 'eth0', {}), 'initial-dump');
  m.link(link(3, 'eth1', {}), 'initial-dump');
  m.link(link(4, 'eth2', {}), 'initial-dump');
  m.link(link(10, 'bond0', { kind: 'bond' }), 'initial-dump');
  m.link(link(11, 'blue', { kind: 'vrf' }), 'initial-dump');
  m.link(link(12, 'team0', { kind: 'team' }), 'initial-dump');
  m.link(link(2, 'eth0', { master: 10, slaveKind: 'bond' }));
  m.link(link(3, 'eth1', { master: 11, slaveKind: 'vrf' }));
  m.link(link(4, 'eth2', { master: 12, slaveKind: 'team' }));
  m.link(link(20, 'eth0.100', { kind: 'vlan', link: 2 }));
  // eth1 moves from the VRF to the bond directly: released, then enslaved.
  m.link(link(3, 'eth1', { master: 10, slaveKind: 'bond' }));
  assert.deepEqual(settingLines(events), [
    'setting enslaved eth0 ifindex=2 master=bond0 master_kind=bond',
    'setting enslaved eth1 ifindex=3 master=blue master_kind=vrf',
    'setting enslaved eth2 ifindex=4 master=team0 master_kind=team',
    'setting released eth1 ifindex=3 master=blue master_kind=vrf',
    'setting enslaved eth1 ifindex=3 master=bond0 master_kind=bond',
  ]);
  assert.deepEqual(render(m), [
    'netlink_interface_master_info{netns="",interface="eth0",master="bond0",master_kind="bond"} 1',
    'netlink_interface_master_info{netns="",interface="eth1",master="bond0",master_kind="bond"} 1',
    'netlink_interface_master_info{netns="",interface="eth2",master="team0",master_kind="team"} 1',
    'netlink_interface_parent_info{netns="",interface="eth0.100",parent="eth0",parent_netnsid=""} 1',
    'netlink_interface_altnames_dropped{netns=""} 0',
  ]);
});
