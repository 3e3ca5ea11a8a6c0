// What the session feeds and what it offers, declared here so that the session never imports
// the model: the model (src/state/model.ts) implements SessionSink and receives SessionServices,
// and main.ts wires the two (TypeScript's structural typing).

import type {
  AddressMessage,
  LinkMessage,
  NeighbourMessage,
  NeighbourTableMessage,
  NetconfMessage,
  NexthopMessage,
  RouteMessage,
  RuleMessage,
} from '../netlink/types';

/**
 * Where a message came from: a notification the kernel multicast, a reply to the initial dump
 * (sets state quietly), a reply to a resync's dump (counts what it repairs), or any other reply
 * to one of our own requests (a link probe's answer, the neighbour tables' refresh).
 */
export type MessageOrigin = 'notification' | 'initial-dump' | 'resync-dump' | 'reply';

/** Dump phases: replies of the initial dump set state quietly; a resync counts what it repairs. */
export type DumpMode = 'initial' | 'resync';

/** What the session feeds: every decoded message with its origin, and the session's own happenings. */
export interface SessionSink {
  link(message: LinkMessage, origin: MessageOrigin): void;
  address(message: AddressMessage, origin: MessageOrigin): void;
  route(message: RouteMessage, origin: MessageOrigin): void;
  neighbour(message: NeighbourMessage, origin: MessageOrigin): void;
  neighbourTable(message: NeighbourTableMessage, origin: MessageOrigin): void;
  nexthop(message: NexthopMessage, origin: MessageOrigin): void;
  rule(message: RuleMessage, origin: MessageOrigin): void;
  netconf(message: NetconfMessage, origin: MessageOrigin): void;
  /** The socket lost notifications (an overrun): each link's next message may follow lost ones. */
  notificationsLost(): void;
  /** A resync (after an overrun) started or completed: for its domain events. */
  resyncEvent(action: 'started' | 'completed'): void;
  /** Before a resync dump: everything is unseen until the dump lists it. */
  beginSweep(): void;
  /** After a complete resync dump: what it did not list was removed while we were not listening. */
  sweep(): void;
  /** What it holds: for the 'namespace ready' log line, and the memory counted as released at close. */
  holdings(): { links: number; addresses: number; routes: number; routeBytes: number };
  /** The namespace is no longer watched. */
  close(): void;
}

/** What the session offers the model it feeds. */
export interface SessionServices {
  /** Runs the callback once every notification queued before now has been applied (see watcher.ts barrier). */
  barrier(callback: () => void): void;
  /**
   * Runs the callback once the kernel has answered a request about this ifindex that takes
   * RTNL (RTM_GETLINK), so after the RTM_DELLINK of a deletion in progress (see links.ts isClose).
   */
  linkProbe(ifindex: number, callback: () => void): void;
}
