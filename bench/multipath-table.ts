// What the multipath repair costs on a full table: N IPv4 routes, each a multipath route over
// two devices (as bird installs ECMP without nexthop objects), inserted into a RouteTable, then
// one device down (its nexthops die: nothing dropped), then the other down (every route
// dropped, as the kernel does silently). Prints time and memory for each step.
//
//   npx tsc -p tsconfig.json && node --expose-gc dist/bench/multipath-table.js [routes, default 1000000]

import { decodeDatagram } from '../src/netlink/decode';
import type { MessageSink, RouteMessage } from '../src/netlink/types';
import { RouteTable } from '../src/state/routes';

const N = Number(process.argv[2] ?? 1_000_000);
const RTM_NEWROUTE = 24;
const RTA_DST = 1;
const RTA_GATEWAY = 5;
const RTA_TABLE = 15;
const RTA_MULTIPATH = 9;

function attr(type: number, payload: Buffer): Buffer {
  const b = Buffer.alloc((4 + payload.length + 3) & ~3);
  b.writeUInt16LE(4 + payload.length, 0);
  b.writeUInt16LE(type, 2);
  payload.copy(b, 4);
  return b;
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v, 0);
  return b;
}

/** rtnexthop (len, flags, hops, ifindex) + RTA_GATEWAY. */
function nexthop(ifindex: number, gateway: number): Buffer {
  const gw = attr(RTA_GATEWAY, Buffer.from([10, 0, ifindex, gateway]));
  const b = Buffer.alloc(8);
  b.writeUInt16LE(8 + gw.length, 0);
  b.writeInt32LE(ifindex, 4);
  return Buffer.concat([b, gw]);
}

function routeMessage(n: number): RouteMessage {
  const rtm = Buffer.from([2, 32, 0, 0, 254, 186, 0, 1, 0, 0, 0, 0]); // inet, /32, main, proto bgp, universe, unicast
  const dst = Buffer.alloc(4);
  dst.writeUInt32BE(0x0b000000 + n, 0);
  const body = Buffer.concat([
    rtm,
    attr(RTA_TABLE, u32(254)),
    attr(RTA_DST, dst),
    attr(RTA_MULTIPATH, Buffer.concat([nexthop(2, 1), nexthop(3, 1)])),
  ]);
  const hdr = Buffer.alloc(16);
  hdr.writeUInt32LE(16 + body.length, 0);
  hdr.writeUInt16LE(RTM_NEWROUTE, 4);
  hdr.writeUInt16LE(0x400, 6);
  const bytes = Buffer.concat([hdr, body]);
  let out: RouteMessage | undefined;
  const noop = (): void => undefined;
  const sink: MessageSink = {
    link: noop,
    address: noop,
    route: (m) => (out = m),
    rule: noop,
    neighbour: noop,
    nexthop: noop,
    done: noop,
    error: noop,
    other: noop,
    decodeError: (e) => {
      throw e;
    },
  };
  decodeDatagram(bytes, 0, bytes.length, sink);
  if (!out) throw new Error('no route decoded');
  return out;
}

function heapMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / 1e6;
}

const table = new RouteTable(2);
const mb0 = heapMb();
let t = performance.now();
for (let n = 0; n < N; n++) table.applyNew(routeMessage(n), false, () => undefined);
const insertMs = performance.now() - t;
const mb1 = heapMb();
t = performance.now();
const firstDown = table.multipathDeviceDown(2, () => undefined);
const firstMs = performance.now() - t;
t = performance.now();
const secondDown = table.multipathDeviceDown(3, () => undefined);
const secondMs = performance.now() - t;
console.log(
  `${N} IPv4 multipath routes over 2 devices: insert ${insertMs.toFixed(0)} ms (${((insertMs * 1000) / N).toFixed(2)} us a route, message build included), ` +
    `table ${(mb1 - mb0).toFixed(1)} MB (${(((mb1 - mb0) * 1e6) / N).toFixed(1)} bytes a route)`,
);
console.log(
  `device 2 down: ${firstDown} routes dropped in ${firstMs.toFixed(2)} ms; device 3 down: ${secondDown} dropped in ${secondMs.toFixed(0)} ms; routes left ${table.count}`,
);
