// RTM_NEWLINK / RTM_DELLINK: struct ifinfomsg + IFLA_* attributes.

import {
  AF_BRIDGE,
  IFINFOMSG_LEN,
  IFLA_ADDRESS,
  IFLA_ALT_IFNAME,
  IFLA_CARRIER,
  IFLA_CARRIER_CHANGES,
  IFLA_CARRIER_DOWN_COUNT,
  IFLA_CARRIER_UP_COUNT,
  IFLA_IFALIAS,
  IFLA_IFNAME,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_INFO_SLAVE_DATA,
  IFLA_INFO_SLAVE_KIND,
  IFLA_LINK,
  IFLA_LINKINFO,
  IFLA_LINK_NETNSID,
  IFLA_MASTER,
  IFLA_MTU,
  IFLA_OPERSTATE,
  IFLA_PROP_LIST,
  IFLA_PROTINFO,
  IFLA_PROTO_DOWN,
  IFLA_VXLAN_LINK,
  MAX_ALTIFNAME_BYTES,
  MAX_IFALIAS_BYTES,
  MAX_IFNAME_BYTES,
  MAX_LINK_KIND_BYTES,
} from './constants';
import { AttributeCursor, attrMac, attrS32, attrString, attrU32, attrU8, s32le, u16le, u32le } from './attributes';
import { decodeBridgePortState } from './bridge-port';
import { NetlinkDecodeError } from './errors';
import { decodeKindData } from './link-kind-data';
import type { LinkMessage, MessageHeader } from './types';

/**
 * Strings the kernel bounds (names, alias, alternative names, kinds) are bounded here too: a
 * longer one is a decode error and the message is refused (counted, skipped).
 *
 * Decodes the payload of a link message: [offset, offset + length) is everything after
 * the nlmsghdr. The ifinfomsg must be at least 16 bytes; attributes follow it.
 */
export function decodeLink(buf: Buffer, offset: number, length: number, header: MessageHeader): LinkMessage {
  if (length < IFINFOMSG_LEN) {
    throw new NetlinkDecodeError('ifinfomsg truncated', offset, `payload ${length} bytes, need ${IFINFOMSG_LEN}`);
  }
  const m: LinkMessage = {
    type: header.type,
    flags: header.flags,
    seq: header.seq,
    pid: header.pid,
    family: buf[offset]!,
    deviceType: u16le(buf, offset + 2),
    ifindex: s32le(buf, offset + 4),
    ifFlags: u32le(buf, offset + 8),
    change: u32le(buf, offset + 12),
    // Every optional field in the literal: one hidden class for every link message (types.ts).
    name: undefined,
    mtu: undefined,
    operstate: undefined,
    carrier: undefined,
    carrierChanges: undefined,
    carrierUpCount: undefined,
    carrierDownCount: undefined,
    mac: undefined,
    kind: undefined,
    slaveKind: undefined,
    master: undefined,
    link: undefined,
    linkNetnsid: undefined,
    vxlanLink: undefined,
    alias: undefined,
    altNames: undefined,
    protoDown: undefined,
    bond: undefined,
    bondSlave: undefined,
    vrfTable: undefined,
    vrfPortTable: undefined,
    bridgePortState: undefined,
  };
  const it = new AttributeCursor().reset(buf, offset + IFINFOMSG_LEN, offset + length);
  while (it.next()) {
    const o = it.offset;
    const n = it.length;
    switch (it.type) {
      case IFLA_IFNAME:
        m.name = attrString(buf, o, n, MAX_IFNAME_BYTES, 'IFLA_IFNAME');
        break;
      case IFLA_MTU:
        m.mtu = attrU32(buf, o, n);
        break;
      case IFLA_OPERSTATE:
        m.operstate = attrU8(buf, o, n);
        break;
      case IFLA_CARRIER:
        m.carrier = attrU8(buf, o, n);
        break;
      case IFLA_CARRIER_CHANGES:
        m.carrierChanges = attrU32(buf, o, n);
        break;
      case IFLA_CARRIER_UP_COUNT:
        m.carrierUpCount = attrU32(buf, o, n);
        break;
      case IFLA_CARRIER_DOWN_COUNT:
        m.carrierDownCount = attrU32(buf, o, n);
        break;
      case IFLA_ADDRESS:
        // Devices without a hardware address (tun, wireguard) send none or an empty one.
        if (n > 0) m.mac = attrMac(buf, o, n);
        break;
      case IFLA_MASTER:
        m.master = attrU32(buf, o, n);
        break;
      case IFLA_LINK:
        m.link = attrS32(buf, o, n);
        break;
      case IFLA_LINK_NETNSID:
        m.linkNetnsid = attrS32(buf, o, n);
        break;
      case IFLA_IFALIAS:
        m.alias = attrString(buf, o, n, MAX_IFALIAS_BYTES, 'IFLA_IFALIAS');
        break;
      case IFLA_PROTO_DOWN:
        m.protoDown = attrU8(buf, o, n);
        break;
      case IFLA_LINKINFO:
        decodeLinkInfo(buf, o, n, m);
        break;
      case IFLA_PROP_LIST:
        decodePropList(buf, o, n, m);
        break;
      case IFLA_PROTINFO:
        // Per family: a bridge port's IFLA_BRPORT_* only in AF_BRIDGE messages (bridge-port.ts).
        if (m.family === AF_BRIDGE) m.bridgePortState = decodeBridgePortState(buf, o, n);
        break;
      default:
        // Unknown or not needed (stats, qdisc, xdp, ...): skipped.
        break;
    }
  }
  return m;
}

/**
 * IFLA_LINKINFO nests IFLA_INFO_KIND ("veth") and IFLA_INFO_SLAVE_KIND ("bridge"), and the
 * kind's data: a bond's or a VRF's, and a bond slave's or a VRF port's (link-kind-data.ts); a
 * vxlan's lower device.
 */
function decodeLinkInfo(buf: Buffer, offset: number, length: number, m: LinkMessage): void {
  const it = new AttributeCursor().reset(buf, offset, offset + length);
  let data = -1;
  let dataLength = 0;
  let slaveData = -1;
  let slaveDataLength = 0;
  while (it.next()) {
    if (it.type === IFLA_INFO_KIND)
      m.kind = attrString(buf, it.offset, it.length, MAX_LINK_KIND_BYTES, 'IFLA_INFO_KIND');
    else if (it.type === IFLA_INFO_SLAVE_KIND)
      m.slaveKind = attrString(buf, it.offset, it.length, MAX_LINK_KIND_BYTES, 'IFLA_INFO_SLAVE_KIND');
    else if (it.type === IFLA_INFO_DATA) {
      data = it.offset;
      dataLength = it.length;
    } else if (it.type === IFLA_INFO_SLAVE_DATA) {
      slaveData = it.offset;
      slaveDataLength = it.length;
    }
  }
  if (data >= 0 && m.kind === 'vxlan') decodeVxlanData(buf, data, dataLength, m);
  else if (data >= 0 || slaveData >= 0) decodeKindData(buf, m, data, dataLength, slaveData, slaveDataLength);
}

/** A vxlan's IFLA_INFO_DATA: only its lower device (IFLA_VXLAN_LINK), its parent. */
function decodeVxlanData(buf: Buffer, offset: number, length: number, m: LinkMessage): void {
  const it = new AttributeCursor().reset(buf, offset, offset + length);
  while (it.next()) if (it.type === IFLA_VXLAN_LINK) m.vxlanLink = attrU32(buf, it.offset, it.length);
}

/** IFLA_PROP_LIST nests one IFLA_ALT_IFNAME per alternative name, in kernel order. */
function decodePropList(buf: Buffer, offset: number, length: number, m: LinkMessage): void {
  const it = new AttributeCursor().reset(buf, offset, offset + length);
  while (it.next()) {
    if (it.type === IFLA_ALT_IFNAME)
      (m.altNames ??= []).push(attrString(buf, it.offset, it.length, MAX_ALTIFNAME_BYTES, 'IFLA_ALT_IFNAME'));
  }
}
