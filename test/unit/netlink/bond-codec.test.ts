// The bond and VRF kind data (src/netlink/link-kind-data.ts) on the synthetic fixtures of
// test/fixtures/bonds/: built from the UAPI layout on a captured veth RTM_NEWLINK (see their
// README), since the kernel here has no bond or vrf driver. What each must decode to is stated
// here, from the values generate.py put in.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IFLA_LINKINFO } from '../../../src/netlink/constants';
import { decodeChunk, decodeDatagram } from '../../../src/netlink/decode';
import { bondMiiName, bondModeName } from '../../../src/netlink/link-kind-data';
import type { LinkMessage, MessageSink } from '../../../src/netlink/types';
import { bondFixtureChunk, bondFixtureNames, decodeBondFixture } from '../../helpers/bond-fixtures';
import { capturedChunks } from '../../helpers/fixtures';
import { messageSink } from '../../helpers/decode';

const byName = (links: LinkMessage[], name: string): LinkMessage => {
  const m = links.find((l) => l.name === name);
  assert.ok(m, `no link message for ${name}`);
  return m;
};

test('the initial dump: bond and slave data, 802.3ad aggregator, VRF tables; the frame around them is the kernel capture', () => {
  const { links, errors } = decodeBondFixture('01-dump-links');
  assert.deepEqual(errors, []);
  assert.deepEqual(
    links.map((l) => [l.ifindex, l.name, l.kind, l.slaveKind, l.master]),
    [
      [10, 'bond0', 'bond', undefined, undefined],
      [11, 'eth-a', undefined, 'bond', 10],
      [12, 'eth-b', undefined, 'bond', 10],
      [20, 'bond1', 'bond', undefined, undefined],
      [21, 'eth-c', undefined, 'bond', 20],
      [22, 'eth-d', undefined, 'bond', 20],
      [30, 'blue', 'vrf', undefined, undefined],
      [31, 'eth-e', undefined, 'vrf', 30],
      [40, 'red', 'vrf', undefined, undefined],
    ],
  );
  assert.deepEqual(byName(links, 'bond0').bond, {
    mode: 1,
    activeSlave: 11,
    miimon: 100,
    ad: undefined,
    adActorSystem: undefined,
  });
  assert.deepEqual(byName(links, 'eth-b').bondSlave, {
    state: 1,
    miiStatus: 0,
    linkFailureCount: 3,
    permHwaddr: '02:00:00:00:00:12',
    queueId: 1,
    adAggregatorId: undefined,
    adActorOperPortState: undefined,
    adPartnerOperPortState: undefined,
  });
  assert.deepEqual(byName(links, 'bond1').bond, {
    mode: 4,
    activeSlave: undefined,
    miimon: 100,
    ad: { aggregator: 1, numPorts: 2, actorKey: 9, partnerKey: 17, partnerMac: '02:aa:bb:cc:dd:01' },
    adActorSystem: '02:00:00:00:00:20',
  });
  const c = byName(links, 'eth-c').bondSlave;
  assert.equal(c?.adAggregatorId, 1);
  assert.equal(c?.adActorOperPortState, 0x3d);
  assert.equal(c?.adPartnerOperPortState, 0x3d);
  assert.equal(byName(links, 'blue').vrfTable, 100);
  assert.equal(byName(links, 'red').vrfTable, 254);
  assert.equal(byName(links, 'eth-e').vrfPortTable, 100);
  assert.equal(byName(links, 'eth-e').bondSlave, undefined);
  // The other attributes are the captured veth's: its MTU and carrier counters.
  for (const l of links) {
    assert.equal(l.mtu, 1500);
    assert.equal(l.carrierChanges, 1);
    assert.equal(l.link, undefined, 'IFLA_LINK (the veth peer) was taken out');
  }
  assert.equal(byName(links, 'bond0').mac, '02:00:00:00:00:10');
});

test('a failover: the slave messages, then the bond naming its new active slave; the release of a slave carries no slave data', () => {
  const failover = decodeBondFixture('02-failover');
  assert.deepEqual(failover.errors, []);
  assert.deepEqual(
    failover.links.map((l) => [
      l.name,
      l.bondSlave?.state,
      l.bondSlave?.miiStatus,
      l.bondSlave?.linkFailureCount,
      l.bond?.activeSlave,
    ]),
    [
      ['eth-a', 1, 2, 1, undefined],
      ['eth-b', 0, 0, 3, undefined],
      ['bond0', undefined, undefined, undefined, 12],
    ],
  );
  const release = decodeBondFixture('04-release-active');
  const b = byName(release.links, 'eth-b');
  assert.deepEqual([b.master, b.slaveKind, b.bondSlave], [undefined, undefined, undefined]);
  const deleted = decodeBondFixture('06-delete-bond').links.at(-1)!;
  assert.deepEqual([deleted.type, deleted.name, deleted.bond?.activeSlave], [17, 'bond0', undefined]);
});

test('a broken nest is a counted decode error and the rest of the datagram still parses', () => {
  const { links, errors } = decodeBondFixture('07-malformed');
  assert.equal(errors.length, 2);
  assert.match(errors[0]!, /^bad attribute length/);
  assert.match(errors[1]!, /^IFLA_BOND_SLAVE_PERM_HWADDR too long .*40 bytes, at most 32/);
  assert.deepEqual(
    links.map((l) => [l.name, l.bond?.ad?.aggregator]),
    [['bond8', 1]],
  );
});

test('the captured kernel links (veth, bridge, tun, ifb) carry no bond or VRF data', () => {
  let links = 0;
  const sink = messageSink({
    link: (m) => {
      links++;
      assert.deepEqual([m.bond, m.bondSlave, m.vrfTable, m.vrfPortTable], [undefined, undefined, undefined, undefined]);
    },
    decodeError: () => undefined,
  });
  for (const { chunk } of capturedChunks()) decodeChunk(chunk, sink);
  assert.ok(links > 20, `${links} link messages`);
});

test('every byte of every bond and VRF message set to 0x00, 0x04, 0x28 or 0xff: a decode error or a bounded value, never a throw', () => {
  const sink = (seen: { links: number; errors: number }): MessageSink =>
    messageSink({
      link: (m) => {
        seen.links++;
        const s = m.bondSlave;
        if (s?.permHwaddr !== undefined) assert.ok(s.permHwaddr.length <= 32 * 3 - 1);
        if (m.bond?.ad?.partnerMac !== undefined) assert.equal(m.bond.ad.partnerMac.length, 17);
        if (m.bond?.mode !== undefined) assert.ok(m.bond.mode >= 0 && m.bond.mode <= 255);
      },
      decodeError: () => void seen.errors++,
    });
  let decoded = 0;
  for (const name of bondFixtureNames()) {
    const chunk = bondFixtureChunk(name);
    for (let pos = 0; pos + 4 <= chunk.length;) {
      const length = chunk.readUInt32LE(pos);
      const datagram = chunk.subarray(pos + 4, pos + 4 + length);
      pos += 4 + ((length + 3) & ~3);
      // Each message's IFLA_LINKINFO, header and all: the bytes the kind-data decoder reads.
      for (const [start, end] of linkInfoRanges(datagram)) {
        for (let at = start; at < end; at++) {
          for (const value of [0x00, 0x04, 0x28, 0xff]) {
            const mutated = Buffer.from(datagram);
            mutated[at] = value;
            decodeDatagram(mutated, 0, mutated.length, sink({ links: 0, errors: 0 }));
            decoded++;
          }
        }
      }
    }
  }
  assert.ok(decoded > 1000, `${decoded} mutations`);
});

/** [start, end) of the IFLA_LINKINFO attribute of each link message in a datagram. */
function linkInfoRanges(datagram: Buffer): [number, number][] {
  const out: [number, number][] = [];
  for (let msg = 0; msg + 16 <= datagram.length;) {
    const msgLength = datagram.readUInt32LE(msg);
    if (msgLength < 16) break;
    for (let at = msg + 32; at + 4 <= msg + msgLength;) {
      const attrLength = datagram.readUInt16LE(at);
      if (attrLength < 4) break;
      if (datagram.readUInt16LE(at + 2) === IFLA_LINKINFO) out.push([at, at + attrLength]);
      at += (attrLength + 3) & ~3;
    }
    msg += (msgLength + 3) & ~3;
  }
  return out;
}

test('mode and MII names as iproute2 prints them, the number past the known ones', () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7].map((m) => bondModeName(m)),
    ['balance-rr', 'active-backup', 'balance-xor', 'broadcast', '802.3ad', 'balance-tlb', 'balance-alb', '7'],
  );
  assert.deepEqual([0, 1, 2, 3, 9, undefined].map(bondMiiName), [
    'up',
    'going_down',
    'down',
    'going_back',
    '9',
    'unknown',
  ]);
});
