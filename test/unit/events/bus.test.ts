import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventBus } from '../../../src/events/bus';
import { ROUTE_EVENTS_PER_SECOND } from '../../../src/events/storm-limiter';
import type { DomainEvent, PendingEvent } from '../../../src/state/events';
import { groupKey, ROUTE_ACTIONS } from '../../../src/state/routes';
import { AF_INET } from '../../../src/netlink/constants';

function route(i: number, protocol = 'bgp'): PendingEvent {
  return {
    netns: 'lab',
    kind: 'route',
    action: 'added',
    interface: 'eth0',
    ifindex: 2,
    family: 'inet',
    table: 'main',
    protocol,
    destination: `10.${i >> 8}.${i & 255}.0/24`,
    gateway: '192.0.2.1',
    type: 'unicast',
  };
}

const RTPROT_STATIC = 4;
const RTPROT_BGP = 186;
const RTN_UNICAST = 1;

test('a route storm becomes the first events one by one, then one summary with the count', () => {
  const bus = new EventBus();
  const seen: DomainEvent[] = [];
  bus.subscribe((e) => seen.push(e));
  const gate = bus.routeGate('lab');
  // What the model does: ask the gate, build and publish only what it admits.
  const offer = (i: number, protocol: number, name: string): void => {
    if (gate.admit(groupKey(254, AF_INET, protocol), ROUTE_ACTIONS.indexOf('added'), RTN_UNICAST))
      bus.publish(route(i, name));
  };
  for (let i = 0; i < 1000; i++) offer(i, RTPROT_BGP, 'bgp');
  offer(0, RTPROT_STATIC, 'static');
  assert.equal(seen.length, ROUTE_EVENTS_PER_SECOND + 1, 'the allowance, plus the other protocol');
  // Another namespace has its own allowance.
  assert.equal(bus.routeGate('other').admit(groupKey(254, AF_INET, RTPROT_BGP), 0, RTN_UNICAST), true);
  bus.flush();
  const summary = seen.at(-1);
  assert.ok(summary && summary.kind === 'route');
  assert.equal(summary.count, 1000 - ROUTE_EVENTS_PER_SECOND);
  assert.equal(summary.destination, '*');
  assert.equal(summary.protocol, 'bgp');
  assert.equal(summary.table, 'main');
  assert.equal(summary.family, 'inet');
  assert.equal(summary.action, 'added');
  assert.equal(summary.type, 'unicast');
  assert.equal(summary.netns, 'lab');
  assert.deepEqual(
    seen.map((e) => e.seq),
    seen.map((_, i) => i + 1),
    'seq is monotonic and gapless',
  );
});

test('links and addresses are never coalesced', () => {
  const bus = new EventBus();
  let n = 0;
  bus.subscribe(() => n++);
  for (let i = 0; i < 100; i++) {
    bus.publish({ netns: '', kind: 'flap', action: 'down', interface: 'eth0', ifindex: 2, flaps: 1, oper: 'down' });
  }
  assert.equal(n, 100);
});
