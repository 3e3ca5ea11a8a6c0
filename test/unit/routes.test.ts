// The compact route table against a plain Map model, on random operations, and its memory
// coming back after a withdrawal.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AF_INET, AF_INET6, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, RTM_DELROUTE, RTM_NEWROUTE } from '../../src/netlink/constants';
import { decodeDatagram } from '../../src/netlink/decode';
import { routeRequest } from '../../src/netlink/request';
import type { MessageSink, RouteMessage } from '../../src/netlink/types';
import { RouteTable } from '../../src/state/routes';

function decodeRoute(bytes: Buffer): RouteMessage {
  let out: RouteMessage | undefined;
  const sink: MessageSink = {
    link: () => undefined,
    address: () => undefined,
    route: (m) => (out = m),
    neighbour: () => undefined,
    nexthop: () => undefined,
    done: () => undefined,
    error: () => undefined,
    other: () => undefined,
    decodeError: (e) => assert.fail(e),
  };
  decodeDatagram(bytes, 0, bytes.length, sink);
  assert.ok(out);
  return out;
}

function addr(family: number, n: number): Buffer {
  const b = Buffer.alloc(family === AF_INET6 ? 16 : 4);
  if (family === AF_INET6) {
    b.writeUInt16BE(0x2001, 0);
    b.writeUInt16BE(0x0db8, 2);
    b.writeUInt32BE(n, 12);
  } else b.writeUInt32BE(0x0a000000 + n, 0);
  return b;
}

interface Op {
  type: number;
  flags: number;
  family: number;
  n: number;
  table: number;
  protocol: number;
  oif: number;
}

/** As the kernel sends it: a notification carries the route type on a delete too. */
function message(op: Op): RouteMessage {
  return decodeRoute(
    routeRequest({ type: op.type, flags: op.flags, seq: 1, family: op.family, dst: addr(op.family, op.n), dstLength: op.family === AF_INET6 ? 128 : 32, table: op.table, protocol: op.protocol, oif: op.oif, routeType: 1 }),
  );
}

/** Deterministic PRNG (mulberry32), so a failure replays. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

for (const family of [AF_INET, AF_INET6]) {
  test(`random adds, replaces, deletes and device flushes agree with a Map (family ${family})`, () => {
    const table = new RouteTable(family);
    // reference: "table|n" -> { protocol, oif }
    const ref = new Map<string, { protocol: number; oif: number }>();
    const random = prng(42 + family);
    for (let step = 0; step < 20000; step++) {
      const n = Math.floor(random() * 3000);
      const t = random() < 0.8 ? 254 : 100;
      const key = `${t}|${n}`;
      const r = random();
      if (r < 0.5) {
        if (ref.has(key)) continue; // the kernel would refuse an exclusive add
        const op = { type: RTM_NEWROUTE, flags: NLM_F_CREATE | NLM_F_EXCL, family, n, table: t, protocol: 4, oif: 1 + Math.floor(random() * 4) };
        assert.equal(table.applyNew(message(op), false, () => undefined), 'added');
        ref.set(key, { protocol: op.protocol, oif: op.oif });
      } else if (r < 0.65) {
        const op = { type: RTM_NEWROUTE, flags: NLM_F_REPLACE, family, n, table: t, protocol: 186, oif: 1 + Math.floor(random() * 4) };
        const before = ref.get(key);
        let previous = -1;
        const result = table.applyNew(message(op), true, (_r, p) => (previous = p));
        assert.equal(result, before ? 'replaced' : 'added');
        if (before) assert.equal(previous, before.protocol);
        ref.set(key, { protocol: 186, oif: op.oif });
      } else if (r < 0.97) {
        const existing = ref.get(key);
        const removed = table.applyDelete(message({ type: RTM_DELROUTE, flags: 0, family, n, table: t, protocol: existing?.protocol ?? 4, oif: existing?.oif ?? 1 }));
        assert.equal(removed !== undefined, existing !== undefined, `delete ${key}`);
        if (removed && existing) assert.equal(removed.protocol, existing.protocol);
        ref.delete(key);
      } else if (family === AF_INET) {
        const dev = 1 + Math.floor(random() * 4);
        const expected = [...ref].filter(([, v]) => v.oif === dev).length;
        const got = table.removeDevice(dev, true, () => undefined);
        assert.equal(got, expected, `flush of device ${dev}`);
        for (const [k, v] of [...ref]) if (v.oif === dev) ref.delete(k);
      }
      assert.equal(table.count, ref.size);
    }
    // Every route the Map holds is found (a delete of each empties the table).
    for (const [key, v] of ref) {
      const [t, n] = key.split('|').map(Number) as [number, number];
      assert.ok(table.applyDelete(message({ type: RTM_DELROUTE, flags: 0, family, n, table: t, protocol: v.protocol, oif: v.oif })), key);
    }
    assert.equal(table.count, 0);
  });
}

test('a withdrawal gives the memory back, and a resync sweep removes what a dump did not list', () => {
  const table = new RouteTable(AF_INET);
  const empty = table.bytes;
  const N = 200_000;
  for (let n = 0; n < N; n++) table.applyNew(message({ type: RTM_NEWROUTE, flags: NLM_F_CREATE, family: AF_INET, n, table: 254, protocol: 186, oif: 2 }), false, () => undefined);
  assert.equal(table.count, N);
  const full = table.bytes;
  // 44 bytes a record, pages of 65,536 records, two indexes at most half full.
  assert.ok(full < N * 80, `${full} bytes for ${N} routes: more than 80 a route`);
  table.beginSweep();
  for (let n = 0; n < N; n += 2) table.applyNew(message({ type: RTM_NEWROUTE, flags: 0, family: AF_INET, n, table: 254, protocol: 186, oif: 2 }), false, () => undefined);
  let swept = 0;
  table.sweep(() => swept++);
  assert.equal(swept, N / 2);
  assert.equal(table.count, N / 2);
  for (let n = 0; n < N; n += 2) assert.ok(table.applyDelete(message({ type: RTM_DELROUTE, flags: 0, family: AF_INET, n, table: 254, protocol: 186, oif: 2 })));
  assert.equal(table.count, 0);
  table.shrink(); // the exporter does it once removals pause
  assert.equal(table.bytes, empty);
});
