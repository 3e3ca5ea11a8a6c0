// Property tests for the codec: whatever bytes arrive, the codec reports only
// NetlinkDecodeError (never throws anything else), terminates, and decodes each message
// from its own bytes only.
//
// FUZZ_RUNS sets the runs per property (default 3000, about two seconds in all); a benchmark or a
// soak run can set hundreds of thousands. FUZZ_SEED replays a failure fast-check printed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import {
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_DELNEIGH,
  RTM_DELNEXTHOP,
  RTM_DELNETCONF,
  RTM_NEWNETCONF,
  RTM_DELROUTE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWNEIGH,
  RTM_NEWNEXTHOP,
  RTM_NEWROUTE,
} from '../../../src/netlink/constants';
import { NetlinkDecodeError } from '../../../src/netlink/errors';
import { routeToJSON } from '../../../src/netlink/route';
import { decodeChunk, decodeDatagram } from '../../../src/netlink/decode';
import type {
  AddressMessage,
  LinkMessage,
  MessageHeader,
  MessageSink,
  NeighbourMessage,
  NexthopMessage,
  RuleMessage,
  NetconfMessage,
  OtherMessage,
  RouteMessage,
} from '../../../src/netlink/types';
import { ruleText } from '../../../src/netlink/rule';
import { capturedDatagrams } from '../../helpers/fixtures';

const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const params = SEED === undefined ? { numRuns: RUNS } : { numRuns: RUNS, seed: SEED };
/** A hang is a failure, not a stuck CI job. Generous: 3000 runs take about a second. */
const testOptions = { timeout: Math.max(60_000, RUNS * 5) };

/**
 * Records every delivery as a JSON string, made at delivery time (a RouteMessage points
 * into the buffer). Fails on a decodeError that is not a NetlinkDecodeError.
 */
class CheckingSink implements MessageSink {
  readonly items: string[] = [];
  decodeErrors = 0;
  link(m: LinkMessage): void {
    this.items.push(`link ${JSON.stringify(m)}`);
  }
  address(m: AddressMessage): void {
    this.items.push(`address ${JSON.stringify(m)}`);
  }
  route(m: RouteMessage): void {
    // routeToJSON runs every helper (destination, gateway, nexthops, prefsrc): they must
    // not throw on anything the decoder accepted.
    this.items.push(`route ${JSON.stringify(routeToJSON(m))}`);
  }
  neighbour(m: NeighbourMessage): void {
    this.items.push(`neighbour ${JSON.stringify(m)}`);
  }
  nexthop(m: NexthopMessage): void {
    this.items.push(`nexthop ${JSON.stringify(m)}`);
  }
  netconf(m: NetconfMessage): void {
    this.items.push(`netconf ${JSON.stringify(m)}`);
  }
  rule(m: RuleMessage): void {
    // ruleText reads every field: it must not throw on anything the decoder accepted.
    this.items.push(`rule ${JSON.stringify(m)} ${ruleText(m)}`);
  }
  done(h: MessageHeader): void {
    this.items.push(`done ${JSON.stringify(h)}`);
  }
  error(h: MessageHeader, errno: number): void {
    this.items.push(`error ${errno} ${JSON.stringify(h)}`);
  }
  other(m: OtherMessage): void {
    this.items.push(`other ${JSON.stringify(m)}`);
  }
  decodeError(e: Error): void {
    if (!(e instanceof NetlinkDecodeError)) {
      throw new assert.AssertionError({ message: `decodeError got a ${e.constructor.name}: ${e.message}` });
    }
    this.decodeErrors++;
    this.items.push(`decodeError ${e.reason} @${e.offset} type ${e.messageType}`);
  }
}

/** Decodes; any throw fails the property. Bounds the number of deliveries (termination). */
function decode(buf: Buffer, start = 0, end = buf.length): CheckingSink {
  const sink = new CheckingSink();
  decodeDatagram(buf, start, end, sink);
  // At most one delivery per 16-byte header, plus a DONE's error, plus one final error.
  assert.ok(sink.items.length <= 2 * Math.ceil((end - start) / NLMSG_HDRLEN) + 1, 'too many deliveries');
  return sink;
}

// ---------------------------------------------------------------------------------------
// Inputs: captured datagrams, random bytes, and random well-framed messages.

const DATAGRAMS = capturedDatagrams();
const arbDatagram = fc.integer({ min: 0, max: DATAGRAMS.length - 1 }).map((i) => DATAGRAMS[i]!);

const DECODED_TYPES = [
  RTM_NEWLINK,
  RTM_DELLINK,
  RTM_NEWADDR,
  RTM_DELADDR,
  RTM_NEWROUTE,
  RTM_DELROUTE,
  RTM_NEWNEIGH,
  RTM_DELNEIGH,
  RTM_NEWNEXTHOP,
  RTM_DELNEXTHOP,
  RTM_NEWNETCONF,
  RTM_DELNETCONF,
  NLMSG_DONE,
  NLMSG_ERROR,
];

/** Length-like values that sit on the edges of every check. */
const arbEdgeU16 = fc.oneof(
  fc.constantFrom(0, 1, 2, 3, 4, 5, 7, 8, 12, 16, 20, 0x7fff, 0xfffc, 0xffff),
  fc.integer({ min: 0, max: 0xffff }),
);
const arbEdgeU32 = fc.oneof(
  fc.constantFrom(0, 1, 15, 16, 17, 20, 0x7fffffff, 0xffffffff),
  fc.integer({ min: 0, max: 0xffffffff }),
);

/**
 * Attribute numbers the decoders know (IFLA_*, IFA_*, RTA_*, NDA_*, NHA_* overlap in
 * 1..12; then RTA_TABLE, RTA_VIA, IFLA_LINKINFO, RTA_NH_ID, IFLA_CARRIER*, IFLA_PROP_LIST,
 * IFLA_ALT_IFNAME), or any number up to 60.
 */
const arbAttrType = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 12 }), weight: 4 },
  { arbitrary: fc.constantFrom(15, 16, 18, 20, 30, 33, 35, 47, 48, 52, 53), weight: 2 },
  { arbitrary: fc.integer({ min: 0, max: 60 }), weight: 1 },
);
/** Payload sizes of real fields (a flag, u8, u16, u32, IPv4, u64, IPv6, structs) or any. */
const arbPayload = fc.oneof(
  fc.integer({ min: 0, max: 20 }).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
  fc.constantFrom(0, 1, 2, 4, 8, 16).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
);

/** A tree of attributes with correct lengths, likely types and payloads (nested ones too). */
const { attrs: arbAttributes } = fc.letrec<{ attrs: Buffer; attr: Buffer }>((tie) => ({
  attrs: fc.array(tie('attr'), { maxLength: 6 }).map((list) => Buffer.concat(list)),
  attr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(arbAttrType, arbPayload).map(([type, payload]) => nlattr(type, Buffer.from(payload))),
    fc.tuple(arbAttrType, tie('attrs')).map(([type, inner]) => nlattr(type | 0x8000, inner)),
  ),
}));

function nlattr(type: number, payload: Buffer): Buffer {
  const out = Buffer.alloc((4 + payload.length + 3) & ~3);
  out.writeUInt16LE(Math.min(4 + payload.length, 0xffff), 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

/** The fixed header sizes (nhmsg/ifaddrmsg 8, rtmsg/ndmsg 12, ifinfomsg 16), or any up to 20. */
const arbFixedHeader = fc.oneof(
  { arbitrary: fc.constantFrom(8, 12, 16).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })), weight: 3 },
  { arbitrary: fc.uint8Array({ maxLength: 20 }), weight: 1 },
);

/** One message of a decoded type: a fixed header and random attributes. */
const arbMessage = fc
  .tuple(fc.constantFrom(...DECODED_TYPES), fc.integer({ min: 0, max: 0xffff }), arbFixedHeader, arbAttributes)
  .map(([type, flags, fixed, attrs]) => {
    const payload = Buffer.concat([Buffer.from(fixed), Buffer.alloc((4 - (fixed.length % 4)) % 4), attrs]);
    const out = Buffer.alloc(NLMSG_HDRLEN + payload.length);
    out.writeUInt32LE(out.length, 0);
    out.writeUInt16LE(type, 4);
    out.writeUInt16LE(flags, 6);
    payload.copy(out, NLMSG_HDRLEN);
    return out;
  });
const arbWellFramed = fc.array(arbMessage, { minLength: 1, maxLength: 4 }).map((list) => Buffer.concat(list));

type Mutation =
  | { kind: 'flip'; pos: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'u16'; pos: number; value: number }
  | { kind: 'u32'; pos: number; value: number };

const arbMutations: fc.Arbitrary<Mutation[]> = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), pos: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    // Aligned u16 writes land on nla_len / nla_type / rtnh_len fields often.
    fc.record({ kind: fc.constant('u16' as const), pos: fc.nat(), value: arbEdgeU16 }),
    fc.record({ kind: fc.constant('u32' as const), pos: fc.nat(), value: arbEdgeU32 }),
  ),
  { minLength: 1, maxLength: 6 },
);

function mutate(original: Buffer, mutations: Mutation[]): Buffer {
  let buf = Buffer.from(original);
  for (const m of mutations) {
    if (buf.length === 0) break;
    switch (m.kind) {
      case 'flip':
        buf[m.pos % buf.length]! ^= 1 << m.bit;
        break;
      case 'truncate':
        buf = buf.subarray(0, m.at % buf.length);
        break;
      case 'u16': {
        const pos = (m.pos % buf.length) & ~3;
        if (pos + 2 <= buf.length) buf.writeUInt16LE(m.value, pos);
        break;
      }
      case 'u32': {
        const pos = (m.pos % buf.length) & ~3;
        if (pos + 4 <= buf.length) buf.writeUInt32LE(m.value, pos);
        break;
      }
    }
  }
  return buf;
}

/** Where each message whose header checks out ends (nlmsg_len, unaligned), in order. */
function messageEnds(buf: Buffer): number[] {
  const ends: number[] = [];
  for (let pos = 0; pos + NLMSG_HDRLEN <= buf.length;) {
    const len = buf.readUInt32LE(pos);
    if (len < NLMSG_HDRLEN || len > buf.length - pos) break;
    ends.push(pos + len);
    pos += (len + 3) & ~3;
  }
  return ends;
}

// ---------------------------------------------------------------------------------------
// Properties.

test('the fixtures provide datagrams to mutate', () => {
  assert.ok(DATAGRAMS.length > 100, `${DATAGRAMS.length} datagrams`);
  // Unmutated, every one decodes cleanly.
  for (const d of DATAGRAMS) assert.equal(decode(d).decodeErrors, 0);
});

test('random bytes: only NetlinkDecodeError, and it terminates', testOptions, () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      decode(Buffer.from(bytes));
    }),
    params,
  );
});

test('random well-framed messages with random attribute trees: only NetlinkDecodeError', testOptions, () => {
  fc.assert(
    fc.property(arbWellFramed, arbMutations, fc.boolean(), (datagram, mutations, mutated) => {
      decode(mutated ? mutate(datagram, mutations) : datagram);
    }),
    params,
  );
});

test(
  'mutated kernel datagrams (bit flips, truncations, lengths overwritten): only NetlinkDecodeError',
  testOptions,
  () => {
    fc.assert(
      fc.property(arbDatagram, arbMutations, (datagram, mutations) => {
        decode(mutate(datagram, mutations));
      }),
      params,
    );
  },
);

test('mutated chunks (framing lengths included): only NetlinkDecodeError', testOptions, () => {
  const frame = (d: Buffer): Buffer => {
    const out = Buffer.alloc(4 + ((d.length + 3) & ~3));
    out.writeUInt32LE(d.length, 0);
    d.copy(out, 4);
    return out;
  };
  fc.assert(
    fc.property(fc.array(arbDatagram, { minLength: 1, maxLength: 3 }), arbMutations, (datagrams, mutations) => {
      const sink = new CheckingSink();
      decodeChunk(mutate(Buffer.concat(datagrams.map(frame)), mutations), sink);
    }),
    params,
  );
});

test('a message decodes from its own bytes: changing what follows it never changes it', testOptions, () => {
  fc.assert(
    fc.property(
      fc.oneof(
        arbDatagram,
        arbDatagram.chain((d) => arbMutations.map((m) => mutate(d, m))),
        arbWellFramed,
      ),
      fc.nat(),
      fc.uint8Array({ minLength: 1, maxLength: 64 }),
      (datagram, cutChoice, noise) => {
        const ends = messageEnds(datagram);
        if (ends.length === 0) return;
        // Keep messages [0, k]; every byte after message k's nlmsg_len (padding, later
        // messages, and 64 bytes past the datagram's end) is replaced: once by zeros, once
        // by noise. Whatever message k or an earlier one decodes to must not change.
        const k = cutChoice % ends.length;
        const cut = ends[k]!;
        const withTail = (fill: (i: number) => number): Buffer => {
          const out = Buffer.alloc(datagram.length + 64);
          datagram.copy(out, 0, 0, cut);
          for (let i = cut; i < out.length; i++) out[i] = fill(i);
          return out;
        };
        // Tails: zeros (a walk that reaches them fails at once), well-formed empty
        // attributes (a walk that reaches them goes on quietly), and noise.
        const zeros = withTail(() => 0);
        const before = decode(zeros, 0, cut).items;
        const attributes = withTail((i) => ((i & 3) === 0 ? 4 : (i & 3) === 2 ? noise[i % noise.length]! & 0x3f : 0));
        const noisy = withTail((i) => noise[i % noise.length]!);
        for (const tail of [attributes, noisy]) {
          assert.deepEqual(decode(tail, 0, datagram.length).items.slice(0, before.length), before);
        }
        // Message k alone: in a buffer of exactly its own bytes (any read past them is a
        // RangeError, which decode() does not accept), and shifted, with noise around it.
        const start = k === 0 ? 0 : (ends[k - 1]! + 3) & ~3;
        const alone = decode(zeros, start, cut).items;
        const exact = Buffer.from(datagram.subarray(start, cut));
        assert.deepEqual(decode(exact).items.map(stripOffsets), alone.map(stripOffsets));
        const shifted = Buffer.concat([Buffer.from(noise), attributes.subarray(start)]);
        const aloneShifted = decode(shifted, noise.length, noise.length + cut - start).items;
        assert.deepEqual(aloneShifted.map(stripOffsets), alone.map(stripOffsets));
      },
    ),
    params,
  );
});

/** Decode-error offsets are buffer positions: they shift with the message's position. */
function stripOffsets(item: string): string {
  return item.replace(/ @\d+ /, ' @? ');
}
