// Route groups (table, family, protocol) keep their series at 0 once emptied, up to a cap per
// namespace: past it the group emptied longest ago is forgotten and counted, so a daemon that
// cycles table numbers cannot grow the series without bound. And each group's counters carry
// the time it was first seen (their OpenMetrics `_created`).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AF_INET, NLM_F_CREATE, RTM_DELROUTE, RTM_NEWROUTE } from '../../../src/netlink/constants';
import { routeRequest } from '../../../src/netlink/request';
import type { RouteMessage } from '../../../src/netlink/types';
import { NamespaceModel } from '../../../src/state/model';
import { groupKey } from '../../../src/state/routes';
import { decodeRoute } from '../../helpers/decode';

function routeMessage(type: number, n: number, table: number, protocol: number): RouteMessage {
  const dst = Buffer.alloc(4);
  dst.writeUInt32BE(0x0a000000 + n, 0);
  const bytes = routeRequest({
    type,
    flags: type === RTM_NEWROUTE ? NLM_F_CREATE : 0,
    seq: 1,
    family: AF_INET,
    dst,
    dstLength: 32,
    table,
    protocol,
    oif: 2,
    routeType: 1,
  });
  return decodeRoute(bytes);
}

test('an emptied group reads 0; past the cap the one emptied longest ago goes, counted', () => {
  let clock = 1000;
  const model = new NamespaceModel({
    netns: '',
    include: /^.*$/,
    exclude: undefined,
    maxTracked: 10,
    now: () => clock,
    maxEmptyRouteGroups: 3,
  });
  const cycle = (table: number): void => {
    clock++;
    model.route(routeMessage(RTM_NEWROUTE, table, table, 186));
    model.route(routeMessage(RTM_DELROUTE, table, table, 186));
  };
  // A group that keeps its routes is never forgotten, whatever the others do.
  model.route(routeMessage(RTM_NEWROUTE, 1, 254, 186));
  for (const table of [100, 101, 102]) cycle(table);
  for (const table of [100, 101, 102])
    assert.equal(model.routeCounts.get(groupKey(table, AF_INET, 186)), 0, `table ${table}`);
  assert.equal(model.routeGroupCreated.get(groupKey(101, AF_INET, 186)), 1002);
  assert.equal(model.routeGroupsForgotten, 0);
  // A fourth emptied group: table 100, emptied longest ago, goes with its counters.
  cycle(103);
  assert.equal(model.routeCounts.has(groupKey(100, AF_INET, 186)), false);
  assert.equal(model.routeChanges.has(groupKey(100, AF_INET, 186)), false);
  assert.equal(model.routeGroupsForgotten, 1);
  // Table 101 filled and emptied again is the newest emptied group: 102 goes next.
  cycle(101);
  cycle(104);
  assert.deepEqual(
    [101, 102, 103, 104].map((t) => model.routeCounts.get(groupKey(t, AF_INET, 186))),
    [0, undefined, 0, 0],
  );
  assert.equal(model.routeGroupsForgotten, 2);
  assert.equal(model.routeCounts.get(groupKey(254, AF_INET, 186)), 1);
  // A long cycle of table numbers keeps the series bounded: the live group and three at 0.
  for (let table = 300; table < 1300; table++) cycle(table);
  assert.equal(model.routeCounts.size, 4);
  assert.equal(model.routeChanges.size, 4);
  assert.equal(model.routeGroupCreated.size, 4);
  assert.equal(model.routeGroupsForgotten, 1002);
});

test('a removal the model never saw added still makes the group, at 0 routes with its removal counted', () => {
  const model = new NamespaceModel({ netns: '', include: /^.*$/, exclude: undefined, maxTracked: 10, now: () => 5 });
  model.route(routeMessage(RTM_DELROUTE, 1, 100, 12));
  const key = groupKey(100, AF_INET, 12);
  assert.equal(model.routeCounts.get(key), 0);
  assert.deepEqual(model.routeChanges.get(key), [0, 1, 0, 0]);
  assert.equal(model.routeGroupCreated.get(key), 5);
});
