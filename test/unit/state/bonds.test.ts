// Bonds and VRFs in the model (src/state/bonds.ts), their series (src/metrics/collectors/bonds.ts)
// and their events: the synthetic fixtures of test/fixtures/bonds/ (built from the UAPI layout:
// the kernel here has no bond or vrf driver) replayed through the codec into a NamespaceModel, as
// the session feeds it: the initial dump quietly, notifications, a resync dump between
// beginSweep() and sweep(), twice. Then what the fixtures do not show, on hand-made messages.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileNamePattern } from '../../../src/config/name-pattern';
import { formatEventLine } from '../../../src/events/format';
import { bonds } from '../../../src/metrics/collectors/bonds';
import { routes } from '../../../src/metrics/collectors/routes';
import { ExpositionWriter } from '../../../src/metrics/writer';
import { AF_BRIDGE, RTM_DELLINK } from '../../../src/netlink/constants';
import { decodeChunk } from '../../../src/netlink/decode';
import type { BondSlaveInfo, LinkMessage } from '../../../src/netlink/types';
import type { MessageOrigin } from '../../../src/session/sink';
import { BondSet } from '../../../src/state/bonds';
import type { DomainEvent, PendingEvent } from '../../../src/state/events';
import { NamespaceModel } from '../../../src/state/model';
import { decodeBondFixture } from '../../helpers/bond-fixtures';
import { messageSink } from '../../helpers/decode';
import { capturedChunks } from '../../helpers/fixtures';
import { namespaceSource, upLink } from '../../helpers/model-source';

function setup(): { model: NamespaceModel; events: string[]; tick: () => void } {
  let clock = 1000;
  const events: string[] = [];
  const model = new NamespaceModel({
    netns: 'ns',
    include: compileNamePattern('.*'),
    exclude: undefined,
    maxTracked: 100,
    now: () => clock,
    onEvent: (e) => {
      if (e.kind === 'bond')
        events.push(formatEventLine({ ...e, seq: 0, time: 'T' } as DomainEvent).replace(/^T netns=ns /, ''));
    },
  });
  return { model, events, tick: () => void clock++ };
}

function feed(model: NamespaceModel, name: string, origin: MessageOrigin): void {
  const { links, errors } = decodeBondFixture(name);
  assert.deepEqual(errors, [], `${name} decodes`);
  for (const m of links) model.link(m, origin);
}

function resync(model: NamespaceModel, name: string): void {
  model.beginSweep();
  feed(model, name, 'resync-dump');
  model.sweep();
}

/** The bonds collector's samples (no HELP/TYPE lines). */
function scrape(model: NamespaceModel, openMetrics = false): string[] {
  const w = new ExpositionWriter(openMetrics);
  bonds(w, [namespaceSource(model)]);
  return w
    .text()
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'));
}

test('the fixture stream: initial dump, failover, MII back, release of the active slave, a resync dump twice, a bond deleted', () => {
  const { model, events, tick } = setup();
  feed(model, '01-dump-links', 'initial-dump');
  assert.deepEqual(events, [], 'the initial dump is quiet');
  assert.deepEqual(scrape(model, true), [
    'netlink_bond_info{netns="ns",bond="bond0",mode="active-backup"} 1',
    'netlink_bond_info{netns="ns",bond="bond1",mode="802.3ad"} 1',
    'netlink_bond_active_slave_info{netns="ns",bond="bond0",interface="eth-a"} 1',
    'netlink_bond_slaves{netns="ns",bond="bond0"} 2',
    'netlink_bond_slaves{netns="ns",bond="bond1"} 2',
    'netlink_bond_slaves_up{netns="ns",bond="bond0"} 2',
    'netlink_bond_slaves_up{netns="ns",bond="bond1"} 2',
    'netlink_bond_slave_mii_up{netns="ns",bond="bond0",interface="eth-a"} 1',
    'netlink_bond_slave_mii_up{netns="ns",bond="bond0",interface="eth-b"} 1',
    'netlink_bond_slave_mii_up{netns="ns",bond="bond1",interface="eth-c"} 1',
    'netlink_bond_slave_mii_up{netns="ns",bond="bond1",interface="eth-d"} 1',
    'netlink_bond_slave_active{netns="ns",bond="bond0",interface="eth-a"} 1',
    'netlink_bond_slave_active{netns="ns",bond="bond0",interface="eth-b"} 0',
    'netlink_bond_slave_active{netns="ns",bond="bond1",interface="eth-c"} 1',
    'netlink_bond_slave_active{netns="ns",bond="bond1",interface="eth-d"} 1',
    // Counted by the kernel before we watched: no `_created` (it would count them at every restart).
    'netlink_bond_slave_link_failures_total{netns="ns",bond="bond0",interface="eth-a"} 0',
    'netlink_bond_slave_link_failures_total{netns="ns",bond="bond0",interface="eth-b"} 3',
    'netlink_bond_slave_link_failures_total{netns="ns",bond="bond1",interface="eth-c"} 0',
    'netlink_bond_slave_link_failures_total{netns="ns",bond="bond1",interface="eth-d"} 0',
    'netlink_bond_failovers_total{netns="ns",bond="bond0"} 0',
    'netlink_bond_failovers_created{netns="ns",bond="bond0"} 1000.000',
    'netlink_bond_failovers_total{netns="ns",bond="bond1"} 0',
    'netlink_bond_failovers_created{netns="ns",bond="bond1"} 1000.000',
    'netlink_bond_lacp_info{netns="ns",bond="bond1",aggregator="1",actor_key="9",partner_key="17",partner_mac="02:aa:bb:cc:dd:01"} 1',
    'netlink_bond_lacp_ports{netns="ns",bond="bond1"} 2',
    'netlink_bond_slave_lacp_aggregator{netns="ns",bond="bond1",interface="eth-c"} 1',
    'netlink_bond_slave_lacp_aggregator{netns="ns",bond="bond1",interface="eth-d"} 1',
    'netlink_vrf_info{netns="ns",vrf="blue",table="100"} 1',
    'netlink_vrf_info{netns="ns",vrf="red",table="main"} 1',
  ]);

  tick();
  feed(model, '02-failover', 'notification');
  feed(model, '03-mii-back', 'notification');
  feed(model, '04-release-active', 'notification');
  assert.deepEqual(events.splice(0), [
    'bond slave_mii_down eth-a ifindex=11 bond=bond0 state=backup mii=up->down link_failures=1',
    'bond failover bond0 ifindex=10 active=eth-a->eth-b',
    'bond slave_mii_up eth-a ifindex=11 bond=bond0 state=backup mii=down->up link_failures=1',
    'bond slave_removed eth-b ifindex=12 bond=bond0 state=active mii=up link_failures=3',
    'bond failover bond0 ifindex=10 active=eth-b->eth-a',
  ]);
  const bond0 = (lines: string[]) => lines.filter((l) => l.includes('bond="bond0"'));
  assert.deepEqual(bond0(scrape(model)), [
    'netlink_bond_info{netns="ns",bond="bond0",mode="active-backup"} 1',
    'netlink_bond_active_slave_info{netns="ns",bond="bond0",interface="eth-a"} 1',
    'netlink_bond_slaves{netns="ns",bond="bond0"} 1',
    'netlink_bond_slaves_up{netns="ns",bond="bond0"} 1',
    'netlink_bond_slave_mii_up{netns="ns",bond="bond0",interface="eth-a"} 1',
    'netlink_bond_slave_active{netns="ns",bond="bond0",interface="eth-a"} 1',
    'netlink_bond_slave_link_failures_total{netns="ns",bond="bond0",interface="eth-a"} 1',
    'netlink_bond_failovers_total{netns="ns",bond="bond0"} 2',
  ]);

  // An overrun: the dump shows what changed in the gap; bond1 and VRF red are gone.
  tick();
  resync(model, '05-resync-dump');
  assert.deepEqual(events.splice(0), [
    'bond failover bond0 ifindex=10 active=eth-a->eth-b',
    'bond slave_mii_down eth-a ifindex=11 bond=bond0 state=backup mii=up->down link_failures=2',
    'bond slave_added eth-b ifindex=12 bond=bond0 state=active mii=up link_failures=0',
    'bond slave_removed eth-c ifindex=21 bond=bond1 state=active mii=up link_failures=0',
    'bond slave_removed eth-d ifindex=22 bond=bond1 state=active mii=up link_failures=0',
  ]);
  const afterResync = [
    'netlink_bond_info{netns="ns",bond="bond0",mode="active-backup"} 1',
    'netlink_bond_active_slave_info{netns="ns",bond="bond0",interface="eth-b"} 1',
    'netlink_bond_slaves{netns="ns",bond="bond0"} 2',
    'netlink_bond_slaves_up{netns="ns",bond="bond0"} 1',
    'netlink_bond_slave_mii_up{netns="ns",bond="bond0",interface="eth-a"} 0',
    'netlink_bond_slave_mii_up{netns="ns",bond="bond0",interface="eth-b"} 1',
    'netlink_bond_slave_active{netns="ns",bond="bond0",interface="eth-a"} 0',
    'netlink_bond_slave_active{netns="ns",bond="bond0",interface="eth-b"} 1',
    'netlink_bond_slave_link_failures_total{netns="ns",bond="bond0",interface="eth-a"} 2',
    'netlink_bond_slave_link_failures_total{netns="ns",bond="bond0",interface="eth-b"} 0',
    'netlink_bond_failovers_total{netns="ns",bond="bond0"} 3',
    'netlink_vrf_info{netns="ns",vrf="blue",table="100"} 1',
  ];
  assert.deepEqual(scrape(model), afterResync);
  // A second overrun whose dump shows the same: nothing counted twice, nothing told twice.
  tick();
  resync(model, '05-resync-dump');
  assert.deepEqual(events, []);
  assert.deepEqual(scrape(model), afterResync);

  feed(model, '06-delete-bond', 'notification');
  assert.deepEqual(events.splice(0), [
    'bond slave_removed eth-a ifindex=11 bond=bond0 state=backup mii=down link_failures=2',
    'bond slave_removed eth-b ifindex=12 bond=bond0 state=active mii=up link_failures=0',
  ]);
  assert.deepEqual(scrape(model), ['netlink_vrf_info{netns="ns",vrf="blue",table="100"} 1']);
  model.close();
});

test("a slave's kernel count that went down in a gap (released and enslaved again) is a counter reset: `_created` moves to then", () => {
  const { model, tick } = setup();
  feed(model, '01-dump-links', 'initial-dump');
  tick();
  resync(model, '05-resync-dump'); // eth-b: 3 -> 0, still a slave of bond0
  const b = scrape(model, true).filter((l) => l.includes('link_failures') && l.includes('eth-b'));
  assert.deepEqual(b, [
    'netlink_bond_slave_link_failures_total{netns="ns",bond="bond0",interface="eth-b"} 0',
    'netlink_bond_slave_link_failures_created{netns="ns",bond="bond0",interface="eth-b"} 1001.000',
  ]);
  model.close();
});

test("the VRF table label is the route series' table label: netlink_routes * on(netns,table) group_left(vrf) netlink_vrf_info joins", () => {
  const { model } = setup();
  feed(model, '01-dump-links', 'initial-dump');
  const sink = messageSink({ route: (m) => model.route(m, 'notification') });
  // The kernel's own bytes: `ip route add 203.0.113.0/24 via 192.0.2.254 dev if0 table 100 metric 50`.
  const captured = capturedChunks().find((c) => c.file === '22-route4-table100.json');
  assert.ok(captured);
  decodeChunk(captured.chunk, sink);
  const w = new ExpositionWriter(false);
  routes(w, [namespaceSource(model)]);
  const routeTables = new Set([...w.text().matchAll(/^netlink_routes\{.*table="([^"]*)"/gm)].map((m) => m[1]));
  const vrfTables = scrape(model)
    .filter((l) => l.startsWith('netlink_vrf_info'))
    .map((l) => /table="([^"]*)"/.exec(l)![1]);
  assert.deepEqual(vrfTables, ['100', 'main']);
  assert.ok(routeTables.has('100'), `netlink_routes tables: ${[...routeTables].join(',')}`);
  model.close();
});

// ---- hand-made messages: what the fixtures do not show -------------------------------------

function bondMsg(ifindex: number, name: string, active: number | undefined, mode = 1): LinkMessage {
  return {
    ...upLink(ifindex, name),
    kind: 'bond',
    bond: { mode, activeSlave: active, miimon: 100, ad: undefined, adActorSystem: undefined },
  };
}

function slaveMsg(ifindex: number, name: string, master: number, mii = 0, failures = 0, state = 1): LinkMessage {
  const info: BondSlaveInfo = {
    state,
    miiStatus: mii,
    linkFailureCount: failures,
    permHwaddr: undefined,
    queueId: 0,
    adAggregatorId: undefined,
    adActorOperPortState: undefined,
    adPartnerOperPortState: undefined,
  };
  return { ...upLink(ifindex, name), slaveKind: 'bond', master, bondSlave: info };
}

function bondSet(limits?: { bonds: number; slaves: number; vrfs: number }): { set: BondSet; events: string[] } {
  const events: string[] = [];
  const outlet = {
    netns: '',
    onEvent: (e: PendingEvent) =>
      void events.push(formatEventLine({ ...e, seq: 0, time: 'T' } as DomainEvent).replace(/^T /, '')),
    routeGate: undefined,
  };
  const names = new Map([[7, 'eth7']]);
  return {
    set: new BondSet(
      outlet,
      () => 5000,
      (i) => names.get(i),
      limits,
    ),
    events,
  };
}

test('no active slave, then the same one back: no failover; then another one: a failover from the last active', () => {
  const { set, events } = bondSet();
  set.link(bondMsg(1, 'bond0', 2), 'initial-dump');
  set.link(slaveMsg(2, 'eth2', 1), 'initial-dump');
  set.link(slaveMsg(3, 'eth3', 1), 'initial-dump');
  set.link(bondMsg(1, 'bond0', 0), 'notification');
  set.link(bondMsg(1, 'bond0', 2), 'notification');
  assert.equal(set.bonds.get(1)!.failovers, 0);
  set.link(bondMsg(1, 'bond0', undefined), 'notification'); // a mode without one, or none: 0
  set.link(bondMsg(1, 'bond0', 3), 'notification');
  assert.equal(set.bonds.get(1)!.failovers, 1);
  // An active slave the bond set does not hold is named from the link set.
  set.link(bondMsg(1, 'bond0', 7), 'notification');
  assert.deepEqual(events, [
    'bond active_lost bond0 ifindex=1 active=eth2->none',
    'bond active_lost bond0 ifindex=1 active=eth2->none',
    'bond failover bond0 ifindex=1 active=eth2->eth3',
    'bond failover bond0 ifindex=1 active=eth3->eth7',
  ]);
  assert.equal(set.bonds.get(1)!.failovers, 2);
});

test('a rename keeps the counters; a slave moved to another bond is released and enslaved; AF_BRIDGE messages and deletions', () => {
  const { set, events } = bondSet();
  set.link(bondMsg(1, 'bond0', 2), 'initial-dump');
  set.link(bondMsg(4, 'bond1', undefined, 0), 'initial-dump');
  set.link(slaveMsg(2, 'eth2', 1), 'initial-dump');
  set.link(slaveMsg(3, 'eth3', 1), 'initial-dump');
  set.link(bondMsg(1, 'bond0', 3), 'notification');
  set.link(bondMsg(1, 'uplink', 3), 'notification');
  assert.deepEqual([set.bonds.get(1)!.name, set.bonds.get(1)!.failovers], ['uplink', 1]);
  set.link(
    { ...slaveMsg(2, 'eth2', 1), family: AF_BRIDGE, slaveKind: undefined, bondSlave: undefined },
    'notification',
  );
  assert.ok(set.slaves.has(2), 'a bridge-port message says nothing of bonds');
  set.link(slaveMsg(2, 'eth2', 4), 'notification');
  assert.equal(set.slaves.get(2)!.bond, 4);
  set.link({ ...slaveMsg(3, 'eth3', 1), type: RTM_DELLINK }, 'notification');
  set.link({ ...bondMsg(4, 'bond1', undefined), type: RTM_DELLINK }, 'notification');
  assert.deepEqual([[...set.bonds.keys()], [...set.slaves.keys()]], [[1], []]);
  assert.deepEqual(events, [
    'bond failover bond0 ifindex=1 active=eth2->eth3',
    'bond slave_removed eth2 ifindex=2 bond=uplink state=backup mii=up link_failures=0',
    'bond slave_added eth2 ifindex=2 bond=bond1 state=backup mii=up link_failures=0',
  ]);
});

test('past the caps a new bond, slave or VRF is dropped and counted, and netlink_bonds_dropped_total is born then', () => {
  const { set } = bondSet({ bonds: 1, slaves: 1, vrfs: 1 });
  set.link(bondMsg(1, 'bond0', 0), 'notification');
  set.link(bondMsg(2, 'bond1', 0), 'notification');
  set.link(slaveMsg(3, 'eth3', 1), 'notification');
  set.link(slaveMsg(4, 'eth4', 1), 'notification');
  set.link({ ...upLink(5, 'blue'), kind: 'vrf', vrfTable: 10 }, 'notification');
  set.link({ ...upLink(6, 'red'), kind: 'vrf', vrfTable: 11 }, 'notification');
  assert.deepEqual(
    [set.bonds.size, set.slaves.size, set.vrfs.size, set.dropped, set.droppedCreated],
    [1, 1, 1, 3, 5000],
  );
  // What is held still changes.
  set.link(slaveMsg(3, 'eth3', 1, 2, 4), 'notification');
  assert.equal(set.slaves.get(3)!.linkFailures, 4);
});

test('a namespace without bonds or VRFs has no bond series (a pod namespace costs nothing)', () => {
  const { model } = setup();
  model.link(upLink(1, 'lo'), 'initial-dump');
  model.link({ ...upLink(2, 'eth0'), kind: 'veth' }, 'initial-dump');
  assert.deepEqual(scrape(model), []);
  assert.deepEqual(scrape(model, true), []);
  model.close();
});
