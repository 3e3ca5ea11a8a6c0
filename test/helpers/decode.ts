// One route message decoded from request bytes (as the kernel would send them), for unit tests
// that feed the state layer without a socket; and a sink that takes only the messages a test wants.

import assert from 'node:assert/strict';
import { decodeDatagram } from '../../src/netlink/decode';
import type { MessageSink, RouteMessage } from '../../src/netlink/types';

/**
 * A MessageSink that ignores every message but those `handlers` take; a decode error fails the
 * test unless `handlers` takes that too.
 */
export function messageSink(handlers: Partial<MessageSink>): MessageSink {
  return {
    link: () => undefined,
    address: () => undefined,
    route: () => undefined,
    neighbour: () => undefined,
    nexthop: () => undefined,
    rule: () => undefined,
    done: () => undefined,
    error: () => undefined,
    other: () => undefined,
    decodeError: (e) => assert.fail(e),
    ...handlers,
  };
}

export function decodeRoute(bytes: Buffer): RouteMessage {
  let out: RouteMessage | undefined;
  decodeDatagram(bytes, 0, bytes.length, messageSink({ route: (m) => (out = m) }));
  assert.ok(out);
  return out;
}
