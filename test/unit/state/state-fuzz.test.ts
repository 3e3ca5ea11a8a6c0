// Property tests for the state model: random sequences of datagrams captured from the kernel,
// made weird but well-formed (NEW turned into DEL, ifindexes, flags, families, tables, nexthop
// ids and carrier counters rewritten, dump replies and notifications swapped) or mangled byte by
// byte, fed through decodeChunk into a NamespaceModel, interleaved with resync sweeps, grace
// expiries, dump modes, barriers and clock ticks. Whatever the order (a DELLINK for an unknown
// ifindex, routes through devices never seen, addresses of deleted links), the model never
// throws, counts exactly the codec's decode errors, and keeps its invariants:
// - every netlink_routes count is > 0 and they add up to the routes held;
// - trackedCount is the number of tracked links, never above the cap;
// - counters are non-negative integers.
//
// FUZZ_RUNS sets the sequences per property (default 400, a few seconds); FUZZ_SEED replays one.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import {
  IFF_LOWER_UP,
  IFF_RUNNING,
  IFF_UP,
  IFLA_CARRIER,
  IFLA_CARRIER_CHANGES,
  IFLA_CARRIER_DOWN_COUNT,
  IFLA_CARRIER_UP_COUNT,
  NHA_ID,
  NHA_OIF,
  NLM_F_APPEND,
  NLM_F_CREATE,
  NLM_F_DUMP_INTR,
  NLM_F_EXCL,
  NLM_F_MULTI,
  NLM_F_REPLACE,
  NLMSG_HDRLEN,
  RTA_NH_ID,
  RTA_OIF,
  RTA_PRIORITY,
  RTA_TABLE,
} from '../../../src/netlink/constants';
import { decodeChunk } from '../../../src/netlink/decode';
import type { MessageSink } from '../../../src/netlink/types';
import { NamespaceModel } from '../../../src/state/model';
import type { PendingEvent } from '../../../src/state/events';
import { MessageDispatch } from '../../../src/session/dispatch';
import { SessionCounters } from '../../../src/session/session-counters';
import { capturedDatagrams } from '../../helpers/fixtures';

const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const params = SEED === undefined ? { numRuns: RUNS } : { numRuns: RUNS, seed: SEED };
const testOptions = { timeout: Math.max(60_000, RUNS * 50) };

// ---------------------------------------------------------------------------------------------
// The fixtures: datagrams in native chunk framing ([u32 len][datagram][pad]).

interface Datagram {
  bytes: Buffer;
  /** nlmsg_pid of its messages (dump replies carry the capturing socket's port id). */
  pids: number[];
}

function fixtureDatagrams(): Datagram[] {
  return capturedDatagrams().map((bytes) => ({
    bytes,
    pids: messageOffsets(bytes).map((m) => bytes.readUInt32LE(m + 12)),
  }));
}

/** Offsets of the messages whose nlmsghdr checks out, in order. */
function messageOffsets(buf: Buffer): number[] {
  const out: number[] = [];
  for (let pos = 0; pos + NLMSG_HDRLEN <= buf.length;) {
    const len = buf.readUInt32LE(pos);
    if (len < NLMSG_HDRLEN || len > buf.length - pos) break;
    out.push(pos);
    pos += (len + 3) & ~3;
  }
  return out;
}

const DATAGRAMS = fixtureDatagrams();
const PORT_IDS = [...new Set(DATAGRAMS.flatMap((d) => d.pids).filter((p) => p !== 0))];

function frame(datagrams: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const d of datagrams) {
    const out = Buffer.alloc(4 + ((d.length + 3) & ~3));
    out.writeUInt32LE(d.length, 0);
    d.copy(out, 4);
    parts.push(out);
  }
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// Weird but well-formed: fields rewritten in place, lengths untouched.

/** Fixed header length by nlmsg_type (link, address, route, neighbour, nexthop). */
function fixedHeaderLength(type: number): number | undefined {
  if (type === 16 || type === 17) return 16;
  if (type === 20 || type === 21) return 8;
  if (type === 24 || type === 25) return 12;
  if (type === 28 || type === 29) return 12;
  if (type === 104 || type === 105) return 8;
  return undefined;
}

type Weird =
  | { kind: 'newdel'; msg: number }
  | { kind: 'ifindex'; msg: number; value: number }
  | { kind: 'nlflags'; msg: number; value: number }
  | { kind: 'pid'; msg: number; port: boolean }
  | { kind: 'ifflags'; msg: number; value: number }
  | { kind: 'family'; msg: number; value: number }
  | { kind: 'rtm'; msg: number; field: number; value: number }
  | { kind: 'attr'; msg: number; attr: number; value: number };

const arbIfindex = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 12 }), weight: 5 },
  { arbitrary: fc.constantFrom(0x7fffffff, 0xffffffff, 1000), weight: 1 },
);
const arbSmallU32 = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 30 }), weight: 4 },
  { arbitrary: fc.constantFrom(0xfffffffe, 0xffffffff, 0x80000000, 253, 254, 255, 256), weight: 1 },
  { arbitrary: fc.integer({ min: 0, max: 0xffffffff }), weight: 1 },
);
/** Attributes whose u32 payload decides identity and state (same number means different things per family). */
const arbAttr = fc.constantFrom(
  RTA_OIF,
  RTA_TABLE,
  RTA_NH_ID,
  RTA_PRIORITY,
  IFLA_CARRIER,
  IFLA_CARRIER_CHANGES,
  IFLA_CARRIER_UP_COUNT,
  IFLA_CARRIER_DOWN_COUNT,
  NHA_ID,
  NHA_OIF,
);
const arbMsg = fc.nat({ max: 63 });

const arbWeird: fc.Arbitrary<Weird> = fc.oneof(
  fc.record({ kind: fc.constant('newdel' as const), msg: arbMsg }),
  fc.record({ kind: fc.constant('ifindex' as const), msg: arbMsg, value: arbIfindex }),
  fc.record({
    kind: fc.constant('nlflags' as const),
    msg: arbMsg,
    value: fc
      .subarray([NLM_F_CREATE, NLM_F_REPLACE, NLM_F_EXCL, NLM_F_APPEND, NLM_F_DUMP_INTR, NLM_F_MULTI])
      .map((l) => l.reduce((a, b) => a | b, 0)),
  }),
  fc.record({ kind: fc.constant('pid' as const), msg: arbMsg, port: fc.boolean() }),
  fc.record({
    kind: fc.constant('ifflags' as const),
    msg: arbMsg,
    value: fc.subarray([IFF_UP, IFF_RUNNING, IFF_LOWER_UP, 0x2, 0x1000]).map((l) => l.reduce((a, b) => a | b, 0)),
  }),
  fc.record({ kind: fc.constant('family' as const), msg: arbMsg, value: fc.constantFrom(0, 2, 7, 10, 128, 129) }),
  fc.record({
    kind: fc.constant('rtm' as const),
    msg: arbMsg,
    field: fc.integer({ min: 1, max: 7 }),
    value: fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 24, 32, 64, 128, 253, 254, 255), fc.integer({ min: 0, max: 255 })),
  }),
  fc.record({ kind: fc.constant('attr' as const), msg: arbMsg, attr: arbAttr, value: arbSmallU32 }),
);

/** Rewrites the u32 payload of every top-level attribute of type `attr` in the message at `m`. */
function rewriteAttrU32(buf: Buffer, m: number, attr: number, value: number): void {
  const len = buf.readUInt32LE(m);
  const fixed = fixedHeaderLength(buf.readUInt16LE(m + 4));
  if (fixed === undefined) return;
  const end = m + len;
  for (let a = m + NLMSG_HDRLEN + fixed; a + 4 <= end;) {
    const alen = buf.readUInt16LE(a);
    if (alen < 4 || a + alen > end) return;
    if ((buf.readUInt16LE(a + 2) & 0x3fff) === attr && alen >= 8) buf.writeUInt32LE(value >>> 0, a + 4);
    a += (alen + 3) & ~3;
  }
}

function applyWeird(original: Buffer, weird: Weird[], portId: number): Buffer {
  const buf = Buffer.from(original);
  const msgs = messageOffsets(buf);
  if (msgs.length === 0) return buf;
  for (const w of weird) {
    const m = msgs[w.msg % msgs.length]!;
    const type = buf.readUInt16LE(m + 4);
    const fixed = fixedHeaderLength(type);
    const p = m + NLMSG_HDRLEN;
    const room = buf.readUInt32LE(m) - NLMSG_HDRLEN;
    switch (w.kind) {
      case 'newdel':
        if (fixed !== undefined) buf.writeUInt16LE(type ^ 1, m + 4);
        break;
      case 'ifindex':
        // ifinfomsg.ifi_index and ifaddrmsg.ifa_index sit at +4; ndmsg.ndm_ifindex too.
        if ((type >= 16 && type <= 21) || type === 28 || type === 29) {
          if (room >= 8) buf.writeUInt32LE(w.value >>> 0, p + 4);
        } else if (type === 24 || type === 25) rewriteAttrU32(buf, m, RTA_OIF, w.value);
        else if (type === 104 || type === 105) rewriteAttrU32(buf, m, NHA_OIF, w.value);
        break;
      case 'nlflags':
        buf.writeUInt16LE(w.value, m + 6);
        break;
      case 'pid':
        buf.writeUInt32LE(w.port ? portId >>> 0 : 0, m + 12);
        break;
      case 'ifflags':
        if ((type === 16 || type === 17) && room >= 12) buf.writeUInt32LE(w.value, p + 8);
        break;
      case 'family':
        if (fixed !== undefined && room >= 1) buf[p] = w.value;
        break;
      case 'rtm':
        // rtmsg: dst_len, src_len, tos, table, protocol, scope, type; ifaddrmsg: prefixlen, flags, scope.
        if ((type === 24 || type === 25 || type === 20 || type === 21) && room > w.field) buf[p + w.field] = w.value;
        break;
      case 'attr':
        rewriteAttrU32(buf, m, w.attr, w.value);
        break;
    }
  }
  return buf;
}

// Byte-level damage, as in codec-fuzz: flips, truncations, lengths overwritten.
type Mangle =
  | { kind: 'flip'; pos: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'u16' | 'u32'; pos: number; value: number };
const arbMangles: fc.Arbitrary<Mangle[]> = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), pos: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({
      kind: fc.constant('u16' as const),
      pos: fc.nat(),
      value: fc.oneof(fc.constantFrom(0, 3, 4, 5, 8, 16, 0xffff), fc.integer({ min: 0, max: 0xffff })),
    }),
    fc.record({
      kind: fc.constant('u32' as const),
      pos: fc.nat(),
      value: fc.oneof(fc.constantFrom(0, 15, 16, 17, 0xffffffff), fc.integer({ min: 0, max: 0xffffffff })),
    }),
  ),
  { minLength: 1, maxLength: 4 },
);

function mangle(original: Buffer, mangles: Mangle[]): Buffer {
  let buf = Buffer.from(original);
  for (const x of mangles) {
    if (buf.length === 0) break;
    if (x.kind === 'flip') buf[x.pos % buf.length]! ^= 1 << x.bit;
    else if (x.kind === 'truncate') buf = buf.subarray(0, x.at % buf.length);
    else {
      const pos = (x.pos % buf.length) & ~3;
      if (x.kind === 'u16' && pos + 2 <= buf.length) buf.writeUInt16LE(x.value, pos);
      if (x.kind === 'u32' && pos + 4 <= buf.length) buf.writeUInt32LE(x.value >>> 0, pos);
    }
  }
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Operations on a model.

type Op =
  | { op: 'chunk'; datagrams: number[]; weird: Weird[]; mangles: Mangle[] | null; frameMangles: Mangle[] | null }
  | { op: 'beginSweep' }
  | { op: 'sweep' }
  | { op: 'expire'; grace: number }
  | { op: 'tick'; seconds: number }
  | { op: 'dumpMode'; mode: 'initial' | 'resync' | undefined }
  | { op: 'barriers' };

const arbDatagramIndex = fc.nat({ max: DATAGRAMS.length - 1 });

/** Operations; with `mangled`, some chunks are also damaged byte by byte (their framing too). */
function arbOps(mangled: boolean): fc.Arbitrary<Op[]> {
  const chunk = fc.record({
    op: fc.constant('chunk' as const),
    datagrams: fc.array(arbDatagramIndex, { minLength: 1, maxLength: 4 }),
    weird: fc.array(arbWeird, { maxLength: 6 }),
    mangles: mangled ? fc.option(arbMangles, { freq: 3 }) : fc.constant(null),
    frameMangles: mangled ? fc.option(arbMangles, { freq: 10 }) : fc.constant(null),
  });
  const op: fc.Arbitrary<Op> = fc.oneof(
    { arbitrary: chunk, weight: 14 },
    { arbitrary: fc.constant({ op: 'beginSweep' as const }), weight: 1 },
    { arbitrary: fc.constant({ op: 'sweep' as const }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('expire' as const), grace: fc.integer({ min: 0, max: 10 }) }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('tick' as const), seconds: fc.integer({ min: 0, max: 5 }) }), weight: 1 },
    {
      arbitrary: fc.record({
        op: fc.constant('dumpMode' as const),
        mode: fc.constantFrom('initial' as const, 'resync' as const, undefined),
      }),
      weight: 1,
    },
    { arbitrary: fc.constant({ op: 'barriers' as const }), weight: 1 },
  );
  return fc.array(op, { minLength: 1, maxLength: 60, size: 'max' });
}

interface Setup {
  portId: number;
  maxTracked: number;
  exclude: boolean;
  deferBarriers: boolean;
}
const arbSetup: fc.Arbitrary<Setup> = fc.record({
  portId: fc.oneof(fc.constantFrom(...PORT_IDS), fc.constant(-1), fc.integer({ min: 1, max: 0xffffffff })),
  maxTracked: fc.oneof(fc.integer({ min: 0, max: 6 }), fc.constant(10_000)),
  exclude: fc.boolean(),
  deferBarriers: fc.boolean(),
});

/** The codec's own count of decode errors in a chunk, with a sink that does nothing else. */
function codecErrors(chunk: Buffer): number {
  let errors = 0;
  const noop = (): void => {};
  // Every handler, the optional neighbourTable too: the codec decodes (and can reject) only what a sink takes.
  const sink: MessageSink = {
    link: noop,
    address: noop,
    route: noop,
    rule: noop,
    neighbour: noop,
    nexthop: noop,
    neighbourTable: noop,
    netconf: noop,
    done: noop,
    error: noop,
    other: noop,
    decodeError: () => void errors++,
  };
  decodeChunk(chunk, sink);
  return errors;
}

function isCount(n: unknown): boolean {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0;
}

/** The invariants; returns what is wrong. */
function invariants(model: NamespaceModel, maxTracked: number): string[] {
  const wrong: string[] = [];
  let sum = 0;
  for (const [key, v] of model.routeCounts) {
    // An emptied group stays, at 0 (its series must read 0, not vanish).
    if (!isCount(v)) wrong.push(`routeCounts[${key}] = ${v}`);
    if (!model.routeChanges.has(key)) wrong.push(`routeCounts[${key}] without routeChanges`);
    sum += v;
  }
  for (const key of model.routeChanges.keys())
    if (!model.routeCounts.has(key)) wrong.push(`routeChanges[${key}] without routeCounts`);
  const held = model.routes4.count + model.routes6.count;
  if (sum !== held)
    wrong.push(
      `sum of routeCounts ${sum} != routes held ${held} (routes4 ${model.routes4.count}, routes6 ${model.routes6.count})`,
    );
  for (const [key, counts] of model.routeChanges)
    if (!counts.every(isCount)) wrong.push(`routeChanges[${key}] = ${counts.join(',')}`);
  const tracked = [...model.links.values()].filter((l) => l.tracked).length;
  if (model.trackedCount !== tracked) wrong.push(`trackedCount ${model.trackedCount} != ${tracked} tracked links`);
  if (model.trackedCount > maxTracked) wrong.push(`trackedCount ${model.trackedCount} > max ${maxTracked}`);
  if (!isCount(model.seriesLimitDropped)) wrong.push(`seriesLimitDropped ${model.seriesLimitDropped}`);
  for (const l of [...model.links.values(), ...model.deletedLinks]) {
    if (!isCount(l.flaps)) wrong.push(`${l.name}: flaps ${l.flaps}`);
    if (!isCount(l.pendingFlaps)) wrong.push(`${l.name}: pendingFlaps ${l.pendingFlaps}`);
    if (!l.addresses.every(isCount)) wrong.push(`${l.name}: addresses ${l.addresses.join(',')}`);
    if (!l.addressChanges.flat().every(isCount))
      wrong.push(`${l.name}: addressChanges ${l.addressChanges.flat().join(',')}`);
  }
  if (!isCount(model.interfacesDeleted)) wrong.push(`interfacesDeleted ${model.interfacesDeleted}`);
  if (!model.netconfSet.changes.flat().every(isCount))
    wrong.push(`netconf changes ${model.netconfSet.changes.flat().join(',')}`);
  for (const [key, e] of model.netconfSet.entries)
    if (key !== e.ifindex * 2 + e.family)
      wrong.push(`netconf entry ${key} holds ifindex ${e.ifindex} family ${e.family}`);
  for (const l of model.deletedLinks) {
    if (model.links.has(l.ifindex) && model.links.get(l.ifindex) === l) wrong.push(`${l.name}: both live and deleted`);
    if (l.pendingFlaps !== 0) wrong.push(`${l.name}: deleted with ${l.pendingFlaps} flaps still held`);
  }
  return wrong;
}

function run(setup: Setup, ops: Op[]): void {
  let clock = 1_000_000;
  const events: PendingEvent[] = [];
  const pendingBarriers: Array<() => void> = [];
  const model = new NamespaceModel({
    netns: 'fuzz',
    include: /^(?:.*)$/,
    exclude: setup.exclude ? /^(?:veth.*|if[0-9]+)$/ : undefined,
    maxTracked: setup.maxTracked,
    now: () => clock,
    onEvent: (e) => events.push(e),
    ...(setup.deferBarriers
      ? {
          session: {
            barrier: (cb: () => void) => pendingBarriers.push(cb),
            // The probe that holds a close's flaps until a deletion would have come (answered with the barriers).
            linkProbe: (_ifindex: number, cb: () => void) => pendingBarriers.push(cb),
          },
        }
      : {}),
  });
  // The session's side of each message (port id, dump mode, counters), feeding the model as the watcher does.
  const session = new MessageDispatch(new SessionCounters(() => clock), model);
  session.portId = setup.portId;
  session.onDumpEnd = () => {};
  const maxTracked = setup.maxTracked;
  for (const [i, op] of ops.entries()) {
    const where = `op ${i} (${op.op})`;
    switch (op.op) {
      case 'chunk': {
        const datagrams = op.datagrams.map((d) => {
          const weird = applyWeird(DATAGRAMS[d]!.bytes, op.weird, setup.portId);
          return op.mangles ? mangle(weird, op.mangles) : weird;
        });
        let chunk = frame(datagrams);
        if (op.frameMangles) chunk = mangle(chunk, op.frameMangles);
        const expected = codecErrors(chunk);
        const before = session.counters.decodeErrors;
        decodeChunk(chunk, session);
        assert.equal(
          session.counters.decodeErrors - before,
          expected,
          `${where}: decode errors counted by the session vs the codec`,
        );
        break;
      }
      case 'beginSweep':
        model.beginSweep();
        break;
      case 'sweep':
        model.sweep();
        break;
      case 'expire':
        model.expireDeleted(op.grace);
        break;
      case 'tick':
        clock += op.seconds;
        break;
      case 'dumpMode':
        session.dumpMode = op.mode;
        break;
      case 'barriers':
        for (const cb of pendingBarriers.splice(0)) cb();
        break;
    }
    const wrong = invariants(model, maxTracked);
    assert.deepEqual(wrong, [], `${where}: invariants`);
  }
  for (const cb of pendingBarriers.splice(0)) cb();
  assert.deepEqual(invariants(model, maxTracked), [], 'after the last barriers: invariants');
  // Every event is plain data with its identity fields.
  for (const e of events) {
    assert.equal(typeof e.kind, 'string');
    assert.equal(typeof e.action, 'string');
    assert.ok(Number.isInteger(e.ifindex), `event ifindex ${e.ifindex}`);
    JSON.stringify(e);
  }
}

test('the fixtures provide datagrams of every kind the model handles', () => {
  const types = new Set(DATAGRAMS.flatMap((d) => messageOffsets(d.bytes).map((m) => d.bytes.readUInt16LE(m + 4))));
  for (const t of [16, 17, 20, 21, 24, 25, 104, 105, 3])
    assert.ok(types.has(t), `no message of type ${t} in the fixtures`);
  assert.ok(PORT_IDS.length > 0, 'dump replies with a port id');
  // Unmodified, in capture order, the fixtures feed a model without decode errors.
  const model = new NamespaceModel({ netns: 'fuzz', include: /^(?:.*)$/, exclude: undefined, maxTracked: 10_000 });
  model.onEvent = () => {};
  const session = new MessageDispatch(new SessionCounters(), model);
  for (const d of DATAGRAMS) decodeChunk(frame([d.bytes]), session);
  assert.equal(session.counters.decodeErrors, 0);
  assert.deepEqual(invariants(model, 10_000), []);
});

test('weird but well-formed message sequences: the model never throws and keeps its invariants', testOptions, () => {
  fc.assert(
    fc.property(arbSetup, arbOps(false), (setup, ops) => run(setup, ops)),
    params,
  );
});

test('mangled bytes among them: decode errors counted exactly, nothing thrown, invariants kept', testOptions, () => {
  fc.assert(
    fc.property(arbSetup, arbOps(true), (setup, ops) => run(setup, ops)),
    params,
  );
});
