// Addresses per (ifindex, family, address, prefix length): the identity of a real add/remove
// transition. IPv6 re-sends RTM_NEWADDR on DAD and lifetime changes; those are updates.

import {
  IFA_F_DADFAILED,
  IFA_F_DEPRECATED,
  IFA_F_HOMEADDRESS,
  IFA_F_NODAD,
  IFA_F_OPTIMISTIC,
  IFA_F_PERMANENT,
  IFA_F_SECONDARY,
  IFA_F_TENTATIVE,
} from '../netlink/constants';
import { familyName, type FamilyName } from '../netlink/family';
import type { AddressMessage } from '../netlink/types';
import { applyLifetimes, NO_DEADLINE } from './address-lifetimes';

export interface AddressRecord {
  ifindex: number;
  family: FamilyName;
  address: string;
  prefixLength: number;
  scope: number;
  flags: number;
  /** Unix seconds when the valid lifetime ends (the address goes), NO_DEADLINE when infinite. */
  validUntil: number;
  /** Unix seconds when the preferred lifetime ends (the address is deprecated), NO_DEADLINE when infinite. */
  preferredUntil: number;
  /** Set by a resync dump; records a dump did not list are gone. */
  seen: boolean;
}

export function addressKey(ifindex: number, address: string, prefixLength: number): string {
  return `${ifindex}|${address}/${prefixLength}`;
}

const FLAG_NAMES: readonly [number, string][] = [
  [IFA_F_SECONDARY, 'secondary'],
  [IFA_F_NODAD, 'nodad'],
  [IFA_F_OPTIMISTIC, 'optimistic'],
  [IFA_F_DADFAILED, 'dadfailed'],
  [IFA_F_HOMEADDRESS, 'homeaddress'],
  [IFA_F_DEPRECATED, 'deprecated'],
  [IFA_F_TENTATIVE, 'tentative'],
  [IFA_F_PERMANENT, 'permanent'],
];

/** One frozen list per flag combination: events share it instead of building arrays per address. */
const flagNameLists = new Map<number, readonly string[]>();

export function addressFlagNames(flags: number): readonly string[] {
  let names = flagNameLists.get(flags);
  if (!names) {
    names = Object.freeze(FLAG_NAMES.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name));
    // Flags beyond the named bits (kernel additions) would otherwise grow the cache without bound.
    if (flagNameLists.size < 256) flagNameLists.set(flags, names);
  }
  return names;
}

/** fe80::/10 and 169.254.0.0/16. */
export function isLinkLocal(record: Pick<AddressRecord, 'family' | 'address'>): boolean {
  if (record.family === 'inet6') return /^fe[89ab][0-9a-f]:/i.test(record.address);
  return record.address.startsWith('169.254.');
}

/** `now`: Unix seconds, when the message was read (its lifetimes are the seconds left then). */
export function newAddressRecord(m: AddressMessage, address: string, now: number): AddressRecord {
  const record: AddressRecord = {
    ifindex: m.ifindex,
    family: familyName(m.family),
    address,
    prefixLength: m.prefixLength,
    scope: m.scope,
    flags: m.addressFlags,
    validUntil: NO_DEADLINE,
    preferredUntil: NO_DEADLINE,
    seen: true,
  };
  applyLifetimes(record, m, now);
  return record;
}
