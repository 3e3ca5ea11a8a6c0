// Bridge ports' STP state (src/state/bridge-ports.ts): the kernel's captured AF_BRIDGE messages
// of a port going disabled -> listening -> learning -> forwarding -> disabled and leaving its
// bridge (test/fixtures/bridge-stp/), replayed through the session's side into a model and rendered; then
// the resync's mark and sweep, the cap, and what is not a port, on messages built by hand.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AF_BRIDGE, RTM_DELLINK, RTM_NEWLINK } from '../../../src/netlink/constants';
import { decodeChunk, decodeDatagram } from '../../../src/netlink/decode';
import type { LinkMessage } from '../../../src/netlink/types';
import { renderNetlinkMetrics } from '../../../src/metrics/render';
import { MessageDispatch } from '../../../src/session/dispatch';
import { SessionCounters } from '../../../src/session/session-counters';
import type { PendingEvent } from '../../../src/state/events';
import { BridgePortSet } from '../../../src/state/bridge-ports';
import { NamespaceModel } from '../../../src/state/model';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURE_DIR } from '../../helpers/paths';
import { namespaceSource, upLink } from '../../helpers/model-source';
import { messageSink } from '../../helpers/decode';

function model(events: PendingEvent[]): NamespaceModel {
  return new NamespaceModel({
    netns: 'ns',
    include: /^.*$/,
    exclude: undefined,
    maxTracked: 100,
    now: () => 1_000_000,
    onEvent: (e) => void events.push(e),
  });
}

function bridgeLines(m: NamespaceModel): string[] {
  return Buffer.concat(
    renderNetlinkMetrics([namespaceSource(m)], { addressInfo: true, addressInfoLinkLocal: false }, '0.0.0'),
  )
    .toString()
    .split('\n')
    .filter((l) => l.startsWith('netlink_bridge_port'));
}

/** The bridge-stp captures in order: the bridge, its port and the port's peer are made in the first. */
function stpChunks(): { file: string; chunk: Buffer }[] {
  const dir = join(FIXTURE_DIR, 'bridge-stp');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({
      file,
      chunk: Buffer.from((JSON.parse(readFileSync(join(dir, file), 'utf8')) as { hex: string }).hex, 'hex'),
    }));
}

const portLine = (e: PendingEvent): string =>
  e.kind === 'bridge_port' ? `${e.interface} (${e.bridge}): ${e.previousState} -> ${e.state}` : '';

test('captured: a port with kernel STP goes disabled -> listening -> learning -> forwarding, then disabled; leaving its bridge is no deletion', () => {
  const events: PendingEvent[] = [];
  const m = model(events);
  const session = new MessageDispatch(new SessionCounters(), m);
  const chunks = stpChunks();
  const replay = (prefix: string): void => {
    const found = chunks.filter((c) => c.file.startsWith(prefix));
    assert.equal(found.length, 1, prefix);
    decodeChunk(found[0]!.chunk, session);
  };
  replay('01-bridge-stp-setup');
  assert.deepEqual(
    events.filter((e) => e.kind === 'bridge_port'),
    [],
  );
  assert.deepEqual(bridgeLines(m), [
    'netlink_bridge_port_state{netns="ns",bridge="brs",interface="sp0",state="disabled"} 1',
    'netlink_bridge_port_state{netns="ns",bridge="brs",interface="sp0",state="listening"} 0',
    'netlink_bridge_port_state{netns="ns",bridge="brs",interface="sp0",state="learning"} 0',
    'netlink_bridge_port_state{netns="ns",bridge="brs",interface="sp0",state="forwarding"} 0',
    'netlink_bridge_port_state{netns="ns",bridge="brs",interface="sp0",state="blocking"} 0',
    'netlink_bridge_port_state_changes_total{netns="ns",bridge="brs",interface="sp0"} 0',
    'netlink_bridge_ports_dropped_total{netns="ns"} 0',
  ]);
  replay('02-bridge-stp-port-up');
  assert.deepEqual(events.filter((e) => e.kind === 'bridge_port').map(portLine), [
    'sp0 (brs): disabled -> listening',
    'sp0 (brs): listening -> learning',
    'sp0 (brs): learning -> forwarding',
  ]);
  const first = events.find((e) => e.kind === 'bridge_port');
  assert.deepEqual(first, {
    netns: 'ns',
    kind: 'bridge_port',
    action: 'changed',
    interface: 'sp0',
    ifindex: 12,
    bridge: 'brs',
    bridgeIfindex: 10,
    state: 'listening',
    previousState: 'disabled',
  });
  assert.ok(
    bridgeLines(m).includes('netlink_bridge_port_state{netns="ns",bridge="brs",interface="sp0",state="forwarding"} 1'),
  );
  assert.ok(
    bridgeLines(m).includes('netlink_bridge_port_state_changes_total{netns="ns",bridge="brs",interface="sp0"} 3'),
  );
  replay('04-bridge-stp-port-down');
  assert.equal(
    events
      .filter((e) => e.kind === 'bridge_port')
      .map(portLine)
      .at(-1),
    'sp0 (brs): forwarding -> disabled',
  );
  assert.ok(
    bridgeLines(m).includes('netlink_bridge_port_state_changes_total{netns="ns",bridge="brs",interface="sp0"} 4'),
  );
  // Leaving the bridge: an AF_BRIDGE RTM_DELLINK, which is neither a deletion nor a flap.
  const deleted = m.interfacesDeleted;
  const flaps = m.links.get(12)!.flaps;
  events.length = 0;
  replay('05-bridge-stp-port-release');
  assert.equal(m.interfacesDeleted, deleted);
  assert.equal(m.links.get(12)!.flaps, flaps);
  assert.ok(m.links.has(12));
  assert.deepEqual(
    events.filter((e) => e.kind === 'flap' || (e.kind === 'link' && e.action === 'removed')),
    [],
  );
  assert.deepEqual(bridgeLines(m), ['netlink_bridge_ports_dropped_total{netns="ns"} 0']);
});

test('captured: the AF_BRIDGE dump sets the state quietly at start-up', () => {
  const events: PendingEvent[] = [];
  const m = model(events);
  const session = new MessageDispatch(new SessionCounters(), m);
  session.portId = -2; // no reply is ours here: every message is a notification until dumpMode says otherwise
  decodeChunk(stpChunks()[0]!.chunk, session);
  // The dump reply (its port id made ours) during an initial dump: forwarding, no change counted.
  const dump = stpChunks().find((c) => c.file.startsWith('03-dump-bridge-ports-stp'))!.chunk;
  session.portId = dump.readUInt32LE(4 + 12);
  session.dumpMode = 'initial';
  events.length = 0;
  decodeChunk(dump, session);
  assert.deepEqual(events, []);
  assert.equal(m.bridgePorts.ports.get(12)?.state, 3);
  assert.equal(m.bridgePorts.ports.get(12)?.changes, 0);
});

/** An AF_BRIDGE link message of port `ifindex` in bridge `master`. */
function port(ifindex: number, master: number, state: number | undefined, type = RTM_NEWLINK): LinkMessage {
  return { ...upLink(ifindex, `p${ifindex}`, type), family: AF_BRIDGE, master, bridgePortState: state };
}

function portSet(max?: number): { set: BridgePortSet; events: PendingEvent[] } {
  const events: PendingEvent[] = [];
  const outlet = { netns: 'ns', onEvent: (e: PendingEvent) => void events.push(e), routeGate: undefined };
  const set = new BridgePortSet(outlet, { find: () => undefined }, () => 5, max);
  return { set, events };
}

test('resync: the dump sets each port state (a change it finds counts once), the sweep drops ports it did not list, notifications during it win', () => {
  const { set, events } = portSet();
  set.port(port(3, 2, 3), 'initial-dump');
  set.port(port(4, 2, 3), 'initial-dump');
  set.port(port(5, 2, 3), 'initial-dump');
  set.port(port(6, 2, 0), 'initial-dump');
  assert.equal(events.length, 0);
  set.beginSweep();
  set.port(port(3, 2, 4), 'resync-dump'); // blocking now: changed while we were not listening
  // Port 5 changed by a notification during the resync; the dump's older reply is ignored.
  set.port(port(5, 2, 1), 'notification');
  set.port(port(5, 2, 3), 'resync-dump');
  // Port 7 joined during the resync (a notification), after the dump passed it.
  set.port(port(7, 2, 1), 'notification');
  set.port(port(6, 2, 0), 'resync-dump');
  set.sweep();
  // Port 4 was not listed: it left the bridge unheard.
  assert.deepEqual(
    [...set.ports.values()].map((r) => [r.ifindex, r.state, r.changes]),
    [
      [3, 4, 1],
      [5, 1, 1],
      [6, 0, 0],
      [7, 1, 0],
    ],
  );
  assert.deepEqual(
    events.map((e) => (e.kind === 'bridge_port' ? `${e.ifindex} ${e.previousState}->${e.state}` : '')),
    ['3 forwarding->blocking', '5 forwarding->listening'],
  );
});

test('the cap drops new ports and counts them; the bridge itself, DELLINK and a move to another bridge', () => {
  const { set } = portSet(2);
  set.port(port(3, 2, 3), 'notification');
  set.port(port(4, 2, 3), 'notification');
  set.port(port(5, 2, 3), 'notification');
  assert.equal(set.ports.size, 2);
  assert.equal(set.dropped, 1);
  // The bridge's own AF_BRIDGE message (IFLA_MASTER itself, no IFLA_PROTINFO) is no port.
  set.port(port(2, 2, undefined), 'notification');
  assert.equal(set.ports.has(2), false);
  set.port(port(4, 2, undefined, RTM_DELLINK), 'notification');
  assert.deepEqual([...set.ports.keys()], [3]);
  // Port 3 shows up in bridge 9 without a DELLINK heard: a new port there, its counter afresh.
  set.port(port(3, 2, 1), 'notification');
  assert.equal(set.ports.get(3)?.changes, 1);
  set.port(port(3, 9, 1), 'notification');
  assert.deepEqual([set.ports.get(3)?.bridge, set.ports.get(3)?.changes], [9, 0]);
  // The bridge deleted (its own RTM_DELLINK): its ports go.
  set.linkGone(9);
  assert.equal(set.ports.size, 0);
});

/** An RTM_NEWLINK of ifindex 3 with IFLA_MASTER 2 and IFLA_PROTINFO (type `protinfoType`) holding IFLA_BRPORT_STATE `state`. */
function portBytes(family: number, protinfoType: number, state: number): Buffer {
  const b = Buffer.alloc(16 + 16 + 8 + 12);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE(RTM_NEWLINK, 4);
  b[16] = family; // ifinfomsg: family, pad, type, index 3, flags, change
  b.writeInt32LE(3, 20);
  b.writeUInt16LE(8, 32); // IFLA_MASTER (10), u32 2
  b.writeUInt16LE(10, 34);
  b.writeUInt32LE(2, 36);
  b.writeUInt16LE(12, 40); // IFLA_PROTINFO: 4 + one u8 attribute (5 bytes, padded to 8)
  b.writeUInt16LE(protinfoType, 42);
  b.writeUInt16LE(5, 44); // IFLA_BRPORT_STATE (1)
  b.writeUInt16LE(1, 46);
  b[48] = state;
  return b;
}

function decodeOne(bytes: Buffer): { links: LinkMessage[]; errors: number } {
  const links: LinkMessage[] = [];
  let errors = 0;
  const sink = messageSink({
    link: (m) => void links.push(m),
    neighbourTable: () => undefined,
    decodeError: () => void errors++,
  });
  decodeDatagram(bytes, 0, bytes.length, sink);
  return { links, errors };
}

test('codec: IFLA_PROTINFO with or without NLA_F_NESTED (before Linux 5.2), only in AF_BRIDGE messages; a state past blocking is refused', () => {
  const NLA_F_NESTED = 0x8000;
  for (const type of [12, 12 | NLA_F_NESTED]) {
    const { links, errors } = decodeOne(portBytes(AF_BRIDGE, type, 4));
    assert.equal(errors, 0);
    assert.deepEqual([links[0]?.master, links[0]?.bridgePortState], [2, 4]);
  }
  // AF_UNSPEC: IFLA_PROTINFO is another family's data (IPv6's IFLA_INET6_*), never a port state.
  assert.equal(decodeOne(portBytes(0, 12 | NLA_F_NESTED, 3)).links[0]?.bridgePortState, undefined);
  const bad = decodeOne(portBytes(AF_BRIDGE, 12 | NLA_F_NESTED, 5));
  assert.deepEqual([bad.links.length, bad.errors], [0, 1]);
});
