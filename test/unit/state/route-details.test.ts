// Route events show the whole route, as `ip route` does: every nexthop of a multipath route
// (bounded, with the count of the rest), metric, prefsrc, scope where it is not the default for
// the type, MTU (RTA_METRICS) and nexthop object id, from route messages built as the kernel
// lays them out (linux/rtnetlink.h), through the codec and the model to the line formats.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AF_INET,
  AF_INET6,
  NLM_F_CREATE,
  RTA_DST,
  RTA_GATEWAY,
  RTA_METRICS,
  RTA_MULTIPATH,
  RTA_NH_ID,
  RTA_OIF,
  RTA_PREFSRC,
  RTA_PRIORITY,
  RTA_TABLE,
  RTAX_MTU,
  RTM_DELROUTE,
  RTM_NEWROUTE,
  RTMSG_LEN,
} from '../../../src/netlink/constants';
import { buildMessage } from '../../../src/netlink/request';
import { formatEventJson, formatEventLine } from '../../../src/events/format';
import type { DomainEvent, PendingEvent } from '../../../src/state/events';
import { MAX_EVENT_NEXTHOPS } from '../../../src/state/route-details';
import { NamespaceModel } from '../../../src/state/model';
import { decodeRoute } from '../../helpers/decode';
import { upLink } from '../../helpers/model-source';

function attr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const out = Buffer.alloc((len + 3) & ~3);
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}
const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
};
const ip4 = (text: string): Buffer => Buffer.from(text.split('.').map(Number));

/** struct rtnexthop (len u16, flags u8, hops u8, ifindex s32) with an RTA_GATEWAY. */
function rtnexthop(ifindex: number, gateway: Buffer | undefined, hops = 0, flags = 0): Buffer {
  const attrs = gateway ? attr(RTA_GATEWAY, gateway) : Buffer.alloc(0);
  const head = Buffer.alloc(8);
  head.writeUInt16LE(8 + attrs.length, 0);
  head[2] = flags;
  head[3] = hops;
  head.writeInt32LE(ifindex, 4);
  return Buffer.concat([head, attrs]);
}

interface Route {
  type?: number;
  family?: number;
  dst: Buffer;
  dstLength: number;
  scope?: number;
  routeType?: number;
  protocol?: number;
  attrs: Buffer[];
}

function route(r: Route): Buffer {
  const rtmsg = Buffer.alloc(RTMSG_LEN);
  rtmsg[0] = r.family ?? AF_INET;
  rtmsg[1] = r.dstLength;
  rtmsg[4] = 254;
  rtmsg[5] = r.protocol ?? 4; // static
  rtmsg[6] = r.scope ?? 0;
  rtmsg[7] = r.routeType ?? 1;
  const payload = Buffer.concat([rtmsg, attr(RTA_TABLE, u32(254)), attr(RTA_DST, r.dst), ...r.attrs]);
  return buildMessage(r.type ?? RTM_NEWROUTE, NLM_F_CREATE, 0, payload);
}

function model(): { model: NamespaceModel; events: PendingEvent[] } {
  const events: PendingEvent[] = [];
  const m = new NamespaceModel({
    netns: '',
    include: /^.*$/,
    exclude: undefined,
    maxTracked: 100,
    now: () => 1_000,
    onEvent: (e) => events.push(e),
  });
  for (let i = 2; i < 40; i++) m.link(upLink(i, `veth${i}`), 'initial-dump');
  return { model: m, events };
}

const line = (e: PendingEvent): string =>
  formatEventLine({ ...(e as DomainEvent), seq: 1, time: 'T' }).replace(/^T /, '');

test('a multipath route prints every nexthop; the event is on the first nexthop’s device', () => {
  const { model: m, events } = model();
  const multipath = Buffer.concat([rtnexthop(2, ip4('10.0.0.2')), rtnexthop(3, ip4('10.0.1.2'), 2, 16)]);
  m.route(
    decodeRoute(
      route({
        dst: ip4('10.88.0.0'),
        dstLength: 16,
        attrs: [attr(RTA_PRIORITY, u32(20)), attr(RTA_MULTIPATH, multipath)],
      }),
    ),
  );
  assert.equal(events.length, 1);
  assert.equal(
    line(events[0]!),
    'route added veth2 ifindex=2 inet table=main protocol=static type=unicast 10.88.0.0/16 metric 20' +
      ' nexthop via 10.0.0.2 dev veth2 weight 1 nexthop via 10.0.1.2 dev veth3 weight 3 linkdown',
  );
  const json = JSON.parse(formatEventJson({ ...(events[0] as DomainEvent), seq: 1, time: 'T' })) as Record<
    string,
    unknown
  >;
  assert.deepEqual(json.nexthops, [
    { gateway: '10.0.0.2', interface: 'veth2', ifindex: 2, weight: 1 },
    { gateway: '10.0.1.2', interface: 'veth3', ifindex: 3, weight: 3, flags: ['linkdown'] },
  ]);
  assert.equal(json.metric, 20);
  assert.equal(json.moreNexthops, undefined);
  // Its removal shows it whole too.
  m.route(
    decodeRoute(
      route({
        type: RTM_DELROUTE,
        dst: ip4('10.88.0.0'),
        dstLength: 16,
        attrs: [attr(RTA_PRIORITY, u32(20)), attr(RTA_MULTIPATH, multipath)],
      }),
    ),
  );
  assert.match(
    line(events[1]!),
    /^route removed veth2 ifindex=2 .* 10\.88\.0\.0\/16 metric 20 nexthop via 10\.0\.0\.2 /,
  );
});

test(`a route with many nexthops lists the first ${MAX_EVENT_NEXTHOPS} and says how many more`, () => {
  const { model: m, events } = model();
  const hops: Buffer[] = [];
  for (let i = 0; i < 30; i++) hops.push(rtnexthop(2 + i, ip4(`10.0.${i}.2`)));
  m.route(
    decodeRoute(route({ dst: ip4('10.99.0.0'), dstLength: 16, attrs: [attr(RTA_MULTIPATH, Buffer.concat(hops))] })),
  );
  const e = events[0]!;
  assert.ok(e.kind === 'route');
  assert.equal(e.nexthops?.length, MAX_EVENT_NEXTHOPS);
  assert.equal(e.moreNexthops, 30 - MAX_EVENT_NEXTHOPS);
  assert.equal(e.nexthops?.[MAX_EVENT_NEXTHOPS - 1]?.gateway, `10.0.${MAX_EVENT_NEXTHOPS - 1}.2`);
  const text = line(e);
  assert.equal(text.match(/ nexthop /g)?.length, MAX_EVENT_NEXTHOPS);
  assert.ok(text.endsWith(` more_nexthops=${30 - MAX_EVENT_NEXTHOPS}`), text);
});

test('metric, prefsrc, MTU, nhid and a scope that is not the default for the type', () => {
  const { model: m, events } = model();
  const metrics = Buffer.concat([attr(RTAX_MTU, u32(1400))]);
  // A device route with a preferred source and an MTU: scope link is its default, not printed.
  m.route(
    decodeRoute(
      route({
        dst: ip4('10.70.0.0'),
        dstLength: 24,
        scope: 253,
        attrs: [
          attr(RTA_OIF, u32(4)),
          attr(RTA_PREFSRC, ip4('10.70.0.1')),
          attr(RTA_PRIORITY, u32(100)),
          attr(RTA_METRICS, metrics),
        ],
      }),
    ),
  );
  // A gateway route asked for with scope link: not its default, printed.
  m.route(
    decodeRoute(
      route({
        dst: ip4('10.71.0.0'),
        dstLength: 24,
        scope: 253,
        attrs: [attr(RTA_OIF, u32(4)), attr(RTA_GATEWAY, ip4('10.70.0.9'))],
      }),
    ),
  );
  // A route through a nexthop object: no device in the message.
  m.route(decodeRoute(route({ dst: ip4('10.72.0.0'), dstLength: 24, attrs: [attr(RTA_NH_ID, u32(7))] })));
  // IPv6 routes all come with scope universe: never printed.
  m.route(
    decodeRoute(
      route({
        family: AF_INET6,
        dst: Buffer.from('20010db8000100000000000000000000', 'hex'),
        dstLength: 64,
        attrs: [attr(RTA_OIF, u32(5)), attr(RTA_PRIORITY, u32(1024))],
      }),
    ),
  );
  assert.deepEqual(events.map(line), [
    'route added veth4 ifindex=4 inet table=main protocol=static type=unicast 10.70.0.0/24 src 10.70.0.1 metric 100 mtu 1400',
    'route added veth4 ifindex=4 inet table=main protocol=static type=unicast 10.71.0.0/24 via 10.70.0.9 scope link',
    'route added - ifindex=0 inet table=main protocol=static type=unicast 10.72.0.0/24 nhid 7',
    'route added veth5 ifindex=5 inet6 table=main protocol=static type=unicast 2001:db8:1::/64 metric 1024',
  ]);
  const first = events[0]!;
  assert.ok(first.kind === 'route');
  assert.deepEqual(
    { prefsrc: first.prefsrc, metric: first.metric, mtu: first.mtu, scope: first.scope, nexthops: first.nexthops },
    { prefsrc: '10.70.0.1', metric: 100, mtu: 1400, scope: undefined, nexthops: undefined },
  );
});

test('RTA_METRICS with a bad nested length is a decode error, not a throw later', () => {
  const bad = Buffer.alloc(8);
  bad.writeUInt16LE(12, 0); // nla_len past the end of RTA_METRICS
  bad.writeUInt16LE(RTAX_MTU, 2);
  const bytes = route({ dst: ip4('10.73.0.0'), dstLength: 24, attrs: [attr(RTA_METRICS, bad)] });
  assert.throws(() => decodeRoute(bytes));
});
