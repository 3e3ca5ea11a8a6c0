// One route message decoded from request bytes (as the kernel would send them), for unit tests
// that feed the state layer without a socket.

import assert from 'node:assert/strict';
import { decodeDatagram } from '../../src/netlink/decode';
import type { MessageSink, RouteMessage } from '../../src/netlink/types';

export function decodeRoute(bytes: Buffer): RouteMessage {
  let out: RouteMessage | undefined;
  const sink: MessageSink = {
    link: () => undefined,
    address: () => undefined,
    route: (m) => (out = m),
    neighbour: () => undefined,
    nexthop: () => undefined,
    rule: () => undefined,
    done: () => undefined,
    error: () => undefined,
    other: () => undefined,
    decodeError: (e) => assert.fail(e),
  };
  decodeDatagram(bytes, 0, bytes.length, sink);
  assert.ok(out);
  return out;
}
