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

/** Route flag: the nexthops use more than one device, so `oif` cannot decide a flush. */
const FLAG_MULTI_DEVICE = 1;
/** Route flag: rtm_scope host (local routes): their nexthop scope is "nowhere", and an admin down keeps them. */
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
  /** The destination words (at dstIndex); valid until the table's next call. */
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

/** Records per page: pages are added as the table grows, so growing never copies the records. */
const PAGE_BITS = 16;
const PAGE_SIZE = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_SIZE - 1;
const MIN_INDEX = 1024;
const INDEX_EMPTY = -1;
const INDEX_TOMBSTONE = -2;

// Record layout in u32 words, after the destination (1 word for IPv4, 4 for IPv6).
const W_TABLE = 0;
const W_PRIORITY = 1;
const W_FINGERPRINT = 2;
const W_OIF = 3;
const W_NHID = 4;
const W_PREFSRC = 5;
/** dstLength | tos << 8 | protocol << 16 | routeType << 24. */
const W_KEYBYTES = 6;
/** used (bit 0) | seen (bit 1) | flags << 8 | nexthops << 16; a free record holds the next free index in its first word. */
const W_META = 7;
const META_USED = 1;
const META_SEEN = 2;

/**
 * One family's routes: records in fixed-size pages of one Uint32Array each (36 bytes an IPv4
 * route, 48 an IPv6 one), and an open-addressing index of record numbers (4 bytes a bucket, at
 * most half full) keyed by the kernel's key only, so a replace finds the route whatever its
 * nexthops. Growth adds a page and rebuilds only the index; a withdrawal compacts the records
 * and gives the memory back.
 */
export class RouteTable {
  readonly family: number;
  private readonly words: number;
  private readonly stride: number;
  private pages: Uint32Array[] = [];
  /** Records ever handed out (the next fresh one). */
  private highWater = 0;
  private freeHead = -1;
  private size = 0;
  private index = new Int32Array(MIN_INDEX).fill(INDEX_EMPTY);
  private indexUsed = 0;
  private tombstones = 0;
  /** Scratch for the key of the message being applied. */
  private readonly key: Uint32Array;
  private readonly ref: RouteRef;

  constructor(family: number) {
    this.family = family;
    this.words = family === AF_INET6 ? 4 : 1;
    this.stride = this.words + 8;
    this.key = new Uint32Array(this.words);
    this.ref = { family, table: 0, protocol: 0, dstLength: 0, routeType: 0, oif: 0, priority: 0, fingerprint: 0, dst: new Uint32Array(this.words), dstIndex: 0 };
  }

  get count(): number {
    return this.size;
  }

  /** Bytes of typed arrays held (records and index). */
  get bytes(): number {
    return this.pages.length * PAGE_SIZE * this.stride * 4 + this.index.byteLength;
  }

  // ---- records -------------------------------------------------------------------------------

  private page(record: number): Uint32Array {
    return this.pages[record >>> PAGE_BITS] as Uint32Array;
  }

  private base(record: number): number {
    return (record & PAGE_MASK) * this.stride;
  }

  private allocate(): number {
    if (this.freeHead >= 0) {
      const record = this.freeHead;
      // A free record's first word holds the next free one, plus 1 (0 ends the list).
      this.freeHead = (this.page(record)[this.base(record)] as number) - 1;
      return record;
    }
    const record = this.highWater++;
    if (record >>> PAGE_BITS >= this.pages.length) this.pages.push(new Uint32Array(PAGE_SIZE * this.stride));
    return record;
  }

  private release(record: number): void {
    const page = this.page(record);
    const b = this.base(record);
    page[b + this.words + W_META] = 0;
    page[b] = this.freeHead + 1;
    this.freeHead = record;
  }

  private isUsed(record: number): boolean {
    return ((this.page(record)[this.base(record) + this.words + W_META] as number) & META_USED) !== 0;
  }

  // ---- index ---------------------------------------------------------------------------------

  private hashKey(table: number, dstLen: number, tos: number, priority: number, dst: Uint32Array, dstIndex: number): number {
    let h = mix(0x811c9dc5, table);
    h = mix(h, dstLen | (tos << 8));
    h = mix(h, priority);
    for (let k = 0; k < this.words; k++) h = mix(h, dst[dstIndex + k] as number);
    return h & (this.index.length - 1);
  }

  private hashRecord(record: number): number {
    const page = this.page(record);
    const b = this.base(record);
    const w = this.words;
    const keyBytes = page[b + w + W_KEYBYTES] as number;
    return this.hashKey(page[b + w + W_TABLE] as number, keyBytes & 0xff, (keyBytes >>> 8) & 0xff, page[b + w + W_PRIORITY] as number, page, b);
  }

  private indexInsert(record: number): void {
    const mask = this.index.length - 1;
    let slot = this.hashRecord(record);
    while (this.index[slot] !== INDEX_EMPTY && this.index[slot] !== INDEX_TOMBSTONE) slot = (slot + 1) & mask;
    if (this.index[slot] === INDEX_TOMBSTONE) this.tombstones--;
    this.index[slot] = record;
    this.indexUsed++;
  }

  /** Rebuilds the index at the size that keeps it at most half full (and at least an eighth). */
  private resizeIndexIfNeeded(): void {
    const capacity = this.index.length;
    let target = capacity;
    while ((this.size + 1) * 2 > target) target *= 2;
    while (target > MIN_INDEX && this.size * 8 < target) target /= 2;
    if (target === capacity && (this.indexUsed + this.tombstones + 1) * 2 <= capacity) return;
    this.index = new Int32Array(target).fill(INDEX_EMPTY);
    this.indexUsed = 0;
    this.tombstones = 0;
    for (let record = 0; record < this.highWater; record++) if (this.isUsed(record)) this.indexInsert(record);
  }

  /** After a withdrawal: records move into as few pages as they need, and the rest is let go. */
  private compactIfSparse(): void {
    const allocated = this.pages.length * PAGE_SIZE;
    if (this.size === 0) {
      this.pages = [];
      this.highWater = 0;
      this.freeHead = -1;
    } else if (allocated > PAGE_SIZE && this.size * 4 < allocated) {
      const oldPages = this.pages;
      const oldHighWater = this.highWater;
      this.pages = [];
      this.highWater = 0;
      this.freeHead = -1;
      for (let record = 0; record < oldHighWater; record++) {
        const page = oldPages[record >>> PAGE_BITS] as Uint32Array;
        const b = (record & PAGE_MASK) * this.stride;
        if (((page[b + this.words + W_META] as number) & META_USED) === 0) continue;
        const fresh = this.allocate();
        this.page(fresh).set(page.subarray(b, b + this.stride), this.base(fresh));
      }
    } else return;
    this.index = new Int32Array(MIN_INDEX).fill(INDEX_EMPTY);
    this.indexUsed = 0;
    this.tombstones = 0;
    this.resizeIndexIfNeeded();
  }

  // ---- lookups -------------------------------------------------------------------------------

  private loadKey(m: RouteMessage): void {
    for (let k = 0; k < this.words; k++) this.key[k] = m.dstOffset >= 0 ? m.buf.readUInt32LE(m.dstOffset + 4 * k) : 0;
  }

  private keyEquals(record: number, m: RouteMessage): boolean {
    const page = this.page(record);
    const b = this.base(record);
    const w = this.words;
    if (page[b + w + W_TABLE] !== m.table || page[b + w + W_PRIORITY] !== m.priority) return false;
    if (((page[b + w + W_KEYBYTES] as number) & 0xffff) !== (m.dstLength | (m.tos << 8))) return false;
    for (let k = 0; k < w; k++) if (page[b + k] !== this.key[k]) return false;
    return true;
  }

  /**
   * The index slot of the route with this key (and, when `fingerprint` is given, these
   * nexthops), or -1. Without a fingerprint, the first with the key, as the kernel replaces.
   */
  private find(m: RouteMessage, fingerprint: number | undefined): number {
    this.loadKey(m);
    const mask = this.index.length - 1;
    for (let slot = this.hashKey(m.table, m.dstLength, m.tos, m.priority, this.key, 0); ; slot = (slot + 1) & mask) {
      const record = this.index[slot] as number;
      if (record === INDEX_EMPTY) return -1;
      if (record < 0 || !this.keyEquals(record, m)) continue;
      if (fingerprint === undefined || this.page(record)[this.base(record) + this.words + W_FINGERPRINT] === fingerprint) return slot;
    }
  }

  private describe(record: number): RouteRef {
    const r = this.ref;
    const page = this.page(record);
    const b = this.base(record);
    const w = this.words;
    const keyBytes = page[b + w + W_KEYBYTES] as number;
    r.table = page[b + w + W_TABLE] as number;
    r.priority = page[b + w + W_PRIORITY] as number;
    r.fingerprint = page[b + w + W_FINGERPRINT] as number;
    r.oif = page[b + w + W_OIF] as number;
    r.dstLength = keyBytes & 0xff;
    r.protocol = (keyBytes >>> 16) & 0xff;
    r.routeType = keyBytes >>> 24;
    // Copied: the record's words may be reused (free list, compaction) before the caller is done.
    for (let k = 0; k < w; k++) r.dst[k] = page[b + k] as number;
    return r;
  }

  private protocolOf(record: number): number {
    return ((this.page(record)[this.base(record) + this.words + W_KEYBYTES] as number) >>> 16) & 0xff;
  }

  /** Writes everything but the key (which a replace keeps). */
  private write(record: number, m: RouteMessage, fingerprint: number, nexthops: number): void {
    const page = this.page(record);
    const b = this.base(record) + this.words;
    const dev = nexthopDevice(m);
    const flags = (dev < 0 ? FLAG_MULTI_DEVICE : 0) | (m.scope === RT_SCOPE_HOST ? FLAG_HOST_SCOPE : 0);
    page[b + W_FINGERPRINT] = fingerprint;
    page[b + W_OIF] = dev < 0 ? 0 : dev;
    page[b + W_NHID] = m.nhId;
    page[b + W_PREFSRC] = this.words === 1 && m.prefsrcOffset >= 0 ? m.buf.readUInt32LE(m.prefsrcOffset) : 0;
    page[b + W_KEYBYTES] = (m.dstLength | (m.tos << 8) | (m.protocol << 16) | (m.routeType << 24)) >>> 0;
    page[b + W_META] = META_USED | META_SEEN | (flags << 8) | (Math.min(nexthops, 0xffff) << 16);
  }

  private insert(m: RouteMessage, fingerprint: number, nexthops: number): void {
    this.resizeIndexIfNeeded();
    const record = this.allocate();
    const page = this.page(record);
    const b = this.base(record);
    for (let k = 0; k < this.words; k++) page[b + k] = this.key[k] as number;
    page[b + this.words + W_TABLE] = m.table;
    page[b + this.words + W_PRIORITY] = m.priority;
    this.write(record, m, fingerprint, nexthops);
    this.size++;
    this.indexInsert(record);
  }

  /** Removes the record at an index slot (reporting it first). */
  private removeAt(slot: number): void {
    const record = this.index[slot] as number;
    this.index[slot] = INDEX_TOMBSTONE;
    this.tombstones++;
    this.indexUsed--;
    this.release(record);
    this.size--;
  }

  // ---- operations ----------------------------------------------------------------------------

  /**
   * Applies RTM_NEWROUTE (a notification or a dump reply). Returns what happened:
   * 'added' (a new route), 'replaced' (an existing one changed; onChange gets its old protocol),
   * or 'same' (an IPv6 sibling nexthop joined a route, or a repeat of a route we hold).
   */
  applyNew(m: RouteMessage, replace: boolean, onChange: (ref: RouteRef, previousProtocol: number) => void): 'added' | 'replaced' | 'same' {
    const fingerprint = routeFingerprint(m);
    const count = nexthopCount(m);
    // find() loads the key into the scratch, which insert() writes.
    const slot = this.find(m, replace ? undefined : fingerprint);
    if (slot < 0) {
      this.insert(m, fingerprint, count);
      return 'added';
    }
    const record = this.index[slot] as number;
    const previousProtocol = this.protocolOf(record);
    // An IPv6 sibling appended to a multipath route (the kernel announces the whole new
    // nexthop set, as a dump lists it), or a route re-announced as it is.
    this.write(record, m, fingerprint, count);
    if (!replace) {
      if (previousProtocol !== m.protocol) onChange(this.describe(record), previousProtocol);
      return 'same';
    }
    onChange(this.describe(record), previousProtocol);
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
    const record = this.index[slot] as number;
    if (fingerprint === IPV6_ECMP_FINGERPRINT) {
      const page = this.page(record);
      const w = this.base(record) + this.words + W_META;
      const left = ((page[w] as number) >>> 16) - nexthopCount(m);
      if (left > 0) {
        page[w] = (((page[w] as number) & 0xffff) | (left << 16)) >>> 0;
        return undefined;
      }
    }
    const ref = this.describe(record);
    this.removeAt(slot);
    if (this.sparse()) this.afterRemovals();
    return ref;
  }

  /** Whether removals left the pages or the index worth shrinking. */
  private sparse(): boolean {
    if (this.size === 0) return this.pages.length > 0 || this.index.length > MIN_INDEX;
    return (this.pages.length > 1 && this.size * 4 < this.pages.length * PAGE_SIZE) || (this.index.length > MIN_INDEX && this.size * 8 < this.index.length);
  }

  private afterRemovals(): void {
    this.compactIfSparse();
    this.resizeIndexIfNeeded();
  }

  /** Removes every route `predicate` picks (given the record's page and base), reporting each. */
  private removeWhere(predicate: (page: Uint32Array, meta: number) => boolean, onRemove: (ref: RouteRef) => void): number {
    let removed = 0;
    const mask = this.index.length - 1;
    for (let record = 0; record < this.highWater; record++) {
      const page = this.page(record);
      const meta = this.base(record) + this.words;
      if (((page[meta + W_META] as number) & META_USED) === 0 || !predicate(page, meta)) continue;
      // Find its index slot: probe from its hash to the slot holding this record.
      let slot = this.hashRecord(record);
      while (this.index[slot] !== record) slot = (slot + 1) & mask;
      onRemove(this.describe(record));
      this.removeAt(slot);
      removed++;
    }
    if (removed > 0 && this.sparse()) this.afterRemovals();
    return removed;
  }

  /**
   * IPv4 routes whose every nexthop uses `ifindex`, as fib_sync_down_dev drops them: on admin
   * down all but host-scope (local) routes; `force` (device gone, last address removed) all.
   */
  removeDevice(ifindex: number, force: boolean, onRemove: (ref: RouteRef) => void): number {
    const keep = (FLAG_MULTI_DEVICE | (force ? 0 : FLAG_HOST_SCOPE)) << 8;
    return this.removeWhere((page, m) => page[m + W_OIF] === ifindex && ((page[m + W_META] as number) & keep) === 0, onRemove);
  }

  /** IPv4 routes whose preferred source is `address` (fib_sync_down_addr). Address as read LE from the message. */
  removePrefsrc(address: number, onRemove: (ref: RouteRef) => void): number {
    if (this.words !== 1) return 0;
    return this.removeWhere((page, m) => page[m + W_PREFSRC] === address, onRemove);
  }

  /** Routes that use one of these nexthop objects. */
  removeNexthops(ids: ReadonlySet<number>, onRemove: (ref: RouteRef) => void): number {
    return this.removeWhere((page, m) => (page[m + W_NHID] as number) !== 0 && ids.has(page[m + W_NHID] as number), onRemove);
  }

  /** Starts a resync: every route is unseen until a dump reply or a notification sees it. */
  beginSweep(): void {
    for (let record = 0; record < this.highWater; record++) {
      const page = this.page(record);
      const m = this.base(record) + this.words + W_META;
      page[m] = ((page[m] as number) & ~META_SEEN) >>> 0;
    }
  }

  /** Ends a resync: routes the dump did not list are gone. */
  sweep(onRemove: (ref: RouteRef) => void): number {
    return this.removeWhere((page, m) => ((page[m + W_META] as number) & META_SEEN) === 0, onRemove);
  }
}
