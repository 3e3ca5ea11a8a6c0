// What a route message's nexthops say of its devices: the one device it uses (or several), the
// distinct devices of a multipath route and which of them the kernel reports dead (RTNH_F_DEAD),
// and how many nexthops it has. Read through the codec's walker of RTA_MULTIPATH, never from the
// bytes here.

import { RTNH_F_DEAD } from '../../netlink/constants';
import { NexthopCursor } from '../../netlink/nexthops';
import type { RouteMessage } from '../../netlink/types';
import type { MultipathSets } from './multipath';

/** The codec's walker over a message's RTA_MULTIPATH records (decodeRoute checked them all, so it stops only at their end). */
const nexthops = new NexthopCursor();

/** Nexthop devices of a route: its single oif, or the one device all its multipath members share (-1: several). */
export function nexthopDevice(m: RouteMessage): number {
  if (m.multipathOffset < 0) return m.oif;
  const nh = nexthops.reset(m.buf, m.multipathOffset, m.multipathLength);
  let dev = 0;
  while (nh.next()) {
    const ifindex = nh.ifindex;
    if (dev === 0) dev = ifindex;
    else if (dev !== ifindex) return -1;
  }
  return dev;
}

/** Scratch for multipathDevices: no array per route. */
const mpDevices: number[] = [];
const mpDead: boolean[] = [];

/**
 * The distinct devices of a multipath message's nexthops, ascending, into mpDevices, with
 * mpDead[i] when the kernel reports all of that device's nexthops dead (RTNH_F_DEAD: a dump
 * after one of its devices went down). Returns how many.
 */
function multipathDevices(m: RouteMessage): number {
  const nh = nexthops.reset(m.buf, m.multipathOffset, m.multipathLength);
  let count = 0;
  while (nh.next()) {
    const ifindex = nh.ifindex;
    const dead = (nh.flags & RTNH_F_DEAD) !== 0;
    // Insertion into the sorted distinct list (a route has a handful of nexthops).
    let i = 0;
    while (i < count && (mpDevices[i] as number) < ifindex) i++;
    if (i < count && mpDevices[i] === ifindex) mpDead[i] = (mpDead[i] as boolean) && dead;
    else {
      for (let k = count; k > i; k--) {
        mpDevices[k] = mpDevices[k - 1] as number;
        mpDead[k] = mpDead[k - 1] as boolean;
      }
      mpDevices[i] = ifindex;
      mpDead[i] = dead;
      count++;
    }
  }
  return count;
}

/** Number of nexthops a message carries: the members of RTA_MULTIPATH, else 1. */
export function nexthopCount(m: RouteMessage): number {
  if (m.multipathOffset < 0) return 1;
  const nh = nexthops.reset(m.buf, m.multipathOffset, m.multipathLength);
  let n = 0;
  while (nh.next()) n++;
  return Math.max(n, 1);
}

/** A reference to the MultipathSets set of a multipath message's devices and dead nexthops (see MultipathSets.acquire). */
export function acquireMultipath(sets: MultipathSets, m: RouteMessage): number {
  return sets.acquire(mpDevices, mpDead, multipathDevices(m));
}
