// Per-route state in compact typed arrays, so that a full BGP table (a million routes) costs a
// few tens of bytes a route and no per-route object or string. From it derive the gauges
// (routes per table/family/protocol) and the repair of routes the kernel drops silently.
//
// Route identity follows the kernel:
// - IPv4 (fib_alias): table, destination/length, tos, priority; `ip route append` may add an
//   equal route beside it that differs only by its nexthops, so an IPv4 route is also told
//   apart by a fingerprint of its nexthops (type, oif, nhid, gateway, multipath members).
// - IPv6 (fib6_info): table, destination/length, priority, and its nexthop like IPv4 (fe80::/64
//   is one route per device), except that routes that qualify for ECMP (a gateway, no nexthop
//   object, not learned from a router advertisement: rt6_qualify_for_ecmp) merge as siblings into
//   ONE route as `ip route show` lists it; for those the number of siblings is tracked.

import { AF_INET6, RTA_GATEWAY, RTA_VIA, RTNEXTHOP_LEN } from '../netlink/constants';

const RTPROT_RA = 9;
/** The fingerprint every IPv6 ECMP-class route shares: its siblings are one route. */
const IPV6_ECMP_FINGERPRINT = 0x9e3779b9;
import type { RouteMessage } from '../netlink/types';

const EMPTY = 0;
const USED = 1;
const TOMBSTONE = 2;
const MIN_CAPACITY = 1024;
/** Slots flag: the route's nexthops use more than one device, so `oif` cannot decide a flush. */
const FLAG_MULTI_DEVICE = 1;
/** Slots flag: rtm_scope host (local routes): their nexthop scope is "nowhere", and an admin down keeps them. */
const FLAG_HOST_SCOPE = 2;
const RT_SCOPE_HOST = 254;

export const ACTION_ADDED = 0;
export const ACTION_REMOVED = 1;
export const ACTION_REPLACED = 2;
export const ACTION_FLUSHED = 3;
export const ROUTE_ACTIONS = ['added', 'removed', 'replaced', 'flushed'] as const;

/** What the table reports of a route it removed or changed, without building strings. */
export interface RouteRef {
  family: number;
  table: number;
  protocol: number;
  dstLength: number;
  routeType: number;
  oif: number;
  priority: number;
  fingerprint: number;
  /** The destination words; valid only during the callback. */
  dst: Uint32Array;
  dstIndex: number;
}

/** Counts keyed by (table, family, protocol), one number per group. */
export function groupKey(table: number, family: number, protocol: number): number {
  return (table * 2 + (family === AF_INET6 ? 1 : 0)) * 256 + protocol;
}

export function splitGroupKey(key: number): { table: number; family: number; protocol: number } {
  const protocol = key % 256;
  const rest = (key - protocol) / 256;
  return { table: Math.floor(rest / 2), family: rest % 2 === 1 ? AF_INET6 : 2, protocol };
}

function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}

/** Hash of a route's nexthops (without the flags that change with carrier: linkdown, dead). */
export function nexthopFingerprint(m: RouteMessage): number {
  let h = mix(0x811c9dc5, m.routeType);
  h = mix(h, m.oif);
  h = mix(h, m.nhId);
  const buf = m.buf;
  if (m.gatewayOffset >= 0) {
    const len = m.family === AF_INET6 ? 16 : 4;
    for (let i = 0; i < len; i += 4) h = mix(h, buf.readUInt32LE(m.gatewayOffset + i));
  }
  if (m.multipathOffset >= 0) {
    const end = m.multipathOffset + m.multipathLength;
    for (let off = m.multipathOffset; off + RTNEXTHOP_LEN <= end; ) {
      const len = buf.readUInt16LE(off);
      if (len < RTNEXTHOP_LEN || off + len > end) break;
      h = mix(h, buf[off + 3] as number); // rtnh_hops, not rtnh_flags at +2
      h = mix(h, buf.readInt32LE(off + 4));
      for (let a = off + RTNEXTHOP_LEN; a + 4 <= off + len; ) {
        const alen = buf.readUInt16LE(a);
        if (alen < 4) break;
        const type = buf.readUInt16LE(a + 2) & 0x3fff;
        if (type === RTA_GATEWAY || type === RTA_VIA) {
          for (let i = a + 4; i + 4 <= a + alen; i += 4) h = mix(h, buf.readUInt32LE(i));
        }
        a += (alen + 3) & ~3;
      }
      off += (len + 3) & ~3;
    }
  }
  return h;
}

/** Whether an IPv6 route merges with equal ones as an ECMP sibling (rt6_qualify_for_ecmp). */
function isIPv6Ecmp(m: RouteMessage): boolean {
  return m.family === AF_INET6 && m.nhId === 0 && m.protocol !== RTPROT_RA && (m.gatewayOffset >= 0 || m.multipathOffset >= 0);
}

/** What tells a route apart from others with the same key (see the top of this file). */
export function routeFingerprint(m: RouteMessage): number {
  return isIPv6Ecmp(m) ? IPV6_ECMP_FINGERPRINT : nexthopFingerprint(m);
}

/** Nexthop devices of a route: its single oif, or the one device all its multipath members share (-1: several). */
function nexthopDevice(m: RouteMessage): number {
  if (m.multipathOffset < 0) return m.oif;
  const buf = m.buf;
  const end = m.multipathOffset + m.multipathLength;
  let dev = 0;
  for (let off = m.multipathOffset; off + RTNEXTHOP_LEN <= end; ) {
    const len = buf.readUInt16LE(off);
    if (len < RTNEXTHOP_LEN || off + len > end) break;
    const ifindex = buf.readInt32LE(off + 4);
    if (dev === 0) dev = ifindex;
    else if (dev !== ifindex) return -1;
    off += (len + 3) & ~3;
  }
  return dev;
}

/** Number of nexthops a message carries: the members of RTA_MULTIPATH, else 1. */
export function nexthopCount(m: RouteMessage): number {
  if (m.multipathOffset < 0) return 1;
  const buf = m.buf;
  const end = m.multipathOffset + m.multipathLength;
  let n = 0;
  for (let off = m.multipathOffset; off + RTNEXTHOP_LEN <= end; ) {
    const len = buf.readUInt16LE(off);
    if (len < RTNEXTHOP_LEN || off + len > end) break;
    n++;
    off += (len + 3) & ~3;
  }
  return Math.max(n, 1);
}

/**
 * One family's routes: an open-addressing hash table over parallel typed arrays.
 * The hash covers the kernel's key only, so a replace finds the route whatever its nexthops.
 */
export class RouteTable {
  readonly family: number;
  private readonly words: number;
  private capacity = 0;
  private size = 0;
  private tombstones = 0;
  private state!: Uint8Array;
  private flags!: Uint8Array;
  private seen!: Uint8Array;
  private dstLen!: Uint8Array;
  private tos!: Uint8Array;
  private protocol!: Uint8Array;
  private routeType!: Uint8Array;
  private nexthops!: Uint8Array;
  private table!: Uint32Array;
  private priority!: Uint32Array;
  private fingerprint!: Uint32Array;
  private oif!: Uint32Array;
  private nhId!: Uint32Array;
  private prefsrc!: Uint32Array;
  private dst!: Uint32Array;
  /** Scratch for the key of the message being applied. */
  private readonly key: Uint32Array;
  private readonly ref: RouteRef;

  constructor(family: number) {
    this.family = family;
    this.words = family === AF_INET6 ? 4 : 1;
    this.key = new Uint32Array(this.words);
    this.allocate(MIN_CAPACITY);
    this.ref = { family, table: 0, protocol: 0, dstLength: 0, routeType: 0, oif: 0, priority: 0, fingerprint: 0, dst: this.dst, dstIndex: 0 };
  }

  get count(): number {
    return this.size;
  }

  private allocate(capacity: number): void {
    this.capacity = capacity;
    this.state = new Uint8Array(capacity);
    this.flags = new Uint8Array(capacity);
    this.seen = new Uint8Array(capacity);
    this.dstLen = new Uint8Array(capacity);
    this.tos = new Uint8Array(capacity);
    this.protocol = new Uint8Array(capacity);
    this.routeType = new Uint8Array(capacity);
    this.nexthops = new Uint8Array(capacity);
    this.table = new Uint32Array(capacity);
    this.priority = new Uint32Array(capacity);
    this.fingerprint = new Uint32Array(capacity);
    this.oif = new Uint32Array(capacity);
    this.nhId = new Uint32Array(capacity);
    this.prefsrc = new Uint32Array(this.words === 1 ? capacity : 0);
    this.dst = new Uint32Array(capacity * this.words);
  }

  /** Grows before the table is 3/4 full, shrinks when it is under 1/8 so memory comes back after a withdrawal. */
  private resizeIfNeeded(): void {
    let target = this.capacity;
    if ((this.size + this.tombstones + 1) * 4 > this.capacity * 3) target = this.size * 4 > this.capacity ? this.capacity * 2 : this.capacity;
    else if (this.capacity > MIN_CAPACITY && this.size * 8 < this.capacity) target = Math.max(MIN_CAPACITY, this.capacity / 2);
    else return;
    const old = {
      state: this.state, flags: this.flags, seen: this.seen, dstLen: this.dstLen, tos: this.tos, protocol: this.protocol,
      routeType: this.routeType, nexthops: this.nexthops, table: this.table, priority: this.priority,
      fingerprint: this.fingerprint, oif: this.oif, nhId: this.nhId, prefsrc: this.prefsrc, dst: this.dst,
    };
    const oldCapacity = this.capacity;
    this.allocate(target);
    this.tombstones = 0;
    const w = this.words;
    for (let i = 0; i < oldCapacity; i++) {
      if (old.state[i] !== USED) continue;
      for (let k = 0; k < w; k++) this.key[k] = old.dst[i * w + k] as number;
      let slot = this.hashOf(old.table[i] as number, old.dstLen[i] as number, old.tos[i] as number, old.priority[i] as number);
      while (this.state[slot] !== EMPTY) slot = (slot + 1) & (this.capacity - 1);
      this.state[slot] = USED;
      this.flags[slot] = old.flags[i] as number;
      this.seen[slot] = old.seen[i] as number;
      this.dstLen[slot] = old.dstLen[i] as number;
      this.tos[slot] = old.tos[i] as number;
      this.protocol[slot] = old.protocol[i] as number;
      this.routeType[slot] = old.routeType[i] as number;
      this.nexthops[slot] = old.nexthops[i] as number;
      this.table[slot] = old.table[i] as number;
      this.priority[slot] = old.priority[i] as number;
      this.fingerprint[slot] = old.fingerprint[i] as number;
      this.oif[slot] = old.oif[i] as number;
      this.nhId[slot] = old.nhId[i] as number;
      if (w === 1) this.prefsrc[slot] = old.prefsrc[i] as number;
      for (let k = 0; k < w; k++) this.dst[slot * w + k] = this.key[k] as number;
    }
    this.ref.dst = this.dst;
  }

  private hashOf(table: number, dstLen: number, tos: number, priority: number): number {
    let h = mix(0x811c9dc5, table);
    h = mix(h, dstLen | (tos << 8));
    h = mix(h, priority);
    for (let k = 0; k < this.words; k++) h = mix(h, this.key[k] as number);
    return h & (this.capacity - 1);
  }

  private loadKey(m: RouteMessage): void {
    for (let k = 0; k < this.words; k++) this.key[k] = m.dstOffset >= 0 ? m.buf.readUInt32LE(m.dstOffset + 4 * k) : 0;
  }

  private keyEquals(slot: number, m: RouteMessage): boolean {
    if (this.table[slot] !== m.table || this.dstLen[slot] !== m.dstLength || this.priority[slot] !== m.priority) return false;
    if (this.tos[slot] !== m.tos) return false;
    const w = this.words;
    for (let k = 0; k < w; k++) if (this.dst[slot * w + k] !== this.key[k]) return false;
    return true;
  }

  /** The slot of the route with this key (and, for IPv4 when `fingerprint` is given, these nexthops), or -1. */
  private find(m: RouteMessage, fingerprint: number | undefined): number {
    this.loadKey(m);
    const mask = this.capacity - 1;
    let firstKeyMatch = -1;
    for (let slot = this.hashOf(m.table, m.dstLength, m.tos, m.priority); ; slot = (slot + 1) & mask) {
      const s = this.state[slot];
      if (s === EMPTY) return fingerprint === undefined ? firstKeyMatch : -1;
      if (s === USED && this.keyEquals(slot, m)) {
        if (fingerprint === undefined || this.fingerprint[slot] === fingerprint) return slot;
        if (firstKeyMatch < 0) firstKeyMatch = slot;
      }
    }
  }

  private describe(slot: number): RouteRef {
    const r = this.ref;
    r.table = this.table[slot] as number;
    r.protocol = this.protocol[slot] as number;
    r.dstLength = this.dstLen[slot] as number;
    r.routeType = this.routeType[slot] as number;
    r.oif = this.oif[slot] as number;
    r.priority = this.priority[slot] as number;
    r.fingerprint = this.fingerprint[slot] as number;
    r.dstIndex = slot * this.words;
    return r;
  }

  private write(slot: number, m: RouteMessage, fingerprint: number, nexthops: number): void {
    const dev = nexthopDevice(m);
    this.protocol[slot] = m.protocol;
    this.routeType[slot] = m.routeType;
    this.fingerprint[slot] = fingerprint;
    this.oif[slot] = dev < 0 ? 0 : dev;
    this.flags[slot] = (dev < 0 ? FLAG_MULTI_DEVICE : 0) | (m.scope === RT_SCOPE_HOST ? FLAG_HOST_SCOPE : 0);
    this.nhId[slot] = m.nhId;
    this.nexthops[slot] = Math.min(nexthops, 255);
    this.seen[slot] = 1;
    if (this.words === 1) this.prefsrc[slot] = m.prefsrcOffset >= 0 ? m.buf.readUInt32LE(m.prefsrcOffset) : 0;
  }

  private insert(m: RouteMessage, fingerprint: number, nexthops: number): void {
    this.resizeIfNeeded();
    this.loadKey(m);
    const mask = this.capacity - 1;
    let slot = this.hashOf(m.table, m.dstLength, m.tos, m.priority);
    while (this.state[slot] === USED) slot = (slot + 1) & mask;
    if (this.state[slot] === TOMBSTONE) this.tombstones--;
    this.state[slot] = USED;
    this.table[slot] = m.table;
    this.dstLen[slot] = m.dstLength;
    this.tos[slot] = m.tos;
    this.priority[slot] = m.priority;
    for (let k = 0; k < this.words; k++) this.dst[slot * this.words + k] = this.key[k] as number;
    this.write(slot, m, fingerprint, nexthops);
    this.size++;
  }

  private removeSlot(slot: number): void {
    this.state[slot] = TOMBSTONE;
    this.tombstones++;
    this.size--;
  }

  /**
   * Applies RTM_NEWROUTE (a notification or a dump reply). Returns what happened:
   * 'added' (a new route), 'replaced' (an existing one changed; onChange gets its old protocol),
   * or 'same' (an IPv6 sibling nexthop joined a route, or a repeat of a route we hold).
   */
  applyNew(m: RouteMessage, replace: boolean, onChange: (ref: RouteRef, previousProtocol: number) => void): 'added' | 'replaced' | 'same' {
    const fingerprint = routeFingerprint(m);
    const count = nexthopCount(m);
    const slot = this.find(m, replace ? undefined : fingerprint);
    if (slot < 0) {
      this.insert(m, fingerprint, count);
      return 'added';
    }
    const previousProtocol = this.protocol[slot] as number;
    if (!replace) {
      // An IPv6 sibling appended to a multipath route (the kernel announces the whole new
      // nexthop set, as a dump lists it), or a route re-announced as it is.
      this.write(slot, m, fingerprint, count);
      if (previousProtocol !== m.protocol) onChange(this.describe(slot), previousProtocol);
      return 'same';
    }
    this.write(slot, m, fingerprint, count);
    onChange(this.describe(slot), previousProtocol);
    return 'replaced';
  }

  /**
   * Applies RTM_DELROUTE. Returns the removed route, or undefined when it was not held (or when
   * only some IPv6 siblings left a multipath route that still exists).
   */
  applyDelete(m: RouteMessage): RouteRef | undefined {
    const fingerprint = routeFingerprint(m);
    let slot = this.find(m, fingerprint);
    // IPv4 nexthop members may differ from what we saw at add time: fall back to the key.
    if (slot < 0 && this.words === 1) slot = this.find(m, undefined);
    if (slot < 0) return undefined;
    if (fingerprint === IPV6_ECMP_FINGERPRINT) {
      const left = (this.nexthops[slot] as number) - nexthopCount(m);
      if (left > 0) {
        this.nexthops[slot] = left;
        return undefined;
      }
    }
    const ref = this.describe(slot);
    this.removeSlot(slot);
    return ref;
  }

  /** Removes every route `predicate` picks (the kernel's silent flushes), reporting each. */
  removeWhere(predicate: (slot: number) => boolean, onRemove: (ref: RouteRef) => void): number {
    let removed = 0;
    for (let slot = 0; slot < this.capacity; slot++) {
      if (this.state[slot] !== USED || !predicate(slot)) continue;
      onRemove(this.describe(slot));
      this.removeSlot(slot);
      removed++;
    }
    if (removed > 0) this.resizeIfNeeded();
    return removed;
  }

  /**
   * IPv4 routes whose every nexthop uses `ifindex`, as fib_sync_down_dev drops them: on admin
   * down all but host-scope (local) routes; `force` (device gone, last address removed) all.
   */
  removeDevice(ifindex: number, force: boolean, onRemove: (ref: RouteRef) => void): number {
    const keep = FLAG_MULTI_DEVICE | (force ? 0 : FLAG_HOST_SCOPE);
    return this.removeWhere((slot) => this.oif[slot] === ifindex && ((this.flags[slot] as number) & keep) === 0, onRemove);
  }

  /** IPv4 routes whose preferred source is `address` (fib_sync_down_addr). Address as read LE from the message. */
  removePrefsrc(address: number, onRemove: (ref: RouteRef) => void): number {
    if (this.words !== 1) return 0;
    return this.removeWhere((slot) => this.prefsrc[slot] === address, onRemove);
  }

  /** Routes that use one of these nexthop objects. */
  removeNexthops(ids: ReadonlySet<number>, onRemove: (ref: RouteRef) => void): number {
    return this.removeWhere((slot) => (this.nhId[slot] as number) !== 0 && ids.has(this.nhId[slot] as number), onRemove);
  }

  /** Starts a resync: every route is unseen until a dump reply or a notification sees it. */
  beginSweep(): void {
    this.seen.fill(0);
  }

  /** Ends a resync: routes the dump did not list are gone. */
  sweep(onRemove: (ref: RouteRef) => void): number {
    return this.removeWhere((slot) => this.seen[slot] === 0, onRemove);
  }

  /** Approximate bytes held, for the benchmark. */
  get bytes(): number {
    return this.capacity * (8 + 6 * 4 + 4 * this.words);
  }
}
