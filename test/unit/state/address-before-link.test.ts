// The socket subscribes before it dumps, so an address added while the exporter starts watching
// a namespace (a pod's eth0 getting its address) can arrive before the link dump reply that
// brings its interface. The interface must count it when it comes (found by the pod test).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AF_INET,
  AF_INET6,
  IFF_LOWER_UP,
  IFF_UP,
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_NEWADDR,
  RTM_NEWLINK,
} from '../../../src/netlink/constants';
import type { LinkMessage } from '../../../src/netlink/types';
import { NamespaceModel } from '../../../src/state/model';

const header = { flags: 0, seq: 0, pid: 0 };
const link = (ifindex: number, type = RTM_NEWLINK): LinkMessage => ({
  ...header,
  type,
  family: 0,
  deviceType: 1,
  ifindex,
  ifFlags: IFF_UP | IFF_LOWER_UP,
  change: 0,
  name: `eth${ifindex}`,
  mtu: 1500,
  operstate: 6,
  carrier: 1,
});
const address = (type: number, family: number, ifindex: number, addr: string) => ({
  ...header,
  type,
  family,
  prefixLength: 32,
  addressFlags: 0,
  scope: 0,
  ifindex,
  address: addr,
});

test('addresses that arrive before their interface are counted on it when it comes', () => {
  const model = new NamespaceModel({ netns: 'pod', include: /^.*$/, exclude: undefined, maxTracked: 100 });
  model.address(address(RTM_NEWADDR, AF_INET, 2, '10.0.0.5'));
  model.address(address(RTM_NEWADDR, AF_INET, 2, '10.0.0.6'));
  model.address(address(RTM_DELADDR, AF_INET, 2, '10.0.0.6'));
  model.address(address(RTM_NEWADDR, AF_INET6, 2, 'fd00::5'));
  model.link(link(2));
  const eth = model.links.get(2);
  assert.ok(eth);
  assert.deepEqual([...eth.addresses], [1, 1]);
  assert.deepEqual(eth.addressChanges, [
    [2, 1],
    [1, 0],
  ]);
  // Taken over once: a repeat of the link changes nothing.
  model.link(link(2));
  assert.deepEqual([...eth.addresses], [1, 1]);
  // Counts of an interface deleted before we knew it are dropped with it.
  model.address(address(RTM_NEWADDR, AF_INET, 3, '10.0.0.7'));
  model.link(link(3, RTM_DELLINK));
  model.link(link(3));
  assert.deepEqual([...(model.links.get(3)?.addresses ?? [])], [0, 0]);
});
