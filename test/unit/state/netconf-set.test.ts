// The netconf entries: partial announcements merged, events only for real changes (none from the
// initial dump or a first sight), deletions, the cap, and the resync's compare and sweep.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AF_INET, AF_INET6, RTM_DELNETCONF } from '../../../src/netlink/constants';
import type { NetconfMessage } from '../../../src/netlink/types';
import type { PendingEvent } from '../../../src/state/events';
import type { LinkRecord } from '../../../src/state/links';
import { NetconfSet } from '../../../src/state/netconf-set';
import { netconfMessage } from '../../helpers/model-source';

const ALL = -1;
const DEFAULT = -2;

const netconf = netconfMessage;

/** A whole entry, as the kernel sends a dump reply or a new interface's announcement. */
function whole(family: number, ifindex: number, forwarding: number, rpFilter = 0): NetconfMessage {
  return netconf(family, ifindex, {
    forwarding,
    rpFilter: family === AF_INET ? rpFilter : undefined,
    mcForwarding: 0,
    proxyNeigh: 0,
    ignoreRoutesWithLinkdown: 0,
  });
}

function setup(max?: number): { set: NetconfSet; events: string[] } {
  const events: string[] = [];
  const links = new Map<number, LinkRecord>([[5, { name: 'veth0' } as LinkRecord]]);
  const outlet = {
    netns: 'ns',
    onEvent: (e: PendingEvent) => {
      if (e.kind === 'netconf')
        events.push(`${e.interface} ${e.ifindex} ${e.family} ${e.setting} ${e.oldValue}->${e.value}`);
    },
    routeGate: undefined,
  };
  return { set: new NetconfSet(outlet, links, max), events };
}

function values(set: NetconfSet, family: number, ifindex: number): (number | undefined)[] | undefined {
  return set.entries.get(ifindex * 2 + (family === AF_INET6 ? 1 : 0))?.values;
}

test('the initial dump is quiet; a one-value announcement changes that value only, counted and told once', () => {
  const { set, events } = setup();
  for (const m of [whole(AF_INET, ALL, 0), whole(AF_INET, DEFAULT, 0), whole(AF_INET, 5, 0), whole(AF_INET6, 5, 0)])
    set.netconf(m, 'initial-dump');
  assert.deepEqual(events, []);
  set.netconf(netconf(AF_INET, ALL, { forwarding: 1 }), 'notification');
  set.netconf(netconf(AF_INET, 5, { forwarding: 1 }), 'notification');
  set.netconf(netconf(AF_INET, 5, { rpFilter: 2 }), 'notification');
  // The same value again (a write that changed nothing else) is no change.
  set.netconf(netconf(AF_INET, 5, { forwarding: 1 }), 'notification');
  assert.deepEqual(events, [
    'all -1 inet forwarding off->on',
    'veth0 5 inet forwarding off->on',
    'veth0 5 inet rp_filter off->loose',
  ]);
  assert.deepEqual(values(set, AF_INET, 5), [1, 2, 0, 0, 0]);
  assert.deepEqual(values(set, AF_INET6, 5), [0, undefined, 0, 0, 0]);
  assert.deepEqual(set.changes, [
    [2, 1, 0, 0, 0],
    [0, 0, 0, 0, 0],
  ]);
});

test('a first sight (a new interface) is quiet; a deletion takes the entry; an unknown interface is named if<N>; MPLS is ignored', () => {
  const { set, events } = setup();
  set.netconf(whole(AF_INET6, 9, 1), 'notification');
  assert.deepEqual(events, []);
  set.netconf(netconf(AF_INET6, 9, { proxyNeigh: 1 }), 'notification');
  assert.deepEqual(events, ['if9 9 inet6 proxy_neigh off->on']);
  set.netconf(netconf(AF_INET6, 9, {}, RTM_DELNETCONF), 'notification');
  assert.equal(set.entries.size, 0);
  // Back again (IPv6 on again after an MTU below 1280): a first sight, quiet.
  set.netconf(whole(AF_INET6, 9, 0), 'notification');
  assert.deepEqual(events, ['if9 9 inet6 proxy_neigh off->on']);
  set.netconf(netconf(28 /* AF_MPLS */, 9, { input: 1 }), 'notification');
  set.netconf(netconf(AF_INET, 9, { ifindex: undefined, forwarding: 1 }), 'notification');
  assert.equal(set.entries.size, 1);
});

test('past the cap, new entries are dropped and counted; held ones still change', () => {
  const { set, events } = setup(2);
  set.netconf(whole(AF_INET, ALL, 0), 'initial-dump');
  set.netconf(whole(AF_INET, 5, 0), 'initial-dump');
  set.netconf(whole(AF_INET, 6, 0), 'notification');
  set.netconf(whole(AF_INET, 7, 0), 'notification');
  assert.equal(set.entries.size, 2);
  assert.equal(set.dropped, 2);
  set.netconf(netconf(AF_INET, 5, { ignoreRoutesWithLinkdown: 1 }), 'notification');
  assert.deepEqual(events, ['veth0 5 inet ignore_routes_with_linkdown off->on']);
});

test('a resync: what changed unheard is counted and told once, what the dump did not list goes quietly, notifications during it stay', () => {
  const { set, events } = setup();
  for (const m of [whole(AF_INET, ALL, 1), whole(AF_INET, 5, 1), whole(AF_INET, 6, 0), whole(AF_INET6, ALL, 1)])
    set.netconf(m, 'initial-dump');
  // Lost in an overrun: forwarding off everywhere, interface 6 gone, interface 7 came.
  set.beginSweep();
  set.netconf(whole(AF_INET, ALL, 0), 'resync-dump');
  // A notification during the resync, after the dump passed interface 5: its value stands.
  set.netconf(whole(AF_INET, 5, 0), 'resync-dump');
  set.netconf(netconf(AF_INET, 5, { rpFilter: 1 }), 'notification');
  set.netconf(whole(AF_INET, 7, 0), 'resync-dump');
  set.netconf(whole(AF_INET6, ALL, 1), 'resync-dump');
  // A new interface announced while the dump ran, after the dump's end of the list.
  set.netconf(whole(AF_INET6, 8, 0), 'notification');
  set.sweep();
  assert.deepEqual(events, [
    'all -1 inet forwarding on->off',
    'veth0 5 inet forwarding on->off',
    'veth0 5 inet rp_filter off->strict',
  ]);
  assert.deepEqual(
    [...set.entries.values()].map((e) => `${e.family}|${e.ifindex}|${e.values.join(',')}`),
    ['0|-1|0,0,0,0,0', '0|5|0,1,0,0,0', '1|-1|1,,0,0,0', '0|7|0,0,0,0,0', '1|8|0,,0,0,0'],
  );
  assert.deepEqual(set.changes[0], [2, 1, 0, 0, 0]);
  // A second resync that finds everything as it is: no event, no count.
  set.beginSweep();
  for (const e of [...set.entries.values()])
    set.netconf(
      netconf(e.family === 0 ? AF_INET : AF_INET6, e.ifindex, {
        forwarding: e.values[0],
        rpFilter: e.values[1],
        mcForwarding: e.values[2],
        proxyNeigh: e.values[3],
        ignoreRoutesWithLinkdown: e.values[4],
      }),
      'resync-dump',
    );
  set.sweep();
  assert.equal(events.length, 3);
  assert.equal(set.entries.size, 5);
});
