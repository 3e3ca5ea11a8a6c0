// The session's side of each decoded message (src/session/dispatch.ts): replies to our own
// requests (our port id) counted apart from notifications, each message handed on with its
// origin, NLM_F_DUMP_INTR noted, and only our own requests' ends answered.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NLM_F_DUMP_INTR, RTM_NEWLINK, RTM_NEWROUTE } from '../../../src/netlink/constants';
import type { LinkMessage, MessageHeader, RouteMessage } from '../../../src/netlink/types';
import { MessageDispatch } from '../../../src/session/dispatch';
import { SessionCounters } from '../../../src/session/session-counters';
import type { MessageOrigin, SessionSink } from '../../../src/session/sink';

const PORT = 4242;

function recorder(): { sink: SessionSink; seen: [string, MessageOrigin][] } {
  const seen: [string, MessageOrigin][] = [];
  const on = (kind: string) => (_m: unknown, origin: MessageOrigin) => void seen.push([kind, origin]);
  const none = (): void => undefined;
  const sink: SessionSink = {
    link: on('link'),
    address: on('address'),
    route: on('route'),
    neighbour: on('neighbour'),
    neighbourTable: on('neighbourTable'),
    nexthop: on('nexthop'),
    rule: on('rule'),
    netconf: on('netconf'),
    notificationsLost: none,
    resyncEvent: none,
    beginSweep: none,
    sweep: none,
    holdings: () => ({ links: 0, addresses: 0, routes: 0, routeBytes: 0 }),
    close: none,
  };
  return { sink, seen };
}

const link = (pid: number, flags = 0): LinkMessage => ({ flags, seq: 1, pid, type: RTM_NEWLINK }) as LinkMessage;

test('origin: notifications, initial and resync dump replies, other replies; counted apart by type', () => {
  const { sink, seen } = recorder();
  const session = new MessageDispatch(new SessionCounters(), sink);
  // Before the socket is open no message is ours.
  session.link(link(PORT));
  session.portId = PORT;
  session.link(link(0));
  session.dumpMode = 'initial';
  session.link(link(PORT));
  session.link(link(0));
  session.dumpMode = 'resync';
  session.route({ flags: 0, seq: 2, pid: PORT, type: RTM_NEWROUTE } as RouteMessage);
  session.dumpMode = undefined;
  session.link(link(PORT));
  assert.deepEqual(seen, [
    ['link', 'notification'],
    ['link', 'notification'],
    ['link', 'initial-dump'],
    ['link', 'notification'],
    ['route', 'resync-dump'],
    ['link', 'reply'],
  ]);
  assert.equal(session.counters.messagesReceived[RTM_NEWLINK], 3);
  assert.equal(session.counters.dumpMessages[RTM_NEWLINK], 2);
  assert.equal(session.counters.dumpMessages[RTM_NEWROUTE], 1);
  assert.equal(session.counters.dumpReplies(), 3);
});

test("NLM_F_DUMP_INTR on a reply or on NLMSG_DONE marks the dump interrupted; a notification's flag does not", () => {
  const { sink } = recorder();
  const session = new MessageDispatch(new SessionCounters(), sink);
  session.portId = PORT;
  session.dumpMode = 'initial';
  session.link(link(0, NLM_F_DUMP_INTR));
  assert.equal(session.dumpInterrupted, false);
  session.link(link(PORT, NLM_F_DUMP_INTR));
  assert.equal(session.dumpInterrupted, true);
  session.dumpInterrupted = false;
  const ends: [number, number][] = [];
  session.onDumpEnd = (h, errno) => void ends.push([h.seq, errno]);
  session.done({ flags: NLM_F_DUMP_INTR, seq: 7, pid: PORT, type: 3 } as MessageHeader);
  assert.equal(session.dumpInterrupted, true);
  // Ends of requests that are not ours are none of ours.
  session.done({ flags: 0, seq: 8, pid: 99, type: 3 } as MessageHeader);
  session.error({ flags: 0, seq: 9, pid: 99, type: 2 } as MessageHeader, 16);
  session.error({ flags: 0, seq: 10, pid: PORT, type: 2 } as MessageHeader, 16);
  assert.deepEqual(ends, [
    [7, 0],
    [10, 16],
  ]);
});

test('a message type without a name gets its series when first seen; decode errors are counted', () => {
  const { sink } = recorder();
  let clock = 1000;
  const session = new MessageDispatch(new SessionCounters(() => clock), sink);
  session.other({ flags: 0, seq: 0, pid: 0, type: 200, length: 16 });
  clock = 2000;
  session.other({ flags: 0, seq: 0, pid: 0, type: 200, length: 16 });
  assert.equal(session.counters.messagesReceived[200], 2);
  assert.equal(session.counters.unknownTypeSeen[0][200], 1000);
  assert.equal(session.counters.unknownTypeSeen[1][200], 0);
  session.decodeError();
  assert.equal(session.counters.decodeErrors, 1);
});
