// The STP state of each bridge port in the namespace: what netlink_bridge_port_state and
// netlink_bridge_port_state_changes_total show, and the `bridge_port` events.
//
// The bridge announces its ports in AF_BRIDGE link messages (br_ifinfo_notify), apart from the
// link itself: RTM_NEWLINK with IFLA_MASTER (the bridge) and IFLA_PROTINFO -> IFLA_BRPORT_STATE
// when a port joins, changes STP state or its link changes; RTM_DELLINK when it stops being a
// port (released, or its link or its bridge deleted). RTM_DELLINK AF_BRIDGE is not a deletion
// and none of these is a flap: link-set.ts ignores them all. The session dumps them too
// (RTM_GETLINK, AF_BRIDGE), so the state is exact from the first scrape; after an overrun the
// resync's dump sets each port's state and the sweep takes away ports it did not list.
//
// The kernel keeps no count of state changes: the counter counts the notifications that changed
// the state, plus one for a port the resync found in another state than we held (the changes
// inside the gap are unknowable, as for routes): a lower bound across an overrun, exact otherwise.

import { RTM_DELLINK } from '../netlink/constants';
import { bridgePortStateName } from '../netlink/bridge-port';
import type { LinkMessage } from '../netlink/types';
import type { MessageOrigin } from '../session/sink';
import type { LinkRecord } from './links';
import { isQuiet, type EventOutlet } from './outlet';

/** Ports held per namespace (the kernel allows 1024 per bridge, BR_MAX_PORTS): past this, new ports are dropped and counted. */
export const MAX_BRIDGE_PORTS = 4096;

export interface BridgePortRecord {
  /** The port's ifindex: its identity (a rename keeps the record). */
  readonly ifindex: number;
  /** The bridge's ifindex (IFLA_MASTER). */
  readonly bridge: number;
  /** BR_STATE_* (0..4). */
  state: number;
  /** State changes seen since the port joined this bridge (or since start-up). */
  changes: number;
  /** When the record was made (seconds since the epoch): its counter's `_created`. */
  readonly created: number;
  /** During a resync: the dump listed it. */
  seen: boolean;
  /** During a resync: a notification set its state, which the dump's reply may predate. */
  pinned: boolean;
}

/** How the port set finds link names (the links part, link-set.ts). */
export interface LinkNames {
  find(ifindex: number): LinkRecord | undefined;
}

export class BridgePortSet {
  /** Ports by ifindex. */
  readonly ports = new Map<number, BridgePortRecord>();
  /** Ports not held because MAX_BRIDGE_PORTS were (netlink_bridge_ports_dropped_total). */
  dropped = 0;
  private sweeping = false;

  constructor(
    private readonly out: EventOutlet,
    private readonly links: LinkNames,
    private readonly now: () => number,
    private readonly maxPorts = MAX_BRIDGE_PORTS,
  ) {}

  /** An AF_BRIDGE link message. */
  port(m: LinkMessage, origin: MessageOrigin): void {
    if (m.type === RTM_DELLINK) {
      // No longer a port: released, or its link or bridge deleted or moved away.
      this.ports.delete(m.ifindex);
      return;
    }
    // The bridge's own AF_BRIDGE messages (VLAN changes) carry IFLA_MASTER = itself and no port state.
    if (m.bridgePortState === undefined || m.master === undefined || m.master === m.ifindex) return;
    const resyncReply = origin === 'resync-dump' && this.sweeping;
    let record = this.ports.get(m.ifindex);
    if (record !== undefined && record.bridge !== m.master) {
      // Moved to another bridge with its RTM_DELLINK unheard: a new port of that bridge.
      this.ports.delete(m.ifindex);
      record = undefined;
    }
    if (record === undefined) {
      if (this.ports.size >= this.maxPorts) {
        this.dropped++;
        return;
      }
      this.ports.set(m.ifindex, {
        ifindex: m.ifindex,
        bridge: m.master,
        state: m.bridgePortState,
        changes: 0,
        created: this.now(),
        seen: resyncReply,
        pinned: this.sweeping && !resyncReply,
      });
      return;
    }
    if (resyncReply) {
      record.seen = true;
      // A notification during the resync already told us more than this reply may know.
      if (record.pinned) return;
    } else if (this.sweeping) record.pinned = true;
    if (record.state === m.bridgePortState) return;
    const previous = record.state;
    record.state = m.bridgePortState;
    if (isQuiet(origin)) return;
    record.changes++;
    if (this.out.onEvent) {
      this.out.onEvent({
        netns: this.out.netns,
        kind: 'bridge_port',
        action: 'changed',
        interface: this.links.find(record.ifindex)?.name ?? m.name ?? `if${record.ifindex}`,
        ifindex: record.ifindex,
        bridge: this.links.find(record.bridge)?.name ?? `if${record.bridge}`,
        bridgeIfindex: record.bridge,
        state: bridgePortStateName(record.state),
        previousState: bridgePortStateName(previous),
      });
    }
  }

  /** A link was deleted (RTM_DELLINK of the link itself): if it was a port, or a bridge, its ports go. */
  linkGone(ifindex: number): void {
    this.ports.delete(ifindex);
    for (const [port, record] of this.ports) if (record.bridge === ifindex) this.ports.delete(port);
  }

  /** Before a resync dump: no port is seen until the dump lists it. */
  beginSweep(): void {
    for (const record of this.ports.values()) {
      record.seen = false;
      record.pinned = false;
    }
    this.sweeping = true;
  }

  /** After a complete resync dump: the ports it did not list stopped being ports while we were not listening. */
  sweep(): void {
    if (!this.sweeping) return;
    this.sweeping = false;
    for (const [ifindex, record] of this.ports) if (!record.seen && !record.pinned) this.ports.delete(ifindex);
  }
}
