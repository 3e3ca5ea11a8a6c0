// Codec tests: golden fixtures captured from the kernel (test/fixtures/*.json, see the
// README there), then hand-written byte cases for what a capture cannot show.
//
// UPDATE_FIXTURES=1 rewrites each fixture's `expected` with what the codec yields now:
// only after a re-capture, and the result must be reviewed by eye against `ipMonitor`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  AF_INET,
  AF_INET6,
  ENOBUFS,
  IFA_CACHEINFO,
  IFA_LOCAL,
  IFLA_IFNAME,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  IFLA_MTU,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_EXCL,
  NLM_F_MULTI,
  NLM_F_REQUEST,
  RTA_DST,
  RTA_GATEWAY,
  RTA_MULTIPATH,
  RTA_OIF,
  RTM_DELROUTE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWROUTE,
  RTM_NEWRULE,
  RT_TABLE_MAIN,
  IFLA_IFALIAS,
  IFLA_PROP_LIST,
  IFLA_ALT_IFNAME,
  IFLA_INFO_SLAVE_KIND,
} from '../../../src/netlink/constants';
import { NetlinkDecodeError } from '../../../src/netlink/errors';
import { attrString, escapedText, attrU16, attrU32, attrU64, attrU8 } from '../../../src/netlink/attributes';
import { formatIPv4, formatIPv6, formatIp, formatMac, ipv4Word, parseIp } from '../../../src/netlink/format';
import { decodeLink } from '../../../src/netlink/link';
import { routeDestination, routeGateway, routeNexthops, routePrefsrc, routeToJSON } from '../../../src/netlink/route';
import { decodeChunk, decodeDatagram } from '../../../src/netlink/decode';
import { buildMessage, dumpRequest, routeRequest } from '../../../src/netlink/request';
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
import { FIXTURE_DIR } from '../../helpers/paths';

// ---------------------------------------------------------------------------------------
// A sink that records everything as plain JSON (routes through routeToJSON).

/** `message` names the sink method (LinkMessage has a `kind` field of its own). */
type Recorded = Record<string, unknown> & { message: string };

class RecordingSink implements MessageSink {
  readonly items: Recorded[] = [];
  readonly routes: RouteMessage[] = [];
  link(m: LinkMessage): void {
    this.items.push({ message: 'link', ...m });
  }
  address(m: AddressMessage): void {
    this.items.push({ message: 'address', ...m });
  }
  route(m: RouteMessage): void {
    this.routes.push(m);
    this.items.push({ message: 'route', ...routeToJSON(m) });
  }
  neighbour(m: NeighbourMessage): void {
    this.items.push({ message: 'neighbour', ...m });
  }
  nexthop(m: NexthopMessage): void {
    this.items.push({ message: 'nexthop', ...m });
  }
  rule(m: RuleMessage): void {
    this.items.push({ message: 'rule', ...m, text: ruleText(m) });
  }
  netconf(m: NetconfMessage): void {
    this.items.push({ message: 'netconf', ...m });
  }
  done(h: MessageHeader): void {
    this.items.push({ message: 'done', ...h });
  }
  error(h: MessageHeader, errno: number): void {
    this.items.push({ message: 'error', ...h, errno });
  }
  other(m: OtherMessage): void {
    this.items.push({ message: 'other', ...m });
  }
  decodeError(e: Error): void {
    assert.ok(e instanceof NetlinkDecodeError, `decodeError got ${String(e)}`);
    this.items.push({ message: 'decodeError', reason: e.reason, offset: e.offset, messageType: e.messageType });
  }
  /** Drops undefined fields, as the fixture files do. */
  json(): Recorded[] {
    return JSON.parse(JSON.stringify(this.items)) as Recorded[];
  }
  /** The sink methods called, in order. */
  calls(): string[] {
    return this.items.map((i) => i.message);
  }
}

function decodeBytes(buf: Buffer): RecordingSink {
  const sink = new RecordingSink();
  decodeDatagram(buf, 0, buf.length, sink);
  return sink;
}

/** Hex with whitespace and `#` comments (to the end of the line) removed. */
function hex(text: string): Buffer {
  return Buffer.from(
    text
      .split('\n')
      .map((line) => line.replace(/#.*/, ''))
      .join('')
      .replace(/\s+/g, ''),
    'hex',
  );
}

// Small encoders for cases where the bytes are not the point. Host order = little-endian.
function nlattr(type: number, payload: Buffer): Buffer {
  const out = Buffer.alloc((4 + payload.length + 3) & ~3);
  out.writeUInt16LE(4 + payload.length, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}
const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v, 0);
  return b;
};
const str = (s: string): Buffer => Buffer.from(`${s}\0`);
/** ifinfomsg: family 0, type 1 (ARPHRD_ETHER), index, flags, change 0. */
function ifinfomsg(index: number, flags = 0): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(1, 2);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags, 8);
  return b;
}
/** rtmsg: family, dst_len, table main, protocol static, scope universe, unicast. */
function rtmsg(family: number, dstLength: number): Buffer {
  return Buffer.from([family, dstLength, 0, 0, RT_TABLE_MAIN, 4, 0, 1, 0, 0, 0, 0]);
}
const msg = (type: number, flags: number, seq: number, ...parts: Buffer[]): Buffer =>
  buildMessage(type, flags, seq, Buffer.concat(parts));

// ---------------------------------------------------------------------------------------
// Golden fixtures.

interface Fixture {
  description: string;
  commands?: string[];
  hex: string;
  ipMonitor?: string[];
  expected: Recorded[];
}

const fixtureFiles = [
  ...readdirSync(FIXTURE_DIR),
  // Bridge-port STP states (capture.py's bridge-stp-* steps): apart, as the golden /metrics replays only the top level.
  ...readdirSync(join(FIXTURE_DIR, 'bridge-stp')).map((f) => `bridge-stp/${f}`),
]
  .filter((f) => f.endsWith('.json'))
  .sort();

test('there are captured fixtures', () => {
  assert.ok(fixtureFiles.length >= 40, `only ${fixtureFiles.length} fixtures in ${FIXTURE_DIR}`);
});

for (const file of fixtureFiles) {
  test(`fixture ${file}`, () => {
    const path = join(FIXTURE_DIR, file);
    const fixture = JSON.parse(readFileSync(path, 'utf8')) as Fixture;
    const chunk = Buffer.from(fixture.hex, 'hex');
    const sink = new RecordingSink();
    decodeChunk(chunk, sink);
    const actual = sink.json();
    if (process.env.UPDATE_FIXTURES === '1') {
      fixture.expected = actual;
      writeFileSync(path, `${JSON.stringify(fixture, null, 2)}\n`);
      return;
    }
    // The kernel's own bytes must decode without a single error.
    assert.deepEqual(
      actual.filter((m) => m.message === 'decodeError'),
      [],
    );
    assert.deepEqual(actual, fixture.expected);
  });
}

// ---------------------------------------------------------------------------------------
// Hand-written byte cases.

// Three messages in one datagram, as a dump reply or a busy notification socket gets them.
const THREE_MESSAGES = hex(`
  # 1) RTM_NEWLINK, 40 bytes
  28000000 1000 0000 01000000 00000000  # nlmsghdr: len 40, type 16, flags 0, seq 1, pid 0
  00 00 0403 01000000 49000100 00000000  # ifinfomsg: AF_UNSPEC, ARPHRD_LOOPBACK (772), index 1,
                                         #   flags UP|LOOPBACK|RUNNING|LOWER_UP (0x10049), change 0
  0700 0300 6c6f00 00                    # IFLA_IFNAME (3), len 7: "lo\\0", 1 pad byte
  # 2) RTM_NEWADDR, 40 bytes
  28000000 1400 0000 02000000 00000000  # nlmsghdr: len 40, type 20, seq 2
  02 08 80 fe 01000000                   # ifaddrmsg: AF_INET, /8, IFA_F_PERMANENT, scope host (254), index 1
  0800 0200 7f000001                     # IFA_LOCAL 127.0.0.1
  0800 0100 7f000001                     # IFA_ADDRESS 127.0.0.1 (equal: no peer)
  # 3) RTM_NEWROUTE, 60 bytes
  3c000000 1800 0006 03000000 00000000  # nlmsghdr: len 60, type 24, flags CREATE|EXCL (0x600), seq 3
  02 18 00 00 fe 04 00 01 00000000       # rtmsg: AF_INET, dst /24, src /0, tos 0, table main, static, universe, unicast
  0800 0f00 fe000000                     # RTA_TABLE 254
  0800 0100 c0000200                     # RTA_DST 192.0.2.0
  0800 0500 c00002fe                     # RTA_GATEWAY 192.0.2.254
  0800 0400 02000000                     # RTA_OIF 2
`);

test('a datagram with three messages delivers all three, in order', () => {
  const sink = decodeBytes(THREE_MESSAGES);
  assert.deepEqual(sink.json(), [
    {
      message: 'link',
      type: 16,
      flags: 0,
      seq: 1,
      pid: 0,
      family: 0,
      deviceType: 772,
      ifindex: 1,
      ifFlags: 0x10049,
      change: 0,
      name: 'lo',
    },
    {
      message: 'address',
      type: 20,
      flags: 0,
      seq: 2,
      pid: 0,
      family: 2,
      prefixLength: 8,
      addressFlags: 0x80,
      scope: 254,
      ifindex: 1,
      address: '127.0.0.1',
    },
    {
      message: 'route',
      type: 24,
      flags: 0x600,
      seq: 3,
      pid: 0,
      family: 2,
      dstLength: 24,
      srcLength: 0,
      tos: 0,
      table: 254,
      protocol: 4,
      scope: 0,
      routeType: 1,
      routeFlags: 0,
      oif: 2,
      priority: 0,
      nhId: 0,
      destination: '192.0.2.0/24',
      gateway: '192.0.2.254',
      nexthops: [{ ifindex: 2, gateway: '192.0.2.254', flags: 0, weight: 1 }],
    },
  ]);
});

test('decodeChunk walks framed datagrams; a bad frame length ends the chunk after the good ones', () => {
  const frame = (d: Buffer): Buffer => Buffer.concat([u32(d.length), d, Buffer.alloc((4 - (d.length % 4)) % 4)]);
  const good = Buffer.concat([frame(THREE_MESSAGES), frame(THREE_MESSAGES.subarray(0, 40))]);
  const sink = new RecordingSink();
  decodeChunk(Buffer.concat([good, u32(1000), Buffer.alloc(8)]), sink);
  assert.deepEqual(sink.calls(), ['link', 'address', 'route', 'link', 'decodeError']);
  assert.equal(sink.items[4]!.reason, 'bad chunk frame length');
  assert.equal(sink.items[4]!.offset, good.length);
});

test('a bad nlmsg_len in the middle: earlier messages delivered, then one error, the rest dropped', () => {
  const buf = Buffer.from(THREE_MESSAGES);
  // The second header claims 4096 bytes: more than remains. Nothing after it can be found.
  buf.writeUInt32LE(4096, 40);
  const sink = decodeBytes(buf);
  assert.deepEqual(sink.calls(), ['link', 'decodeError']);
  assert.deepEqual(sink.items[1], { message: 'decodeError', reason: 'bad nlmsg_len', offset: 40, messageType: -1 });
  // nlmsg_len below the header size is as bad (and must not loop forever on 0).
  buf.writeUInt32LE(0, 40);
  assert.deepEqual(decodeBytes(buf).calls(), ['link', 'decodeError']);
});

test('trailing bytes shorter than an nlmsghdr are one decode error', () => {
  const sink = decodeBytes(Buffer.concat([THREE_MESSAGES, Buffer.alloc(8)]));
  assert.deepEqual(sink.calls(), ['link', 'address', 'route', 'decodeError']);
  assert.equal(sink.items[3]!.reason, 'nlmsghdr truncated');
});

test('a bad attribute length inside one message: that message is an error, the next still decodes', () => {
  const buf = Buffer.from(THREE_MESSAGES);
  // Message 2's IFA_LOCAL (at 40 + 16 + 8) claims 200 bytes; its nlmsg_len is intact.
  buf.writeUInt16LE(200, 64);
  const sink = decodeBytes(buf);
  assert.deepEqual(sink.calls(), ['link', 'decodeError', 'route']);
  assert.deepEqual(sink.items[1], {
    message: 'decodeError',
    reason: 'bad attribute length',
    offset: 64,
    messageType: RTM_NEWADDR,
  });
  // An attribute length below the 4-byte header is as bad.
  buf.writeUInt16LE(2, 64);
  assert.deepEqual(decodeBytes(buf).calls(), ['link', 'decodeError', 'route']);
});

test('an attribute narrower than its type is an error (width-checked readers)', () => {
  // IFLA_MTU with a 2-byte payload.
  const sink = decodeBytes(msg(RTM_NEWLINK, 0, 1, ifinfomsg(2), nlattr(IFLA_MTU, Buffer.from([0xdc, 0x05]))));
  assert.deepEqual(sink.calls(), ['decodeError']);
  assert.equal(sink.items[0]!.reason, 'attribute too short');
  // An IPv6 route whose RTA_DST holds 4 bytes.
  const sink6 = decodeBytes(msg(RTM_NEWROUTE, 0, 1, rtmsg(AF_INET6, 64), nlattr(RTA_DST, Buffer.alloc(4))));
  assert.deepEqual(sink6.calls(), ['decodeError']);
  assert.equal(sink6.items[0]!.reason, 'address attribute too short');
});

// ---------------------------------------------------------------------------------------
// Strings the kernel bounds, and names that are not UTF-8.

test('IFLA_IFNAME: 15 bytes (IFNAMSIZ 16 with its NUL) decode; a 16-byte or a forged 60-byte name is a decode error and the message is refused', () => {
  const link = (name: Buffer): Buffer =>
    msg(RTM_NEWLINK, 0, 1, ifinfomsg(7), nlattr(IFLA_IFNAME, name), nlattr(IFLA_MTU, u32(1500)));
  const ok = decodeBytes(link(str('a'.repeat(15))));
  assert.deepEqual(ok.calls(), ['link']);
  assert.equal((ok.items[0] as unknown as { name?: string }).name, 'a'.repeat(15));
  // Without the NUL, 15 bytes are still a valid name.
  assert.deepEqual(decodeBytes(link(Buffer.from('b'.repeat(15)))).calls(), ['link']);
  for (const length of [16, 60]) {
    const sink = decodeBytes(link(str('x'.repeat(length))));
    assert.deepEqual(sink.calls(), ['decodeError'], `${length}-byte name`);
    assert.equal(sink.items[0]!.reason, 'IFLA_IFNAME too long');
    assert.equal(sink.items[0]!.messageType, RTM_NEWLINK);
  }
  // The refused message alone: the next one in the datagram still decodes.
  const two = Buffer.concat([link(str('y'.repeat(60))), link(str('eth0'))]);
  assert.deepEqual(decodeBytes(two).calls(), ['decodeError', 'link']);
});

test('IFLA_IFALIAS (255), IFLA_ALT_IFNAME (127), kinds (63), IFA_LABEL (15): at the bound decode, one byte more is refused', () => {
  const cases: [string, (s: Buffer) => Buffer, number][] = [
    ['IFLA_IFALIAS', (v) => msg(RTM_NEWLINK, 0, 1, ifinfomsg(7), nlattr(IFLA_IFALIAS, v)), 255],
    [
      'IFLA_ALT_IFNAME',
      (v) => msg(RTM_NEWLINK, 0, 1, ifinfomsg(7), nlattr(IFLA_PROP_LIST | 0x8000, nlattr(IFLA_ALT_IFNAME, v))),
      127,
    ],
    [
      'IFLA_INFO_KIND',
      (v) => msg(RTM_NEWLINK, 0, 1, ifinfomsg(7), nlattr(IFLA_LINKINFO | 0x8000, nlattr(IFLA_INFO_KIND, v))),
      63,
    ],
    [
      'IFLA_INFO_SLAVE_KIND',
      (v) => msg(RTM_NEWLINK, 0, 1, ifinfomsg(7), nlattr(IFLA_LINKINFO | 0x8000, nlattr(IFLA_INFO_SLAVE_KIND, v))),
      63,
    ],
    // ifaddrmsg: AF_INET, /24, flags 0, scope 0, index 7; then IFA_LOCAL and IFA_LABEL (3).
    [
      'IFA_LABEL',
      (v) =>
        msg(
          RTM_NEWADDR,
          0,
          1,
          Buffer.from([2, 24, 0, 0, 7, 0, 0, 0]),
          nlattr(IFA_LOCAL, Buffer.from([10, 0, 0, 1])),
          nlattr(3, v),
        ),
      15,
    ],
  ];
  for (const [field, build, max] of cases) {
    const ok = decodeBytes(build(str('k'.repeat(max))));
    assert.notEqual(ok.calls()[0], 'decodeError', `${field} of ${max} bytes decodes`);
    const bad = decodeBytes(build(str('k'.repeat(max + 1))));
    assert.deepEqual(bad.calls(), ['decodeError'], `${field} of ${max + 1} bytes is refused`);
    assert.equal(bad.items[0]!.reason, `${field} too long`);
  }
});

test('names that are not UTF-8 stay distinct: invalid bytes as \\xNN, a backslash as \\\\, valid UTF-8 as itself', () => {
  const name = (bytes: number[]): string => {
    const sink = decodeBytes(msg(RTM_NEWLINK, 0, 1, ifinfomsg(7), nlattr(IFLA_IFNAME, Buffer.from([...bytes, 0]))));
    assert.deepEqual(sink.calls(), ['link']);
    return (sink.items[0] as unknown as { name: string }).name;
  };
  // Three names that U+FFFD decoding collapsed into one: "eth\uFFFD".
  const three = [name([0x65, 0x74, 0x68, 0x80]), name([0x65, 0x74, 0x68, 0xff]), name([0x65, 0x74, 0x68, 0xc3])];
  assert.deepEqual(three, ['eth\\x80', 'eth\\xff', 'eth\\xc3']);
  // The escape's own spelling, as plain bytes, differs from the byte it stands for.
  assert.equal(name([...Buffer.from('eth\\x80')]), 'eth\\\\x80');
  assert.equal(name([0x61, 0x5c, 0x62]), 'a\\\\b');
  // Valid UTF-8 (2, 3 and 4 bytes) is kept as is.
  assert.equal(name([...Buffer.from('wlan-é€😀')]), 'wlan-é€😀');
  // Ill-formed sequences: overlong "/" (c0 af), a surrogate (ed a0 80), above U+10FFFF (f4 90 80 80), a truncated 3-byte one.
  assert.equal(name([0xc0, 0xaf]), '\\xc0\\xaf');
  assert.equal(name([0xed, 0xa0, 0x80]), '\\xed\\xa0\\x80');
  assert.equal(name([0xf4, 0x90, 0x80, 0x80]), '\\xf4\\x90\\x80\\x80');
  assert.equal(name([0x61, 0xe2, 0x82]), 'a\\xe2\\x82');
  // The byte-keyed cache returns each name's own text, however often they alternate.
  for (let i = 0; i < 3; i++)
    assert.deepEqual([name([0x65, 0x74, 0x68, 0x80]), name([0x65, 0x74, 0x68, 0xff])], ['eth\\x80', 'eth\\xff']);
});

test('escapedText is one to one: decoding the escapes gives back the bytes, for random byte strings', () => {
  const unescape = (text: string): Buffer => {
    const out: Buffer[] = [];
    for (let i = 0; i < text.length;) {
      if (text[i] === '\\') {
        if (text[i + 1] === '\\') {
          out.push(Buffer.from([0x5c]));
          i += 2;
        } else {
          assert.equal(text[i + 1], 'x', `escape at ${i} of ${JSON.stringify(text)}`);
          out.push(Buffer.from([parseInt(text.slice(i + 2, i + 4), 16)]));
          i += 4;
        }
        continue;
      }
      const cp = text.codePointAt(i) as number;
      const ch = String.fromCodePoint(cp);
      out.push(Buffer.from(ch, 'utf8'));
      i += ch.length;
    }
    return Buffer.concat(out);
  };
  let seed = 12345;
  const random = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16;
  const seen = new Map<string, string>();
  for (let n = 0; n < 20_000; n++) {
    const bytes = Buffer.from(
      Array.from({ length: 1 + (random() % 15) }, () => (random() % 4 === 0 ? 0x5c + (random() % 2) : random() & 0xff)),
    );
    const text = escapedText(bytes, 0, bytes.length);
    assert.deepEqual(unescape(text), bytes, `round trip of ${bytes.toString('hex')}`);
    const other = seen.get(text);
    assert.ok(
      other === undefined || other === bytes.toString('hex'),
      `${other} and ${bytes.toString('hex')} both give ${JSON.stringify(text)}`,
    );
    seen.set(text, bytes.toString('hex'));
  }
});

test('NLMSG_ERROR: -ENOBUFS and an ACK (error 0) with the request header echoed', () => {
  const buf = hex(`
    24000000 0200 0000 05000000 39300000  # nlmsghdr: len 36, NLMSG_ERROR, seq 5, pid 12345
    97ffffff                              # error -105 (-ENOBUFS)
    10000000 1200 0103 05000000 00000000  # the request's nlmsghdr (RTM_GETLINK dump)
    24000000 0200 0001 06000000 39300000  # nlmsghdr: len 36, NLMSG_ERROR, flags NLM_F_CAPPED (0x100), seq 6
    00000000                              # error 0: an ACK
    10000000 1900 0500 06000000 00000000  # the request's nlmsghdr (RTM_DELROUTE, REQUEST|ACK)
  `);
  const sink = decodeBytes(buf);
  assert.deepEqual(sink.json(), [
    { message: 'error', type: NLMSG_ERROR, flags: 0, seq: 5, pid: 12345, errno: ENOBUFS },
    { message: 'error', type: NLMSG_ERROR, flags: 0x100, seq: 6, pid: 12345, errno: 0 },
  ]);
});

test('NLMSG_ERROR without room for its error code is a decode error', () => {
  const sink = decodeBytes(hex('10000000 0200 0000 01000000 00000000'));
  assert.deepEqual(sink.calls(), ['decodeError']);
  assert.equal(sink.items[0]!.messageType, NLMSG_ERROR);
});

test('NLMSG_DONE with NLM_F_DUMP_INTR keeps the flag; a DONE carrying an errno also reports it', () => {
  const buf = hex(`
    14000000 0300 1200 07000000 00000000  # nlmsghdr: len 20, NLMSG_DONE, flags MULTI|DUMP_INTR (0x12), seq 7
    00000000                              # dump status 0
    14000000 0300 0200 08000000 00000000  # NLMSG_DONE, flags MULTI, seq 8
    f0ffffff                              # dump status -16 (-EBUSY): the dump ended in error
  `);
  const sink = decodeBytes(buf);
  assert.deepEqual(sink.json(), [
    { message: 'done', type: NLMSG_DONE, flags: NLM_F_MULTI | NLM_F_DUMP_INTR, seq: 7, pid: 0 },
    { message: 'error', type: NLMSG_DONE, flags: NLM_F_MULTI, seq: 8, pid: 0, errno: 16 },
    { message: 'done', type: NLMSG_DONE, flags: NLM_F_MULTI, seq: 8, pid: 0 },
  ]);
  assert.ok(((sink.items[0]!.flags as number) & NLM_F_DUMP_INTR) !== 0);
});

test('ifinfomsg: its 16-byte minimum is enough, longer payloads are accepted, shorter rejected', () => {
  // Exactly the fixed header, no attributes: a valid message (absent fields stay undefined).
  const bare = decodeBytes(msg(RTM_NEWLINK, 0, 1, ifinfomsg(7, 1)));
  assert.deepEqual(bare.json(), [
    {
      message: 'link',
      type: 16,
      flags: 0,
      seq: 1,
      pid: 0,
      family: 0,
      deviceType: 1,
      ifindex: 7,
      ifFlags: 1,
      change: 0,
    },
  ]);
  // A payload bigger than 16 bytes: the fixed header is read at its minimum size and what
  // follows is attributes (here an empty attribute of type 0, then the name). A kernel
  // never grows a message's fixed header in place (old parsers would read the new bytes as
  // attributes), so ">= minimum" is the whole rule for the header itself.
  const longer = decodeBytes(
    msg(RTM_NEWLINK, 0, 1, ifinfomsg(7, 1), nlattr(0, Buffer.alloc(0)), nlattr(IFLA_IFNAME, str('eth7'))),
  );
  assert.equal(longer.items[0]!.name, 'eth7');
  // Direct call with a 24-byte payload: accepted.
  const payload = Buffer.concat([ifinfomsg(9), nlattr(IFLA_MTU, u32(9000))]);
  assert.equal(decodeLink(payload, 0, payload.length, { type: RTM_NEWLINK, flags: 0, seq: 0, pid: 0 }).mtu, 9000);
  // 12 bytes: too short to hold the ifinfomsg.
  const short = decodeBytes(buildMessage(RTM_NEWLINK, 0, 1, Buffer.alloc(12)));
  assert.deepEqual(short.json(), [
    { message: 'decodeError', reason: 'ifinfomsg truncated', offset: 16, messageType: RTM_NEWLINK },
  ]);
});

test('structs inside attributes accept more than their minimum (IFA_CACHEINFO grown to 24 bytes)', () => {
  const cacheinfo = Buffer.alloc(24);
  cacheinfo.writeUInt32LE(1800, 0); // ifa_prefered
  cacheinfo.writeUInt32LE(3600, 4); // ifa_valid
  const ifaddrmsg = Buffer.from([AF_INET, 24, 0, 0, 3, 0, 0, 0]);
  const sink = decodeBytes(
    msg(RTM_NEWADDR, 0, 1, ifaddrmsg, nlattr(IFA_LOCAL, Buffer.from([192, 0, 2, 1])), nlattr(IFA_CACHEINFO, cacheinfo)),
  );
  assert.equal(sink.items[0]!.preferredLifetime, 1800);
  assert.equal(sink.items[0]!.validLifetime, 3600);
  // 12 bytes is less than struct ifa_cacheinfo.
  const bad = decodeBytes(msg(RTM_NEWADDR, 0, 1, ifaddrmsg, nlattr(IFA_CACHEINFO, Buffer.alloc(12))));
  assert.deepEqual(bad.calls(), ['decodeError']);
});

test('unknown attributes (and unknown flag bits in nla_type) are skipped', () => {
  const buf = hex(`
    3c000000 1000 0000 01000000 00000000  # nlmsghdr: len 60, RTM_NEWLINK
    00 00 0100 05000000 00000000 00000000  # ifinfomsg: index 5
    0800 f03f 01020304                     # type 0x3ff0: unknown to us
    0800 ff83 00000000                     # NLA_F_NESTED | 0x3ff: unknown, nested, skipped whole
    0900 0300 65746830 00 000000           # IFLA_IFNAME "eth0\\0", 3 pad bytes
  `);
  assert.equal(buf.readUInt32LE(0), buf.length);
  const sink = decodeBytes(buf);
  assert.deepEqual(sink.calls(), ['link']);
  assert.equal(sink.items[0]!.name, 'eth0');
  assert.equal(sink.items[0]!.ifindex, 5);
  // A known type with NLA_F_NET_BYTEORDER / NLA_F_NESTED set is still that type (masked).
  const flagged = decodeBytes(msg(RTM_NEWLINK, 0, 1, ifinfomsg(5), nlattr(IFLA_IFNAME | 0x8000, str('eth9'))));
  assert.equal(flagged.items[0]!.name, 'eth9');
});

test('unknown message types go to other()', () => {
  const sink = decodeBytes(msg(0x7fff, 0, 5, Buffer.alloc(0)));
  assert.deepEqual(sink.json(), [{ message: 'other', type: 0x7fff, flags: 0, seq: 5, pid: 0, length: 16 }]);
});

/** A fib_rule_hdr (family, dst_len, src_len, tos, table, res1, res2, action, flags u32) and attributes. */
function ruleBytes(header: number[], flags: number, ...attrs: [number, Buffer][]): Buffer {
  const hdr = Buffer.alloc(12);
  header.forEach((b, i) => (hdr[i] = b));
  hdr.writeUInt32LE(flags, 8);
  const parts = attrs.map(([type, data]) => {
    const a = Buffer.alloc(4 + data.length + ((4 - (data.length % 4)) % 4));
    a.writeUInt16LE(4 + data.length, 0);
    a.writeUInt16LE(type, 2);
    data.copy(a, 4);
    return a;
  });
  return Buffer.concat([hdr, ...parts]);
}

test('rules: a truncated fib_rule_hdr and an iif name past IFNAMSIZ are decode errors; the next message still parses', () => {
  const long = Buffer.from('a-name-of-16-by\0', 'latin1'); // 15 bytes and the NUL: the longest
  const tooLong = Buffer.from('a-name-of-16-byt\0', 'latin1');
  const sink = decodeBytes(
    Buffer.concat([
      msg(RTM_NEWRULE, 0, 1, Buffer.alloc(11)),
      msg(RTM_NEWRULE, 0, 2, ruleBytes([2, 0, 0, 0, 254, 0, 0, 1], 0, [3, tooLong])),
      msg(RTM_NEWRULE, 0, 3, ruleBytes([2, 0, 0, 0, 254, 0, 0, 1], 0, [3, long])),
    ]),
  );
  assert.deepEqual(sink.calls(), ['decodeError', 'decodeError', 'rule']);
  assert.equal(sink.items[0]!.reason, 'fib_rule_hdr truncated');
  assert.equal(sink.items[1]!.reason, 'FRA_IIFNAME too long');
  assert.equal(sink.items[2]!.text, '0: from all iif a-name-of-16-by lookup main');
});

test('rules: ruleText prints goto, nop, blackhole, not, tos, ports, ipproto, oif, suppress_prefixlength and proto as ip rule does', () => {
  const texts = [
    ruleBytes([2, 0, 0, 0, 0, 0, 0, 2], 0, [6, u32(100)], [4, u32(200)]),
    ruleBytes([2, 0, 0, 0, 0, 0, 0, 3], 0, [6, u32(101)]),
    ruleBytes([10, 0, 0, 0, 0, 0, 0, 6], 2, [6, u32(102)], [17, Buffer.from('eth1\0')]),
    ruleBytes(
      [2, 32, 0, 0x10, 254, 0, 0, 1],
      0,
      [1, Buffer.from([192, 0, 2, 1])],
      [14, u32(0)],
      [21, Buffer.from([4])],
    ),
    ruleBytes(
      [2, 0, 0, 0, 0, 0, 0, 1],
      0,
      [15, u32(5000)],
      [22, Buffer.from([6])],
      [23, Buffer.from([0x50, 0, 0x50, 0])],
      [24, Buffer.from([0, 4, 0xff, 7])],
    ),
  ].map((payload, i) => {
    const sink = decodeBytes(msg(RTM_NEWRULE, 0, i, payload));
    assert.deepEqual(sink.calls(), ['rule']);
    return sink.items[0]!.text;
  });
  assert.deepEqual(texts, [
    '100: from all goto 200',
    '101: from all nop',
    '102: not from all oif eth1 blackhole',
    '0: from all to 192.0.2.1 tos 0x10 lookup main suppress_prefixlength 0 proto static',
    '0: from all ipproto tcp sport 80 dport 1024-2047 lookup 5000',
  ]);
});

test('a nested attribute whose length overruns its parent is an error', () => {
  const buf = hex(`
    2c000000 1000 0000 01000000 00000000  # nlmsghdr: len 44, RTM_NEWLINK
    00 00 0100 05000000 00000000 00000000  # ifinfomsg: index 5
    0c00 1200                              # IFLA_LINKINFO, len 12: 8 bytes of nested attributes
    1000 0100 76657468                     #   IFLA_INFO_KIND claims 16 bytes: past its parent's end
  `);
  assert.equal(buf.readUInt32LE(0), buf.length);
  const sink = decodeBytes(Buffer.concat([buf, THREE_MESSAGES]));
  assert.deepEqual(sink.calls(), ['decodeError', 'link', 'address', 'route']);
  assert.deepEqual(sink.items[0], {
    message: 'decodeError',
    reason: 'bad attribute length',
    offset: 36,
    messageType: RTM_NEWLINK,
  });
  // Sanity: with a correct inner length the same bytes decode.
  const fixed = Buffer.from(buf);
  fixed.writeUInt16LE(8, 36);
  assert.equal(decodeBytes(fixed).items[0]!.message, 'link');
  assert.equal(buf.readUInt16LE(32 + 2), IFLA_LINKINFO);
  assert.equal(buf.readUInt16LE(36 + 2), IFLA_INFO_KIND);
});

test('RTA_MULTIPATH: rtnexthops and their nested gateways; an overrunning rtnexthop is an error', () => {
  const nexthop = (ifindex: number, hops: number, gateway: number[]): Buffer => {
    const gw = nlattr(RTA_GATEWAY, Buffer.from(gateway));
    const head = Buffer.alloc(8);
    head.writeUInt16LE(8 + gw.length, 0); // rtnh_len covers the nested attributes
    head[2] = 0; // rtnh_flags
    head[3] = hops; // rtnh_hops: weight - 1
    head.writeInt32LE(ifindex, 4);
    return Buffer.concat([head, gw]);
  };
  const multipath = Buffer.concat([nexthop(2, 0, [192, 0, 2, 254]), nexthop(3, 2, [192, 0, 3, 2])]);
  const good = msg(
    RTM_NEWROUTE,
    NLM_F_CREATE | NLM_F_EXCL,
    1,
    rtmsg(AF_INET, 25),
    nlattr(RTA_DST, Buffer.from([198, 51, 100, 128])),
    nlattr(RTA_MULTIPATH, multipath),
  );
  const sink = decodeBytes(good);
  const route = sink.routes[0]!;
  assert.equal(routeDestination(route), '198.51.100.128/25');
  assert.equal(routeGateway(route), undefined);
  assert.deepEqual(routeNexthops(route), [
    { ifindex: 2, gateway: '192.0.2.254', flags: 0, weight: 1 },
    { ifindex: 3, gateway: '192.0.3.2', flags: 0, weight: 3 },
  ]);
  // The second rtnexthop claims 64 bytes: past the end of RTA_MULTIPATH.
  const bad = Buffer.from(good);
  const secondNexthop = 16 + 12 + 8 + 4 + 16;
  assert.equal(bad.readUInt16LE(secondNexthop), 16);
  bad.writeUInt16LE(64, secondNexthop);
  assert.deepEqual(decodeBytes(bad).json(), [
    { message: 'decodeError', reason: 'bad rtnexthop length', offset: secondNexthop, messageType: RTM_NEWROUTE },
  ]);
});

test('route fields: RTA_TABLE overrides rtm_table; absent values are 0 / -1, helpers say undefined', () => {
  const rt = rtmsg(AF_INET, 0);
  const sink = decodeBytes(
    msg(RTM_DELROUTE, 0, 1, rt, nlattr(15 /* RTA_TABLE */, u32(100000)), nlattr(RTA_OIF, u32(4))),
  );
  const m = sink.routes[0]!;
  assert.equal(m.table, 100000);
  assert.equal(m.oif, 4);
  assert.equal(m.priority, 0);
  assert.equal(m.nhId, 0);
  assert.equal(m.dstOffset, -1);
  assert.equal(m.gatewayOffset, -1);
  assert.equal(m.multipathOffset, -1);
  assert.equal(routeDestination(m), 'default');
  assert.equal(routeGateway(m), undefined);
  assert.equal(routePrefsrc(m), undefined);
  assert.deepEqual(routeNexthops(m), [{ ifindex: 4, flags: 0, weight: 1 }]);
});

test('a message never reads past its own nlmsg_len', () => {
  // A link message whose nlmsg_len ends before an IFLA_IFNAME that physically follows it
  // in the buffer: the name must not be seen; the trailing bytes are the next "message".
  const link = msg(RTM_NEWLINK, 0, 1, ifinfomsg(3));
  const name = nlattr(IFLA_IFNAME, str('ghost'));
  const buf = Buffer.concat([link, name, Buffer.alloc(16 - name.length)]);
  const sink = new RecordingSink();
  decodeDatagram(buf, 0, link.length, sink);
  assert.deepEqual(sink.calls(), ['link']);
  assert.equal(sink.items[0]!.name, undefined);
});

test('decodeDatagram rejects a range outside the buffer (a caller bug, not a decode error)', () => {
  assert.throws(() => decodeDatagram(Buffer.alloc(8), 0, 16, new RecordingSink()), RangeError);
});

test('an exception thrown by the sink propagates (it is not a decode error)', () => {
  const sink = new RecordingSink();
  sink.link = () => {
    throw new TypeError('sink bug');
  };
  assert.throws(() => decodeDatagram(THREE_MESSAGES, 0, THREE_MESSAGES.length, sink), TypeError);
});

// ---------------------------------------------------------------------------------------
// Readers and formatting.

test('width-checked attribute readers', () => {
  const b = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 0x61, 0x62, 0, 0x63]);
  assert.equal(attrU8(b, 0, 1), 1);
  assert.equal(attrU16(b, 0, 2), 0x0201);
  assert.equal(attrU32(b, 0, 4), 0x04030201);
  // Above 2^53 the number is the nearest double, as Number() of the exact value gives it.
  assert.equal(attrU64(b, 0, 8), Number(0x0807060504030201n));
  assert.throws(() => attrU32(b, 0, 3), NetlinkDecodeError);
  assert.throws(() => attrU64(b, 0, 7), NetlinkDecodeError);
  assert.equal(attrString(b, 8, 4), 'ab'); // stops at the NUL
  assert.equal(attrString(b, 8, 2), 'ab'); // no NUL at all
});

test('formatIPv6 follows RFC 5952', () => {
  const cases: Array<[string, string]> = [
    ['00000000000000000000000000000000', '::'],
    ['00000000000000000000000000000001', '::1'],
    ['20010db8000000000000000000000001', '2001:db8::1'],
    ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'], // one zero group: not "::"
    ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'], // first of two equal runs
    ['20010db8000000000000000100000000', '2001:db8::1:0:0'], // the longer run wins
    ['fe800000000000000000000000000000', 'fe80::'],
    ['00000000000000000000ffffc0000201', '::ffff:c000:201'],
    ['20010DB8ABCD00120000000000000000', '2001:db8:abcd:12::'],
    ['000100000000000000000000000000ff', '1::ff'],
  ];
  for (const [bytes, text] of cases) {
    assert.equal(formatIPv6(Buffer.from(bytes, 'hex'), 0), text, bytes);
    assert.deepEqual(parseIp(text)?.bytes, Buffer.from(bytes, 'hex'), text);
  }
});

test('formatIPv4, formatIp, formatMac', () => {
  const b = Buffer.from([0, 192, 0, 2, 1]);
  assert.equal(formatIPv4(b, 1), '192.0.2.1');
  assert.equal(formatIp(AF_INET, b, 1), '192.0.2.1');
  assert.throws(() => formatIp(7, b, 0), RangeError);
  assert.equal(formatMac(Buffer.from([2, 0, 0x5e, 0, 1, 0xab]), 0, 6), '02:00:5e:00:01:ab');
  assert.equal(formatMac(b, 0, 0), '');
});

test('ipv4Word reads formatIPv4 text back as the little-endian u32 of its bytes', () => {
  for (const bytes of [
    [0, 0, 0, 0],
    [255, 255, 255, 255],
    [10, 128, 3, 4],
    [192, 0, 2, 1],
    [1, 2, 3, 200],
  ]) {
    const b = Buffer.from(bytes);
    assert.equal(ipv4Word(formatIPv4(b, 0)), b.readUInt32LE(0), bytes.join('.'));
  }
});

test('parseIp', () => {
  assert.deepEqual(parseIp('192.0.2.1'), { family: AF_INET, bytes: Buffer.from([192, 0, 2, 1]) });
  assert.deepEqual(parseIp('::ffff:192.0.2.1')?.bytes, Buffer.from('00000000000000000000ffffc0000201', 'hex'));
  assert.equal(parseIp('2001:DB8::1')?.family, AF_INET6);
  for (const bad of [
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7:8::',
    'fe80::1%eth0',
    '12345::',
    ' ::1',
    '10.0.0.0/8',
  ]) {
    assert.equal(parseIp(bad), undefined, bad);
  }
  assert.deepEqual(parseIp('1:2:3:4:5:6:7::')?.bytes, Buffer.from('00010002000300040005000600070000', 'hex'));
});

// ---------------------------------------------------------------------------------------
// Requests.

test('dumpRequest: NLM_F_REQUEST|NLM_F_DUMP and the full fixed header of each kind', () => {
  const sizes = { link: 16, address: 8, route: 12, neighbour: 12, nexthop: 8 } as const;
  const types = { link: 18, address: 22, route: 26, neighbour: 30, nexthop: 106 } as const;
  for (const kind of Object.keys(sizes) as Array<keyof typeof sizes>) {
    const r = dumpRequest(kind, 42, AF_INET6);
    assert.equal(r.length, 16 + sizes[kind], kind);
    assert.equal(r.readUInt32LE(0), 16 + sizes[kind]);
    assert.equal(r.readUInt16LE(4), types[kind]);
    assert.equal(r.readUInt16LE(6), NLM_F_REQUEST | NLM_F_DUMP);
    assert.equal(r.readUInt32LE(8), 42);
    assert.equal(r[16], AF_INET6);
  }
  assert.equal(dumpRequest('link', 1)[16], 0); // AF_UNSPEC by default
});

test('routeRequest: thousands concatenate into one valid multi-message buffer', () => {
  const requests: Buffer[] = [];
  for (let i = 0; i < 2000; i++) {
    requests.push(
      routeRequest({
        type: RTM_NEWROUTE,
        flags: NLM_F_CREATE | NLM_F_EXCL,
        seq: i,
        family: AF_INET,
        dst: Buffer.from([10, (i >> 8) & 255, i & 255, 0]),
        dstLength: 24,
        table: i % 2 === 0 ? 100 : 1000,
        protocol: 4,
        oif: 2,
        gateway: Buffer.from([192, 0, 2, 254]),
        priority: 10,
      }),
    );
  }
  requests.push(
    routeRequest({
      type: RTM_DELROUTE,
      flags: 0,
      seq: 9999,
      family: AF_INET6,
      dstLength: 0,
      table: 254,
      protocol: 0,
      nhId: 7,
    }),
  );
  const all = Buffer.concat(requests);
  const sink = decodeBytes(all);
  assert.equal(sink.routes.length, 2001);
  assert.equal(sink.items.filter((i) => i.message !== 'route').length, 0);
  const first = routeToJSON(sink.routes[0]!);
  assert.equal(first.destination, '10.0.0.0/24');
  assert.equal(first.gateway, '192.0.2.254');
  assert.equal(first.flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL);
  assert.equal(first.table, 100);
  assert.equal(first.scope, 0);
  assert.equal(first.routeType, 1);
  assert.equal(first.priority, 10);
  const second = sink.routes[1]!;
  assert.equal(second.table, 1000);
  assert.equal(routeDestination(sink.routes[257]!), '10.1.1.0/24');
  const last = sink.routes[2000]!;
  assert.equal(last.type, RTM_DELROUTE);
  assert.equal(last.nhId, 7);
  assert.equal(last.scope, 255);
  assert.equal(routeDestination(last), 'default');
});

test('routeRequest: a table above 255 travels only in RTA_TABLE', () => {
  const r = routeRequest({
    type: RTM_NEWROUTE,
    flags: 0,
    seq: 1,
    family: AF_INET,
    dstLength: 0,
    table: 1000,
    protocol: 4,
    oif: 3,
  });
  assert.equal(r[16 + 4], 0); // rtm_table = RT_TABLE_UNSPEC
  assert.equal(r[16 + 6], 253); // no gateway: scope link, as iproute2 sets it
  const sink = decodeBytes(r);
  assert.equal(sink.routes[0]!.table, 1000);
});

// ---------------------------------------------------------------------------------------
// Netconf (RTM_NEWNETCONF / RTM_DELNETCONF): the captured fixtures 71-76 hold the kernel's own
// bytes; these cases are what it never sends.

/** A netconfmsg (family, then padding to 4) and s32 attributes. */
function netconfBytes(family: number, ...attrs: [number, number][]): Buffer {
  const parts = attrs.map(([type, value]) => {
    const a = Buffer.alloc(8);
    a.writeUInt16LE(8, 0);
    a.writeUInt16LE(type, 2);
    a.writeInt32LE(value, 4);
    return a;
  });
  return Buffer.concat([Buffer.from([family, 0, 0, 0]), ...parts]);
}

test('netconf: the namespace-wide entries are ifindex -1 and -2; absent values stay undefined', () => {
  const sink = decodeBytes(
    Buffer.concat([
      msg(80, 0, 0, netconfBytes(2, [1, -1], [2, 1])),
      msg(80, 0, 0, netconfBytes(10, [1, -2], [5, 1], [6, 0])),
      msg(81, 0, 0, netconfBytes(2, [1, 7])),
    ]),
  );
  assert.deepEqual(sink.json(), [
    { message: 'netconf', type: 80, flags: 0, seq: 0, pid: 0, family: 2, ifindex: -1, forwarding: 1 },
    {
      message: 'netconf',
      type: 80,
      flags: 0,
      seq: 0,
      pid: 0,
      family: 10,
      ifindex: -2,
      proxyNeigh: 1,
      ignoreRoutesWithLinkdown: 0,
    },
    { message: 'netconf', type: 81, flags: 0, seq: 0, pid: 0, family: 2, ifindex: 7 },
  ]);
});

test('netconf: an empty payload and a short value are decode errors; the next message still parses', () => {
  const short = Buffer.concat([Buffer.from([2, 0, 0, 0]), Buffer.from([6, 0, 2, 0, 1, 0])]);
  const sink = decodeBytes(
    Buffer.concat([
      msg(80, 0, 1, Buffer.alloc(0)),
      msg(80, 0, 2, short),
      msg(80, 0, 3, netconfBytes(2, [1, 3], [3, 2])),
    ]),
  );
  assert.deepEqual(sink.calls(), ['decodeError', 'decodeError', 'netconf']);
  assert.equal(sink.items[0]!.reason, 'netconfmsg truncated');
  assert.equal(sink.items[2]!.rpFilter, 2);
});

test('netconf: a sink without a netconf method gets the message as other()', () => {
  const items: string[] = [];
  const noop = (): void => undefined;
  decodeDatagram(msg(80, 0, 1, netconfBytes(2, [1, 3], [2, 1])), 0, 20 + 16, {
    link: noop,
    address: noop,
    route: noop,
    neighbour: noop,
    nexthop: noop,
    rule: noop,
    done: noop,
    error: noop,
    other: (m) => items.push(`other ${m.type} ${m.length}`),
    decodeError: noop,
  });
  assert.deepEqual(items, ['other 80 36']);
});
