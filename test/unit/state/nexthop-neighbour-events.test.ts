// The model's nexthop events and counts (added, replaced only when the object changed, removed,
// flushed with the device; initial dump quiet, a resync's reply counts only what it repairs),
// and neighbour failures (into NUD_FAILED once, not for an entry a process deletes, not from a
// dump), on synthetic messages.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AF_INET,
  NUD_FAILED,
  NUD_INCOMPLETE,
  NUD_PROBE,
  NUD_STALE,
  RTM_DELNEIGH,
  RTM_DELNEXTHOP,
  RTM_NEWNEIGH,
  RTM_NEWNEXTHOP,
} from '../../../src/netlink/constants';
import type { NeighbourMessage, NexthopMessage } from '../../../src/netlink/types';
import type { PendingEvent } from '../../../src/state/events';
import { NamespaceModel } from '../../../src/state/model';
import { describeNexthop, NEXTHOP_ACTIONS } from '../../../src/state/nexthops';

function model(events: PendingEvent[]): NamespaceModel {
  return new NamespaceModel({
    netns: '',
    include: /^.*$/,
    exclude: undefined,
    maxTracked: 10,
    now: () => 1000,
    onEvent: (e) => events.push(e),
  });
}

function nexthop(type: number, id: number, more: Partial<NexthopMessage> = {}): NexthopMessage {
  return {
    type,
    flags: 0,
    seq: 0,
    pid: 0,
    family: AF_INET,
    scope: 0,
    protocol: 0,
    nexthopFlags: 0,
    id,
    oif: undefined,
    gateway: undefined,
    blackhole: false,
    group: undefined,
    groupWeights: undefined,
    fdb: false,
    ...more,
  };
}

function neighbour(type: number, state: number, pid = 0, lladdr?: string): NeighbourMessage {
  return {
    type,
    flags: 0,
    seq: 0,
    pid,
    family: AF_INET,
    ifindex: 7,
    state,
    neighbourFlags: 0,
    neighbourType: 1,
    destination: '192.0.2.9',
    ...(lladdr ? { lladdr } : {}),
  };
}

/** An RTM_NEWLINK (16) or RTM_DELLINK (17) of an interface up with carrier. */
function link(type: number, ifindex: number, name: string): Parameters<NamespaceModel['link']>[0] {
  return {
    type,
    flags: 0,
    seq: 0,
    pid: 0,
    family: 0,
    ifindex,
    ifFlags: 0x1 | 0x40 | 0x10000,
    change: 0,
    linkType: 1,
    name,
    mtu: 1500,
    operstate: 6,
    carrier: 1,
  } as unknown as Parameters<NamespaceModel['link']>[0];
}

const changes = (m: NamespaceModel): Record<string, number> =>
  Object.fromEntries(NEXTHOP_ACTIONS.map((a, i) => [a, m.nexthopChanges[i] as number]));

test('nexthop objects: added, replaced only when changed, removed, flushed with their device; dump quiet', () => {
  const events: PendingEvent[] = [];
  const m = model(events);
  m.link(link(16, 3, 'eth3'));
  m.nexthop(nexthop(RTM_NEWNEXTHOP, 5, { oif: 3, gateway: '192.0.2.5' }), 'initial-dump');
  m.nexthop(nexthop(RTM_NEWNEXTHOP, 1, { oif: 3, gateway: '192.0.2.1' }));
  m.nexthop(nexthop(RTM_NEWNEXTHOP, 1, { oif: 3, gateway: '192.0.2.1' })); // the same again
  m.nexthop(nexthop(RTM_NEWNEXTHOP, 1, { oif: 3, gateway: '192.0.2.2' }));
  m.nexthop(nexthop(RTM_NEWNEXTHOP, 20, { group: [1, 5], groupWeights: [1, 3] }));
  // A resync's reply: only an id not held counts.
  m.nexthop(nexthop(RTM_NEWNEXTHOP, 20, { group: [1, 5], groupWeights: [1, 3] }), 'resync-dump');
  m.nexthop(nexthop(RTM_NEWNEXTHOP, 30, { blackhole: true }), 'resync-dump');
  m.nexthop(nexthop(RTM_DELNEXTHOP, 30));
  m.nexthop(nexthop(RTM_DELNEXTHOP, 99)); // not held: nothing
  assert.deepEqual(changes(m), { added: 3, replaced: 1, removed: 1, flushed: 0 });
  assert.equal(m.nexthops.size, 3);
  // Device 3 goes: 5 and 1 with it, and the group they leave empty.
  m.link(link(16, 3, 'eth3'));
  m.link(link(17, 3, 'eth3'));
  const lines = events
    .filter((e) => e.kind === 'nexthop')
    .map((e) => (e.kind === 'nexthop' ? `${e.action} ${e.id} ${e.nexthop}` : ''));
  assert.deepEqual(lines.slice(0, 5), [
    'added 1 via 192.0.2.1 dev eth3',
    'replaced 1 via 192.0.2.2 dev eth3',
    'added 20 group 1/5,3',
    'added 30 blackhole',
    'removed 30 blackhole',
  ]);
  assert.equal(m.nexthops.size, 0);
  assert.deepEqual(changes(m), { added: 3, replaced: 1, removed: 1, flushed: 3 });
  assert.deepEqual(lines.slice(5), [
    'flushed 5 via 192.0.2.5 dev eth3',
    'flushed 1 via 192.0.2.2 dev eth3',
    'flushed 20 group 1/5,3',
  ]);
});

test('describeNexthop prints as ip nexthop does; a huge group is summed', () => {
  const name = (i: number) => `eth${i}`;
  const base = {
    oif: 0,
    group: undefined,
    weights: undefined,
    family: AF_INET,
    gateway: undefined,
    blackhole: false,
    fdb: false,
  };
  assert.equal(describeNexthop({ ...base, oif: 2, gateway: '192.0.2.1' }, name), 'via 192.0.2.1 dev eth2');
  assert.equal(describeNexthop({ ...base, oif: 2 }, name), 'dev eth2');
  assert.equal(describeNexthop({ ...base, blackhole: true }, name), 'blackhole');
  assert.equal(describeNexthop({ ...base, group: [10, 11], weights: [1, 3] }, name), 'group 10/11,3');
  const many = Array.from({ length: 40 }, (_, i) => i + 1);
  assert.equal(
    describeNexthop({ ...base, group: many, weights: undefined }, name),
    `group ${many.slice(0, 32).join('/')}/+8`,
  );
});

test('neighbour failures: into FAILED once; again only after leaving it; not for deletions or dumps', () => {
  const events: PendingEvent[] = [];
  const m = model(events);
  const failures = (): number => m.links.get(7)?.neighbourFailures[0] ?? -1;
  m.link(link(16, 7, 'eth7'));
  assert.equal(failures(), 0);
  m.neighbour(neighbour(RTM_NEWNEIGH, NUD_INCOMPLETE));
  m.neighbour(neighbour(RTM_NEWNEIGH, NUD_FAILED));
  m.neighbour(neighbour(RTM_NEWNEIGH, NUD_FAILED)); // re-sent after a re-probe: the same failure
  assert.equal(failures(), 1);
  m.neighbour(neighbour(RTM_NEWNEIGH, NUD_STALE, 4242, '02:00:00:00:00:09'));
  m.neighbour(neighbour(RTM_NEWNEIGH, NUD_PROBE));
  m.neighbour(neighbour(RTM_NEWNEIGH, NUD_FAILED));
  assert.equal(failures(), 2);
  // `ip neigh del`: re-sent FAILED for the deleting process (its port id), then deleted.
  m.neighbour(neighbour(RTM_NEWNEIGH, NUD_STALE, 4242, '02:00:00:00:00:09'));
  m.neighbour(neighbour(RTM_NEWNEIGH, NUD_FAILED, 4242));
  m.neighbour(neighbour(RTM_DELNEIGH, NUD_FAILED, 4242));
  // A FAILED entry in a dump reply is no new failure.
  m.neighbour(neighbour(RTM_NEWNEIGH, NUD_FAILED), 'initial-dump');
  assert.equal(failures(), 2);
  const failed = events.filter((e) => e.kind === 'neighbour' && e.action === 'failed');
  assert.deepEqual(
    failed.map((e) => (e.kind === 'neighbour' ? `${e.interface} ${e.destination} ${e.previousState}` : '')),
    ['eth7 192.0.2.9 incomplete', 'eth7 192.0.2.9 probe'],
  );
});

test('a resync: an object its dump did not list is removed (a lost RTM_DELNEXTHOP), one it lists stays', () => {
  const events: PendingEvent[] = [];
  const m = model(events);
  m.nexthop(nexthop(RTM_NEWNEXTHOP, 1, { blackhole: true }));
  m.nexthop(nexthop(RTM_NEWNEXTHOP, 2, { blackhole: true }));
  m.beginSweep();
  m.nexthop(nexthop(RTM_NEWNEXTHOP, 2, { blackhole: true }), 'resync-dump');
  m.sweep();
  assert.deepEqual([...m.nexthops.keys()], [2]);
  assert.deepEqual(changes(m), { added: 2, replaced: 0, removed: 1, flushed: 0 });
  const last = events.at(-1);
  assert.equal(last?.kind === 'nexthop' ? `${last.action} ${last.id}` : '', 'removed 1');
});
