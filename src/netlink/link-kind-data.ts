// The kind-specific data of bond and VRF link messages: IFLA_LINKINFO -> IFLA_INFO_DATA of a
// bond or a VRF, and IFLA_INFO_SLAVE_DATA of a bond's slave or a VRF's port (linux/if_link.h).
//
// The kernel on the machines this was written on has neither driver: the decoder is tested
// from synthetic fixtures built from the UAPI layout (test/fixtures/bonds/), not from bytes
// a kernel sent. The widths are those bond_netlink.c and vrf.c put: MODE u8, ACTIVE_SLAVE u32,
// MIIMON u32, AD_INFO a nest of u16s and a 6-byte MAC, AD_ACTOR_SYSTEM 6 bytes; on a slave
// STATE u8, MII_STATUS u8, LINK_FAILURE_COUNT u32, PERM_HWADDR the device's address, QUEUE_ID
// u16, AD_AGGREGATOR_ID u16, AD_ACTOR_OPER_PORT_STATE u8, AD_PARTNER_OPER_PORT_STATE u16;
// IFLA_VRF_TABLE and IFLA_VRF_PORT_TABLE u32.
//
// Everything is width-checked and bounded: a short attribute, a bad nested length or an
// address longer than the kernel allows is a NetlinkDecodeError, so the message is a counted
// decode error (netlink_decode_errors_total), never a crash and never a half-read value.

import { attrMac, attrU16, attrU32, attrU8, AttributeCursor } from './attributes';
import { NetlinkDecodeError } from './errors';
import type { BondAdInfo, BondInfo, BondSlaveInfo, LinkMessage } from './types';

// linux/if_link.h, enum IFLA_BOND_*.
export const IFLA_BOND_MODE = 1;
export const IFLA_BOND_ACTIVE_SLAVE = 2;
export const IFLA_BOND_MIIMON = 3;
export const IFLA_BOND_AD_INFO = 23;
export const IFLA_BOND_AD_ACTOR_SYSTEM = 26;
// enum IFLA_BOND_AD_INFO_*.
export const IFLA_BOND_AD_INFO_AGGREGATOR = 1;
export const IFLA_BOND_AD_INFO_NUM_PORTS = 2;
export const IFLA_BOND_AD_INFO_ACTOR_KEY = 3;
export const IFLA_BOND_AD_INFO_PARTNER_KEY = 4;
export const IFLA_BOND_AD_INFO_PARTNER_MAC = 5;
// enum IFLA_BOND_SLAVE_*.
export const IFLA_BOND_SLAVE_STATE = 1;
export const IFLA_BOND_SLAVE_MII_STATUS = 2;
export const IFLA_BOND_SLAVE_LINK_FAILURE_COUNT = 3;
export const IFLA_BOND_SLAVE_PERM_HWADDR = 4;
export const IFLA_BOND_SLAVE_QUEUE_ID = 5;
export const IFLA_BOND_SLAVE_AD_AGGREGATOR_ID = 6;
export const IFLA_BOND_SLAVE_AD_ACTOR_OPER_PORT_STATE = 7;
export const IFLA_BOND_SLAVE_AD_PARTNER_OPER_PORT_STATE = 8;
// enum IFLA_VRF_* and IFLA_VRF_PORT_*.
export const IFLA_VRF_TABLE = 1;
export const IFLA_VRF_PORT_TABLE = 1;

/** ETH_ALEN: LACP system and partner MACs. */
const ETH_ALEN = 6;
/** MAX_ADDR_LEN (linux/netdevice.h): no device address is longer. */
export const MAX_HWADDR_BYTES = 32;

// linux/if_bonding.h.
export const BOND_MODE_8023AD = 4;
/** BOND_MODE_* names as iproute2 prints them (ip/iplink_bond.c), by mode number. */
export const BOND_MODE_NAMES: readonly string[] = [
  'balance-rr',
  'active-backup',
  'balance-xor',
  'broadcast',
  '802.3ad',
  'balance-tlb',
  'balance-alb',
];
/** BOND_LINK_UP: the slave's MII status is up. */
export const BOND_LINK_UP = 0;
/** BOND_LINK_* names as iproute2 prints them, by value: UP, GOING_DOWN (in downdelay), DOWN, GOING_BACK (in updelay). */
export const BOND_MII_NAMES: readonly string[] = ['up', 'going_down', 'down', 'going_back'];
/** BOND_STATE_ACTIVE. */
export const BOND_STATE_ACTIVE = 0;

/** A bond mode as a label value: iproute2's name, else the number. */
export function bondModeName(mode: number | undefined): string {
  return mode === undefined ? '' : (BOND_MODE_NAMES[mode] ?? String(mode));
}

/** A MII status as text: iproute2's name in lower case, else the number. */
export function bondMiiName(status: number | undefined): string {
  return status === undefined ? 'unknown' : (BOND_MII_NAMES[status] ?? String(status));
}

/**
 * Reads the kind-specific data of IFLA_LINKINFO into `m`, once the whole nest was walked (the
 * kernel puts IFLA_INFO_KIND before IFLA_INFO_DATA, but nothing here relies on it). `data` and
 * `slaveData` are [offset, length] of IFLA_INFO_DATA and IFLA_INFO_SLAVE_DATA, or -1 offsets.
 */
export function decodeKindData(
  buf: Buffer,
  m: LinkMessage,
  dataOffset: number,
  dataLength: number,
  slaveOffset: number,
  slaveLength: number,
): void {
  if (dataOffset >= 0) {
    if (m.kind === 'bond') m.bond = decodeBond(buf, dataOffset, dataLength);
    else if (m.kind === 'vrf') m.vrfTable = decodeOneU32(buf, dataOffset, dataLength, IFLA_VRF_TABLE);
  }
  if (slaveOffset >= 0) {
    if (m.slaveKind === 'bond') m.bondSlave = decodeBondSlave(buf, slaveOffset, slaveLength);
    else if (m.slaveKind === 'vrf') m.vrfPortTable = decodeOneU32(buf, slaveOffset, slaveLength, IFLA_VRF_PORT_TABLE);
  }
}

function decodeBond(buf: Buffer, offset: number, length: number): BondInfo {
  const b: BondInfo = {
    mode: undefined,
    activeSlave: undefined,
    miimon: undefined,
    ad: undefined,
    adActorSystem: undefined,
  };
  const it = new AttributeCursor().reset(buf, offset, offset + length);
  while (it.next()) {
    const o = it.offset;
    const n = it.length;
    switch (it.type) {
      case IFLA_BOND_MODE:
        b.mode = attrU8(buf, o, n);
        break;
      case IFLA_BOND_ACTIVE_SLAVE:
        b.activeSlave = attrU32(buf, o, n);
        break;
      case IFLA_BOND_MIIMON:
        b.miimon = attrU32(buf, o, n);
        break;
      case IFLA_BOND_AD_INFO:
        b.ad = decodeAdInfo(buf, o, n);
        break;
      case IFLA_BOND_AD_ACTOR_SYSTEM:
        b.adActorSystem = mac(buf, o, n, 'IFLA_BOND_AD_ACTOR_SYSTEM');
        break;
      default:
        break;
    }
  }
  return b;
}

function decodeAdInfo(buf: Buffer, offset: number, length: number): BondAdInfo {
  const ad: BondAdInfo = {
    aggregator: undefined,
    numPorts: undefined,
    actorKey: undefined,
    partnerKey: undefined,
    partnerMac: undefined,
  };
  const it = new AttributeCursor().reset(buf, offset, offset + length);
  while (it.next()) {
    const o = it.offset;
    const n = it.length;
    switch (it.type) {
      case IFLA_BOND_AD_INFO_AGGREGATOR:
        ad.aggregator = attrU16(buf, o, n);
        break;
      case IFLA_BOND_AD_INFO_NUM_PORTS:
        ad.numPorts = attrU16(buf, o, n);
        break;
      case IFLA_BOND_AD_INFO_ACTOR_KEY:
        ad.actorKey = attrU16(buf, o, n);
        break;
      case IFLA_BOND_AD_INFO_PARTNER_KEY:
        ad.partnerKey = attrU16(buf, o, n);
        break;
      case IFLA_BOND_AD_INFO_PARTNER_MAC:
        ad.partnerMac = mac(buf, o, n, 'IFLA_BOND_AD_INFO_PARTNER_MAC');
        break;
      default:
        break;
    }
  }
  return ad;
}

function decodeBondSlave(buf: Buffer, offset: number, length: number): BondSlaveInfo {
  const s: BondSlaveInfo = {
    state: undefined,
    miiStatus: undefined,
    linkFailureCount: undefined,
    permHwaddr: undefined,
    queueId: undefined,
    adAggregatorId: undefined,
    adActorOperPortState: undefined,
    adPartnerOperPortState: undefined,
  };
  const it = new AttributeCursor().reset(buf, offset, offset + length);
  while (it.next()) {
    const o = it.offset;
    const n = it.length;
    switch (it.type) {
      case IFLA_BOND_SLAVE_STATE:
        s.state = attrU8(buf, o, n);
        break;
      case IFLA_BOND_SLAVE_MII_STATUS:
        s.miiStatus = attrU8(buf, o, n);
        break;
      case IFLA_BOND_SLAVE_LINK_FAILURE_COUNT:
        s.linkFailureCount = attrU32(buf, o, n);
        break;
      case IFLA_BOND_SLAVE_PERM_HWADDR:
        if (n > MAX_HWADDR_BYTES)
          throw new NetlinkDecodeError(
            'IFLA_BOND_SLAVE_PERM_HWADDR too long',
            o,
            `${n} bytes, at most ${MAX_HWADDR_BYTES}`,
          );
        if (n > 0) s.permHwaddr = attrMac(buf, o, n);
        break;
      case IFLA_BOND_SLAVE_QUEUE_ID:
        s.queueId = attrU16(buf, o, n);
        break;
      case IFLA_BOND_SLAVE_AD_AGGREGATOR_ID:
        s.adAggregatorId = attrU16(buf, o, n);
        break;
      case IFLA_BOND_SLAVE_AD_ACTOR_OPER_PORT_STATE:
        s.adActorOperPortState = attrU8(buf, o, n);
        break;
      case IFLA_BOND_SLAVE_AD_PARTNER_OPER_PORT_STATE:
        s.adPartnerOperPortState = attrU16(buf, o, n);
        break;
      default:
        break;
    }
  }
  return s;
}

/** The one u32 attribute of type `type` in a nest (IFLA_VRF_TABLE, IFLA_VRF_PORT_TABLE); undefined when absent. */
function decodeOneU32(buf: Buffer, offset: number, length: number, type: number): number | undefined {
  let value: number | undefined;
  const it = new AttributeCursor().reset(buf, offset, offset + length);
  while (it.next()) if (it.type === type) value = attrU32(buf, it.offset, it.length);
  return value;
}

/** An Ethernet MAC (exactly ETH_ALEN bytes are read; fewer is a decode error). */
function mac(buf: Buffer, offset: number, length: number, field: string): string {
  if (length < ETH_ALEN)
    throw new NetlinkDecodeError(`${field} too short`, offset, `payload ${length} bytes, need ${ETH_ALEN}`);
  return attrMac(buf, offset, ETH_ALEN);
}
