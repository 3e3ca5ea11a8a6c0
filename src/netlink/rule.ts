// RTM_NEWRULE / RTM_DELRULE: struct fib_rule_hdr + FRA_* attributes (linux/fib_rules.h).

import {
  AF_INET,
  AF_INET6,
  FIB_RULE_HDR_LEN,
  FIB_RULE_INVERT,
  FR_ACT_BLACKHOLE,
  FR_ACT_GOTO,
  FR_ACT_NOP,
  FR_ACT_PROHIBIT,
  FR_ACT_TO_TBL,
  FR_ACT_UNREACHABLE,
  FRA_DPORT_RANGE,
  FRA_DST,
  FRA_FWMARK,
  FRA_FWMASK,
  FRA_GOTO,
  FRA_IIFNAME,
  FRA_IP_PROTO,
  FRA_L3MDEV,
  FRA_OIFNAME,
  FRA_PRIORITY,
  FRA_PROTOCOL,
  FRA_SPORT_RANGE,
  FRA_SRC,
  FRA_SUPPRESS_PREFIXLEN,
  FRA_TABLE,
  MAX_IFNAME_BYTES,
  RTPROT_KERNEL,
} from './constants';
import { protocolName, tableName } from './format';
import { AttributeCursor, attrAddress, attrString, attrU32, attrU8, requireLength } from './attributes';
import { NetlinkDecodeError } from './errors';
import type { MessageHeader, RuleMessage } from './types';

/** struct fib_rule_port_range: start u16, end u16. */
function portRange(buf: Buffer, offset: number, length: number): [number, number] {
  requireLength(offset, length, 4);
  return [buf.readUInt16LE(offset), buf.readUInt16LE(offset + 2)];
}

/** Decodes the payload of a rule message ([offset, offset + length) after the nlmsghdr). */
export function decodeRule(buf: Buffer, offset: number, length: number, header: MessageHeader): RuleMessage {
  if (length < FIB_RULE_HDR_LEN) {
    throw new NetlinkDecodeError('fib_rule_hdr truncated', offset, `payload ${length} bytes, need ${FIB_RULE_HDR_LEN}`);
  }
  const family = buf[offset]!;
  const m: RuleMessage = {
    type: header.type,
    flags: header.flags,
    seq: header.seq,
    pid: header.pid,
    family,
    dstLength: buf[offset + 1]!,
    srcLength: buf[offset + 2]!,
    tos: buf[offset + 3]!,
    table: buf[offset + 4]!,
    action: buf[offset + 7]!,
    ruleFlags: buf.readUInt32LE(offset + 8),
    priority: 0,
    // Every optional field in the literal: one hidden class for every rule message.
    dst: undefined,
    src: undefined,
    iifName: undefined,
    oifName: undefined,
    fwmark: undefined,
    fwmask: undefined,
    goto: undefined,
    suppressPrefixLength: undefined,
    l3mdev: undefined,
    protocol: undefined,
    ipProto: undefined,
    sportRange: undefined,
    dportRange: undefined,
  };
  const it = new AttributeCursor().reset(buf, offset + FIB_RULE_HDR_LEN, offset + length);
  while (it.next()) {
    const o = it.offset;
    const n = it.length;
    switch (it.type) {
      case FRA_DST:
        m.dst = attrAddress(family, buf, o, n);
        break;
      case FRA_SRC:
        m.src = attrAddress(family, buf, o, n);
        break;
      case FRA_IIFNAME:
        m.iifName = attrString(buf, o, n, MAX_IFNAME_BYTES, 'FRA_IIFNAME');
        break;
      case FRA_OIFNAME:
        m.oifName = attrString(buf, o, n, MAX_IFNAME_BYTES, 'FRA_OIFNAME');
        break;
      case FRA_PRIORITY:
        m.priority = attrU32(buf, o, n);
        break;
      case FRA_FWMARK:
        m.fwmark = attrU32(buf, o, n);
        break;
      case FRA_FWMASK:
        m.fwmask = attrU32(buf, o, n);
        break;
      case FRA_TABLE:
        m.table = attrU32(buf, o, n); // overrides the 8-bit table of the header
        break;
      case FRA_GOTO:
        m.goto = attrU32(buf, o, n);
        break;
      case FRA_SUPPRESS_PREFIXLEN:
        m.suppressPrefixLength = attrU32(buf, o, n);
        break;
      case FRA_L3MDEV:
        m.l3mdev = attrU8(buf, o, n);
        break;
      case FRA_PROTOCOL:
        m.protocol = attrU8(buf, o, n);
        break;
      case FRA_IP_PROTO:
        m.ipProto = attrU8(buf, o, n);
        break;
      case FRA_SPORT_RANGE:
        m.sportRange = portRange(buf, o, n);
        break;
      case FRA_DPORT_RANGE:
        m.dportRange = portRange(buf, o, n);
        break;
      default:
        break;
    }
  }
  return m;
}

const HOST_LENGTH: Readonly<Record<number, number>> = { [AF_INET]: 32, [AF_INET6]: 128 };
const IP_PROTO_NAMES: Readonly<Record<number, string>> = {
  1: 'icmp',
  6: 'tcp',
  17: 'udp',
  58: 'ipv6-icmp',
  132: 'sctp',
};
const ACTION_NAMES: Readonly<Record<number, string>> = {
  [FR_ACT_BLACKHOLE]: 'blackhole',
  [FR_ACT_UNREACHABLE]: 'unreachable',
  [FR_ACT_PROHIBIT]: 'prohibit',
};

function prefix(address: string | undefined, length: number, family: number): string | undefined {
  if (address === undefined) return length !== 0 ? `0/${length}` : undefined;
  return length === HOST_LENGTH[family] ? address : `${address}/${length}`;
}

function ports(range: [number, number]): string {
  return range[0] === range[1] ? String(range[0]) : `${range[0]}-${range[1]}`;
}

/**
 * The rule as `ip rule` prints it (iproute2's print_rule, one space where it prints a tab):
 * `32765: from 10.1.0.0/16 iif veth0 lookup 100`. Every selector the codec reads is in it, so
 * two rules the kernel tells apart by those have different text.
 */
export function ruleText(m: RuleMessage): string {
  let t = `${m.priority}: `;
  if ((m.ruleFlags & FIB_RULE_INVERT) !== 0) t += 'not ';
  t += `from ${prefix(m.src, m.srcLength, m.family) ?? 'all'}`;
  const to = prefix(m.dst, m.dstLength, m.family);
  if (to !== undefined) t += ` to ${to}`;
  if (m.tos !== 0) t += ` tos 0x${m.tos.toString(16).padStart(2, '0')}`;
  if (m.fwmark !== undefined || m.fwmask !== undefined) {
    const mark = m.fwmark ?? 0;
    const mask = m.fwmask ?? 0xffffffff;
    t += ` fwmark 0x${mark.toString(16)}${mask !== 0xffffffff ? `/0x${mask.toString(16)}` : ''}`;
  }
  if (m.iifName !== undefined) t += ` iif ${m.iifName}`;
  if (m.oifName !== undefined) t += ` oif ${m.oifName}`;
  if (m.l3mdev) t += ' lookup [l3mdev-table]';
  if (m.ipProto !== undefined) t += ` ipproto ${IP_PROTO_NAMES[m.ipProto] ?? m.ipProto}`;
  if (m.sportRange !== undefined) t += ` sport ${ports(m.sportRange)}`;
  if (m.dportRange !== undefined) t += ` dport ${ports(m.dportRange)}`;
  if (m.table !== 0) {
    t += ` lookup ${tableName(m.table)}`;
    // 0xffffffff (-1) is the kernel's "not set".
    if (m.suppressPrefixLength !== undefined && m.suppressPrefixLength !== 0xffffffff)
      t += ` suppress_prefixlength ${m.suppressPrefixLength}`;
  }
  if (m.action === FR_ACT_GOTO) t += ` goto ${m.goto ?? 'none'}`;
  else if (m.action === FR_ACT_NOP) t += ' nop';
  else if (m.action !== FR_ACT_TO_TBL) t += ` ${ACTION_NAMES[m.action] ?? `action ${m.action}`}`;
  if (m.protocol !== undefined && m.protocol !== 0 && m.protocol !== RTPROT_KERNEL)
    t += ` proto ${protocolName(m.protocol)}`;
  return t;
}
