// RTM_NEWNETCONF / RTM_DELNETCONF: struct netconfmsg (one byte, ncm_family) + NETCONFA_*
// attributes (linux/netconf.h): one interface's (or the namespace-wide "all" / "default")
// settings of one family, as `ip monitor netconf` prints them.
//
// The kernel sends every attribute its family has when an entry appears (an interface
// registered, a dump reply) and only the attribute that changed on a sysctl write; an
// RTM_DELNETCONF carries the ifindex alone. Absent attributes stay undefined.

import {
  NETCONFA_BC_FORWARDING,
  NETCONFA_FORWARDING,
  NETCONFA_IFINDEX,
  NETCONFA_IGNORE_ROUTES_WITH_LINKDOWN,
  NETCONFA_INPUT,
  NETCONFA_MC_FORWARDING,
  NETCONFA_PROXY_NEIGH,
  NETCONFA_RP_FILTER,
  NETCONFMSG_LEN,
} from './constants';
import { align4, AttributeCursor, attrS32 } from './attributes';
import { NetlinkDecodeError } from './errors';
import type { MessageHeader, NetconfMessage } from './types';

/** Decodes the payload of a netconf message ([offset, offset + length) after the nlmsghdr). */
export function decodeNetconf(buf: Buffer, offset: number, length: number, header: MessageHeader): NetconfMessage {
  if (length < NETCONFMSG_LEN) {
    throw new NetlinkDecodeError('netconfmsg truncated', offset, `payload ${length} bytes, need ${NETCONFMSG_LEN}`);
  }
  const m: NetconfMessage = {
    type: header.type,
    flags: header.flags,
    seq: header.seq,
    pid: header.pid,
    family: buf[offset]!,
    // Every optional field in the literal: one hidden class for every netconf message.
    ifindex: undefined,
    forwarding: undefined,
    rpFilter: undefined,
    mcForwarding: undefined,
    proxyNeigh: undefined,
    ignoreRoutesWithLinkdown: undefined,
    input: undefined,
    bcForwarding: undefined,
  };
  // The attributes start at NLMSG_ALIGN(sizeof(struct netconfmsg)).
  const start = offset + Math.min(align4(NETCONFMSG_LEN), length);
  const it = new AttributeCursor().reset(buf, start, offset + length);
  while (it.next()) {
    const o = it.offset;
    const n = it.length;
    switch (it.type) {
      case NETCONFA_IFINDEX:
        m.ifindex = attrS32(buf, o, n);
        break;
      case NETCONFA_FORWARDING:
        m.forwarding = attrS32(buf, o, n);
        break;
      case NETCONFA_RP_FILTER:
        m.rpFilter = attrS32(buf, o, n);
        break;
      case NETCONFA_MC_FORWARDING:
        m.mcForwarding = attrS32(buf, o, n);
        break;
      case NETCONFA_PROXY_NEIGH:
        m.proxyNeigh = attrS32(buf, o, n);
        break;
      case NETCONFA_IGNORE_ROUTES_WITH_LINKDOWN:
        m.ignoreRoutesWithLinkdown = attrS32(buf, o, n);
        break;
      case NETCONFA_INPUT:
        m.input = attrS32(buf, o, n);
        break;
      case NETCONFA_BC_FORWARDING:
        m.bcForwarding = attrS32(buf, o, n);
        break;
      default:
        break;
    }
  }
  return m;
}
