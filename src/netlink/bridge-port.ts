// The bridge-port part of an AF_BRIDGE link message (RTM_NEWLINK / RTM_DELLINK with ifi_family
// AF_BRIDGE, as the bridge sends them for its ports: br_ifinfo_notify, rtnl_bridge_getlink):
// IFLA_PROTINFO nests the port's IFLA_BRPORT_* attributes (NLA_F_NESTED set since Linux 5.2,
// absent before: the cursor masks it either way). Only IFLA_BRPORT_STATE is read.

import { BRIDGE_PORT_STATE_NAMES, IFLA_BRPORT_STATE } from './constants';
import { AttributeCursor, attrU8 } from './attributes';
import { NetlinkDecodeError } from './errors';

/** A BR_STATE_* name (`disabled`, `listening`, `learning`, `forwarding`, `blocking`). */
export type BridgePortStateName = (typeof BRIDGE_PORT_STATE_NAMES)[number];

/**
 * IFLA_BRPORT_STATE of an IFLA_PROTINFO payload at [offset, offset + length): BR_STATE_* (0..4),
 * or undefined when absent. A value the kernel never sends (above BR_STATE_BLOCKING) is a decode
 * error: the message is refused and counted, not modelled with a state no one can name.
 */
export function decodeBridgePortState(buf: Buffer, offset: number, length: number): number | undefined {
  const it = new AttributeCursor().reset(buf, offset, offset + length);
  let state: number | undefined;
  while (it.next()) {
    if (it.type !== IFLA_BRPORT_STATE) continue;
    state = attrU8(buf, it.offset, it.length);
    if (state >= BRIDGE_PORT_STATE_NAMES.length)
      throw new NetlinkDecodeError('IFLA_BRPORT_STATE out of range', it.offset, `value ${state}`);
  }
  return state;
}

/** The BR_STATE_* name of a state number the codec accepted (0..4). */
export function bridgePortStateName(state: number): BridgePortStateName {
  return BRIDGE_PORT_STATE_NAMES[state] ?? 'disabled';
}
