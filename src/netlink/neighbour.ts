// RTM_NEWNEIGH / RTM_DELNEIGH: struct ndmsg + NDA_* attributes.
// The neighbour group also carries bridge FDB entries (family AF_BRIDGE).

import {
  NDA_DST,
  NDA_LLADDR,
  NDA_MASTER,
  NDA_VLAN,
  NDMSG_LEN,
  NDTA_CONFIG,
  NDTA_NAME,
  NDTA_THRESH3,
  NDTMSG_LEN,
} from './constants';
import { AttributeCursor, attrAddress, attrMac, attrString, attrU16, attrU32 } from './attributes';
import { NetlinkDecodeError } from './errors';
import type { MessageHeader, NeighbourMessage, NeighbourTableMessage } from './types';

/** Decodes the payload of a neighbour message ([offset, offset + length) after the nlmsghdr). */
export function decodeNeighbour(buf: Buffer, offset: number, length: number, header: MessageHeader): NeighbourMessage {
  if (length < NDMSG_LEN) {
    throw new NetlinkDecodeError('ndmsg truncated', offset, `payload ${length} bytes, need ${NDMSG_LEN}`);
  }
  // ndmsg: family u8, pad u8, pad u16, ifindex s32, state u16, flags u8, type u8.
  const family = buf[offset]!;
  const m: NeighbourMessage = {
    type: header.type,
    flags: header.flags,
    seq: header.seq,
    pid: header.pid,
    family,
    ifindex: buf.readInt32LE(offset + 4),
    state: buf.readUInt16LE(offset + 8),
    neighbourFlags: buf[offset + 10]!,
    neighbourType: buf[offset + 11]!,
    // Every optional field in the literal: one hidden class for every neighbour message.
    destination: undefined,
    lladdr: undefined,
    vlan: undefined,
    master: undefined,
  };
  const it = new AttributeCursor().reset(buf, offset + NDMSG_LEN, offset + length);
  while (it.next()) {
    const o = it.offset;
    const n = it.length;
    switch (it.type) {
      case NDA_DST:
        // For AF_BRIDGE (VXLAN FDB) the remote's family is told by the length.
        m.destination = attrAddress(family, buf, o, n);
        break;
      case NDA_LLADDR:
        // Absent or empty while INCOMPLETE/FAILED and on NOARP devices.
        if (n > 0) m.lladdr = attrMac(buf, o, n);
        break;
      case NDA_VLAN:
        m.vlan = attrU16(buf, o, n);
        break;
      case NDA_MASTER:
        m.master = attrU32(buf, o, n);
        break;
      default:
        break;
    }
  }
  return m;
}

/** Decodes the payload of RTM_NEWNEIGHTBL: the table's name and gc_thresh3 (per-device parameter messages carry neither). */
export function decodeNeighbourTable(
  buf: Buffer,
  offset: number,
  length: number,
  header: MessageHeader,
): NeighbourTableMessage {
  if (length < NDTMSG_LEN) {
    throw new NetlinkDecodeError('ndtmsg truncated', offset, `payload ${length} bytes, need ${NDTMSG_LEN}`);
  }
  const m: NeighbourTableMessage = {
    type: header.type,
    flags: header.flags,
    seq: header.seq,
    pid: header.pid,
    family: buf[offset]!,
  };
  const it = new AttributeCursor().reset(buf, offset + NDTMSG_LEN, offset + length);
  while (it.next()) {
    if (it.type === NDTA_NAME) m.name = attrString(buf, it.offset, it.length);
    else if (it.type === NDTA_THRESH3) m.thresh3 = attrU32(buf, it.offset, it.length);
    else if (it.type === NDTA_CONFIG) {
      if (it.length < 8) throw new NetlinkDecodeError('NDTA_CONFIG truncated', it.offset, `${it.length} bytes, need 8`);
      m.entries = buf.readUInt32LE(it.offset + 4);
    }
  }
  return m;
}
