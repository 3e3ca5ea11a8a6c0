// RTM_NEWADDR / RTM_DELADDR: struct ifaddrmsg + IFA_* attributes.

import {
  IFADDRMSG_LEN,
  IFA_ADDRESS,
  IFA_BROADCAST,
  IFA_CACHEINFO,
  IFA_FLAGS,
  IFA_LABEL,
  IFA_LOCAL,
  IFA_PROTO,
  MAX_IFNAME_BYTES,
} from './constants';
import { AttributeCursor, attrAddress, attrString, attrU32, attrU8, requireLength, u32le } from './attributes';
import { NetlinkDecodeError } from './errors';
import type { AddressMessage, MessageHeader } from './types';

/** struct ifa_cacheinfo: prefered u32, valid u32, cstamp u32, tstamp u32. */
const IFA_CACHEINFO_LEN = 16;

/**
 * Decodes the payload of an address message ([offset, offset + length) after the nlmsghdr).
 *
 * IPv4: IFA_LOCAL is the address configured on the interface; IFA_ADDRESS equals it,
 * except on point-to-point configs (`ip addr add A peer B`), where IFA_ADDRESS is the peer
 * B. IPv6 sends only IFA_ADDRESS (plus IFA_LOCAL equal to it when a peer is set).
 */
export function decodeAddress(buf: Buffer, offset: number, length: number, header: MessageHeader): AddressMessage {
  if (length < IFADDRMSG_LEN) {
    throw new NetlinkDecodeError('ifaddrmsg truncated', offset, `payload ${length} bytes, need ${IFADDRMSG_LEN}`);
  }
  const family = buf[offset]!;
  const m: AddressMessage = {
    type: header.type,
    flags: header.flags,
    seq: header.seq,
    pid: header.pid,
    family,
    prefixLength: buf[offset + 1]!,
    addressFlags: buf[offset + 2]!,
    scope: buf[offset + 3]!,
    ifindex: u32le(buf, offset + 4),
    // Every optional field in the literal: one hidden class for every address message.
    address: undefined,
    peer: undefined,
    label: undefined,
    broadcast: undefined,
    preferredLifetime: undefined,
    validLifetime: undefined,
    protocol: undefined,
  };
  let local: string | undefined;
  const it = new AttributeCursor().reset(buf, offset + IFADDRMSG_LEN, offset + length);
  while (it.next()) {
    const o = it.offset;
    const n = it.length;
    switch (it.type) {
      case IFA_ADDRESS:
        m.address = attrAddress(family, buf, o, n);
        break;
      case IFA_LOCAL:
        local = attrAddress(family, buf, o, n);
        break;
      case IFA_LABEL:
        m.label = attrString(buf, o, n, MAX_IFNAME_BYTES, 'IFA_LABEL'); // ifa_ipv4_policy: IFNAMSIZ - 1
        break;
      case IFA_BROADCAST:
        m.broadcast = attrAddress(family, buf, o, n);
        break;
      case IFA_FLAGS:
        // The u32 superset of the 8-bit ifa_flags (IFA_F_NOPREFIXROUTE and up live only here).
        m.addressFlags = attrU32(buf, o, n);
        break;
      case IFA_CACHEINFO:
        requireLength(o, n, IFA_CACHEINFO_LEN);
        m.preferredLifetime = buf.readUInt32LE(o);
        m.validLifetime = buf.readUInt32LE(o + 4);
        break;
      case IFA_PROTO:
        m.protocol = attrU8(buf, o, n);
        break;
      default:
        break;
    }
  }
  if (local !== undefined) {
    // Comparing the formatted text equals comparing the bytes: formatting is canonical.
    if (m.address !== undefined && m.address !== local) m.peer = m.address;
    m.address = local;
  }
  return m;
}
