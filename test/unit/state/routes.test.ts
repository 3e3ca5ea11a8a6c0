// The compact route table against a plain Map model, on random operations, and its memory
// coming back after a withdrawal.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AF_INET,
  AF_INET6,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  RTM_DELROUTE,
  RTM_NEWROUTE,
} from '../../../src/netlink/constants';
import { routeRequest } from '../../../src/netlink/request';
import type { RouteMessage } from '../../../src/netlink/types';
import { RouteTable } from '../../../src/state/routes';
import { decodeRoute } from '../../helpers/decode';

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
    routeRequest({
      type: op.type,
      flags: op.flags,
      seq: 1,
      family: op.family,
      dst: addr(op.family, op.n),
      dstLength: op.family === AF_INET6 ? 128 : 32,
      table: op.table,
      protocol: op.protocol,
      oif: op.oif,
      routeType: 1,
    }),
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
        const op = {
          type: RTM_NEWROUTE,
          flags: NLM_F_CREATE | NLM_F_EXCL,
          family,
          n,
          table: t,
          protocol: 4,
          oif: 1 + Math.floor(random() * 4),
        };
        assert.equal(
          table.applyNew(message(op), false, () => undefined),
          'added',
        );
        ref.set(key, { protocol: op.protocol, oif: op.oif });
      } else if (r < 0.65) {
        const op = {
          type: RTM_NEWROUTE,
          flags: NLM_F_REPLACE,
          family,
          n,
          table: t,
          protocol: 186,
          oif: 1 + Math.floor(random() * 4),
        };
        const before = ref.get(key);
        let previous = -1;
        const result = table.applyNew(message(op), true, (_r, p) => (previous = p));
        assert.equal(result, before ? 'replaced' : 'added');
        if (before) assert.equal(previous, before.protocol);
        ref.set(key, { protocol: 186, oif: op.oif });
      } else if (r < 0.97) {
        const existing = ref.get(key);
        const removed = table.applyDelete(
          message({
            type: RTM_DELROUTE,
            flags: 0,
            family,
            n,
            table: t,
            protocol: existing?.protocol ?? 4,
            oif: existing?.oif ?? 1,
          }),
        );
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
      assert.ok(
        table.applyDelete(
          message({ type: RTM_DELROUTE, flags: 0, family, n, table: t, protocol: v.protocol, oif: v.oif }),
        ),
        key,
      );
    }
    assert.equal(table.count, 0);
  });
}

test('a withdrawal gives the memory back, and a resync sweep removes what a dump did not list', () => {
  const table = new RouteTable(AF_INET);
  const empty = table.bytes;
  const N = 200_000;
  for (let n = 0; n < N; n++)
    table.applyNew(
      message({ type: RTM_NEWROUTE, flags: NLM_F_CREATE, family: AF_INET, n, table: 254, protocol: 186, oif: 2 }),
      false,
      () => undefined,
    );
  assert.equal(table.count, N);
  const full = table.bytes;
  // 44 bytes a record, pages of 65,536 records, two indexes at most half full.
  assert.ok(full < N * 80, `${full} bytes for ${N} routes: more than 80 a route`);
  table.beginSweep();
  for (let n = 0; n < N; n += 2)
    table.applyNew(
      message({ type: RTM_NEWROUTE, flags: 0, family: AF_INET, n, table: 254, protocol: 186, oif: 2 }),
      false,
      () => undefined,
    );
  let swept = 0;
  table.sweep(() => swept++);
  assert.equal(swept, N / 2);
  assert.equal(table.count, N / 2);
  for (let n = 0; n < N; n += 2)
    assert.ok(
      table.applyDelete(
        message({ type: RTM_DELROUTE, flags: 0, family: AF_INET, n, table: 254, protocol: 186, oif: 2 }),
      ),
    );
  assert.equal(table.count, 0);
  table.shrink(); // the exporter does it once removals pause
  assert.equal(table.bytes, empty);
});

// ---- resizes and compaction a step at a time -------------------------------------------------

interface RefRoute {
  oif: number;
  nh: number;
  protocol: number;
}

/** Reference routes per key ("table|n"), in the kernel's order: the first is the one a replace names. */
type Reference = Map<string, RefRoute[]>;

const sameRoute = (a: { oif: number; nh: number }, b: { oif: number; nh: number }): boolean =>
  a.oif === b.oif && a.nh === b.nh;

/** One decoded message per family, re-aimed for each operation (decoding a million would dominate the test). */
function messageFactory(family: number): (n: number, table: number, r: RefRoute) => RouteMessage {
  const m = decodeRoute(
    routeRequest({
      type: RTM_NEWROUTE,
      flags: 0,
      seq: 1,
      family,
      dst: addr(family, 0),
      dstLength: family === AF_INET6 ? 128 : 32,
      table: 254,
      protocol: 186,
      oif: 1,
      routeType: 1,
    }),
  );
  const dst = addr(family, 0);
  return (n, table, r) => {
    if (family === AF_INET6) dst.writeUInt32BE(n, 12);
    else dst.writeUInt32BE(0x0a000000 + n, 0);
    dst.copy(m.buf, m.dstOffset);
    m.table = table;
    m.protocol = r.protocol;
    m.oif = r.oif;
    m.nhId = r.nh;
    return m;
  };
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

for (const family of [AF_INET, AF_INET6]) {
  test(`growth, withdrawal, compaction and resizes a step at a time agree with a Map (family ${family})`, async () => {
    // Background slices of one step each, so operations land between the steps.
    const table = new RouteTable(family, { maintenanceSliceMs: 0 });
    const empty = table.bytes;
    const ref: Reference = new Map();
    let refCount = 0;
    const msg = messageFactory(family);
    const random = prng(7 + family);
    const pick = (k: number): number => Math.floor(random() * k);
    const keyOf = (n: number, t: number): string => `${t}|${n}`;
    const parse = (key: string): [number, number] => key.split('|').map(Number) as [number, number];
    /** Mostly one route a key; some keys get a few (other devices, or a nexthop object). */
    const someRoute = (protocol: number): RefRoute => {
      const r = random();
      return r < 0.85
        ? { oif: 1, nh: 0, protocol }
        : r < 0.95
          ? { oif: 2 + pick(3), nh: 0, protocol }
          : { oif: 0, nh: 100 + pick(2), protocol };
    };

    const add = (n: number, t: number, route: RefRoute): void => {
      const key = keyOf(n, t);
      const routes = ref.get(key);
      const result = table.applyNew(msg(n, t, route), false, () => undefined);
      const same = routes?.find((r) => sameRoute(r, route));
      if (same) {
        same.protocol = route.protocol; // re-announced, perhaps by another protocol
        return assert.equal(result, 'same', `add ${key}`);
      }
      assert.equal(result, 'added', `add ${key}`);
      if (routes) routes.push({ ...route });
      else ref.set(key, [{ ...route }]);
      refCount++;
    };
    const replace = (n: number, t: number, route: RefRoute): void => {
      const key = keyOf(n, t);
      const routes = ref.get(key);
      const target = routes?.find((r) => sameRoute(r, route)) ?? routes?.[0];
      let previous = -1;
      const result = table.applyNew(msg(n, t, route), true, (_r, p) => (previous = p));
      if (!target) {
        assert.equal(result, 'added', `replace ${key}`);
        ref.set(key, [{ ...route }]);
        refCount++;
        return;
      }
      assert.equal(result, 'replaced', `replace ${key}`);
      assert.equal(previous, target.protocol, `replace ${key}: the route replaced`);
      Object.assign(target, route);
    };
    const remove = (n: number, t: number, route: RefRoute): void => {
      const key = keyOf(n, t);
      const routes = ref.get(key) ?? [];
      let i = routes.findIndex((r) => sameRoute(r, route));
      if (i < 0 && family === AF_INET && routes.length > 0) i = 0; // IPv4 falls back to the first
      const removed = table.applyDelete(msg(n, t, route));
      if (i < 0) return assert.equal(removed, undefined, `delete ${key}`);
      const expected = routes[i] as RefRoute;
      assert.ok(removed, `delete ${key}`);
      assert.equal(removed.protocol, expected.protocol, `delete ${key}: protocol`);
      assert.equal(removed.oif, expected.oif, `delete ${key}: oif`);
      routes.splice(i, 1);
      if (routes.length === 0) ref.delete(key);
      refCount--;
    };
    const removeMatching = (what: string, match: (r: RefRoute) => boolean, act: () => number): void => {
      let expected = 0;
      for (const [key, routes] of ref) {
        const kept = routes.filter((r) => !match(r));
        expected += routes.length - kept.length;
        if (kept.length === 0) ref.delete(key);
        else ref.set(key, kept);
      }
      assert.equal(act(), expected, what);
      refCount -= expected;
    };
    /** Every reference route is held as it is (a repeat of it changes nothing: 'same'). */
    const verify = (label: string, sample = Infinity): void => {
      assert.equal(table.count, refCount, `${label}: count`);
      let checked = 0;
      for (const [key, routes] of ref) {
        if (checked++ >= sample) break;
        const [t, n] = parse(key);
        for (const r of routes)
          assert.equal(
            table.applyNew(msg(n, t, r), false, () => assert.fail(`${label}: ${key} changed`)),
            'same',
            `${label}: ${key}`,
          );
      }
    };
    /** Random operations on keys below `keys`, adds with probability `adding`; the event loop runs every `every` operations. */
    const churn = async (label: string, steps: number, keys: number, adding: number, every: number): Promise<void> => {
      for (let step = 1; step <= steps; step++) {
        const n = pick(keys);
        const t = random() < 0.9 ? 254 : 100;
        const r = random();
        const existing = ref.get(keyOf(n, t));
        if (r < adding) add(n, t, someRoute(186));
        else if (r < adding + 0.05)
          replace(
            n,
            t,
            random() < 0.5 && existing
              ? { ...(existing[pick(existing.length)] as RefRoute), protocol: 4 }
              : someRoute(4),
          );
        else remove(n, t, existing && random() < 0.9 ? (existing[pick(existing.length)] as RefRoute) : someRoute(186));
        if (step % 25_000 === 0) verify(`${label} step ${step}`, 300);
        if (step % every === 0) await yieldToLoop();
      }
      verify(`${label} end`);
    };

    // Grow across index doublings and onto a second page of records, then churn in place.
    await churn('grow', 130_000, 110_000, 0.9, 500);
    await churn('churn', 20_000, 110_000, 0.5, 100);
    if (family === AF_INET) {
      removeMatching(
        'device flush',
        (r) => r.oif === 3,
        () => table.removeDevice(3, true, () => undefined),
      );
      removeMatching(
        'nexthop flush',
        (r) => r.nh === 101,
        () => table.removeNexthops(new Set([101]), () => undefined),
      );
      verify('after flushes');
    }
    // A resync whose dump lists a third of the keys.
    table.beginSweep();
    let swept = 0;
    let k = 0;
    for (const [key, routes] of [...ref]) {
      const [t, n] = parse(key);
      if (k++ % 3 === 0) {
        for (const r of routes) table.applyNew(msg(n, t, r), false, () => undefined);
        continue;
      }
      ref.delete(key);
      swept += routes.length;
    }
    refCount -= swept;
    assert.equal(
      table.sweep(() => undefined),
      swept,
      'sweep',
    );
    verify('after sweep');
    // A withdrawal down to a few thousand routes; once removals pause the shrink starts
    // (compaction, then smaller indexes), and operations go on between its steps.
    let left = refCount;
    for (const [key, routes] of [...ref]) {
      if (left <= 6000) break;
      const [t, n] = parse(key);
      for (const r of [...routes]) remove(n, t, r);
      left = refCount;
      if (refCount % 2000 === 0) await yieldToLoop();
    }
    await sleep(300);
    await churn('during the shrink', 10_000, 30_000, 0.4, 10);
    await sleep(300);
    await churn('after', 10_000, 30_000, 0.5, 50);
    // Everything goes; the memory comes back once the background work is done.
    for (const [key, routes] of [...ref]) {
      const [t, n] = parse(key);
      for (const r of [...routes]) remove(n, t, r);
    }
    assert.equal(table.count, 0);
    for (const deadline = Date.now() + 10_000; table.bytes !== empty && Date.now() < deadline;) await sleep(1);
    assert.equal(table.bytes, empty, 'memory back after the background shrink');
  });
}

// ---- storage that grows with the routes ------------------------------------------------------

for (const family of [AF_INET, AF_INET6]) {
  test(`storage starts at a few records, grows from tiny past a full page and shrinks back, agreeing with a Map (family ${family})`, async () => {
    const table = new RouteTable(family, { maintenanceSliceMs: 0 });
    const empty = table.bytes;
    // Two indexes of 16 slots and no record page: a namespace that holds nothing costs bytes.
    assert.ok(empty <= 256, `an empty table holds ${empty} bytes`);
    const msg = messageFactory(family);
    const ref = new Map<number, RefRoute>();
    const route = (n: number): RefRoute => ({ oif: 1 + (n % 3), nh: 0, protocol: n % 2 === 0 ? 186 : 4 });
    const verifyAll = (label: string): void => {
      assert.equal(table.count, ref.size, `${label}: count`);
      for (const [n, r] of ref)
        assert.equal(
          table.applyNew(msg(n, 254, r), false, () => assert.fail(`${label}: ${n} changed`)),
          'same',
          `${label}: ${n}`,
        );
    };
    const recordBytes = family === AF_INET6 ? 56 : 44;
    // A pod's five routes: one small page, not a full one.
    for (let n = 0; n < 5; n++) {
      assert.equal(
        table.applyNew(msg(n, 254, route(n)), false, () => undefined),
        'added',
      );
      ref.set(n, route(n));
    }
    verifyAll('five');
    assert.ok(table.bytes < 2048, `five routes hold ${table.bytes} bytes`);
    // Growth one route at a time through every doubling of the first page and onto a second
    // page, checking every route at each power of two.
    for (let n = 5; n < 70_000; n++) {
      assert.equal(
        table.applyNew(msg(n, 254, route(n)), false, () => undefined),
        'added',
        `add ${n}`,
      );
      ref.set(n, route(n));
      if ((n & (n + 1)) === 0 && n < 5000) verifyAll(`at ${n + 1}`);
    }
    verifyAll('past a page');
    assert.ok(
      table.bytes < 70_000 * (recordBytes + 32) + 65_536 * recordBytes,
      `${table.bytes} bytes for 70,000 routes`,
    );
    // Withdraw down to five again: once removals pause the records go back to a small first page.
    for (let n = 5; n < 70_000; n++) {
      assert.ok(table.applyDelete(msg(n, 254, ref.get(n) as RefRoute)), `delete ${n}`);
      ref.delete(n);
    }
    verifyAll('back to five');
    for (const deadline = Date.now() + 10_000; table.bytes >= 2048 && Date.now() < deadline;) await sleep(5);
    assert.ok(table.bytes < 2048, `five routes after a withdrawal hold ${table.bytes} bytes`);
    verifyAll('after the shrink');
    // Grow again from the small page (compaction moved records; the free list must be right).
    for (let n = 100; n < 300; n++) {
      assert.equal(
        table.applyNew(msg(n, 254, route(n)), false, () => undefined),
        'added',
        `re-add ${n}`,
      );
      ref.set(n, route(n));
    }
    verifyAll('grown again');
    for (const [n, r] of [...ref]) {
      assert.ok(table.applyDelete(msg(n, 254, r)), `final delete ${n}`);
      ref.delete(n);
    }
    for (const deadline = Date.now() + 10_000; table.bytes !== empty && Date.now() < deadline;) await sleep(5);
    assert.equal(table.bytes, empty, 'an emptied table holds no page');
  });
}
