// RTM_NEWNEXTHOP / RTM_DELNEXTHOP: struct nhmsg + NHA_* attributes.

import { NHA_BLACKHOLE, NHA_FDB, NHA_GATEWAY, NHA_GROUP, NHA_ID, NHA_OIF, NHMSG_LEN } from './constants';
import { AttributeCursor, attrAddress, attrU32 } from './attributes';
import { NetlinkDecodeError } from './errors';
import type { MessageHeader, NexthopMessage } from './types';

/** struct nexthop_grp: id u32, weight u8, resvd1 u8, resvd2 u16. */
const NEXTHOP_GRP_LEN = 8;

/** Decodes the payload of a nexthop message ([offset, offset + length) after the nlmsghdr). */
export function decodeNexthop(buf: Buffer, offset: number, length: number, header: MessageHeader): NexthopMessage {
  if (length < NHMSG_LEN) {
    throw new NetlinkDecodeError('nhmsg truncated', offset, `payload ${length} bytes, need ${NHMSG_LEN}`);
  }
  // nhmsg: family u8, scope u8, protocol u8, resvd u8, flags u32 (RTNH_F_*).
  const family = buf[offset]!;
  const m: NexthopMessage = {
    type: header.type,
    flags: header.flags,
    seq: header.seq,
    pid: header.pid,
    family,
    scope: buf[offset + 1]!,
    protocol: buf[offset + 2]!,
    nexthopFlags: buf.readUInt32LE(offset + 4),
    id: 0,
    // Every optional field in the literal: one hidden class for every nexthop message.
    oif: undefined,
    gateway: undefined,
    blackhole: false,
    group: undefined,
    groupWeights: undefined,
    fdb: false,
  };
  const it = new AttributeCursor().reset(buf, offset + NHMSG_LEN, offset + length);
  while (it.next()) {
    const o = it.offset;
    const n = it.length;
    switch (it.type) {
      case NHA_ID:
        m.id = attrU32(buf, o, n);
        break;
      case NHA_OIF:
        m.oif = attrU32(buf, o, n);
        break;
      case NHA_GATEWAY:
        m.gateway = attrAddress(family, buf, o, n);
        break;
      case NHA_BLACKHOLE:
        m.blackhole = true; // a flag attribute: present means true, no payload
        break;
      case NHA_FDB:
        m.fdb = true;
        break;
      case NHA_GROUP: {
        if (n % NEXTHOP_GRP_LEN !== 0) {
          throw new NetlinkDecodeError('bad NHA_GROUP length', o, `${n} bytes is not a multiple of ${NEXTHOP_GRP_LEN}`);
        }
        // A group's size is bounded by the attribute (at most 64 KiB / 8 entries).
        const ids: number[] = [];
        const weights: number[] = [];
        for (let p = o; p < o + n; p += NEXTHOP_GRP_LEN) {
          ids.push(buf.readUInt32LE(p));
          weights.push(buf[p + 4]! + 1); // the kernel stores weight - 1 (nexthop_grp.weight)
        }
        m.group = ids;
        m.groupWeights = weights;
        break;
      }
      default:
        break;
    }
  }
  return m;
}
