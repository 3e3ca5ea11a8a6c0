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

const RTPROT_KERNEL = 2;
const RTPROT_RA = 9;
/** The fingerprint every IPv6 ECMP-class route shares: its siblings are one route. */
const IPV6_ECMP_FINGERPRINT = 0x9e3779b9;
import type { RouteMessage } from '../netlink/types';
import { released } from './memory';

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

/** MurmurHash3's finaliser: every input bit reaches the low bits an index mask keeps. */
function finish(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
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

/**
 * What tells a route apart from others with the same key (see the top of this file). A route
 * through a nexthop object is told apart by the object's id alone: the kernel also expands the
 * object's members into each notification, and those change when a group loses a member.
 */
export function routeFingerprint(m: RouteMessage): number {
  if (isIPv6Ecmp(m)) return IPV6_ECMP_FINGERPRINT;
  return m.nhId !== 0 ? mix(mix(0x811c9dc5, m.routeType), m.nhId) : nexthopFingerprint(m);
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

/** Adds `delta` to the count of a non-zero key, forgetting keys that reach 0. */
function bump(counts: Map<number, number>, key: number, delta: number): void {
  if (key === 0) return;
  const next = (counts.get(key) ?? 0) + delta;
  if (next > 0) counts.set(key, next);
  else counts.delete(key);
}

const SHRINK_AFTER_MS = 250;

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
/** used (bit 0) | seen (bit 1) | flags << 8 | nexthops << 16; a free record holds the next free index (+1) in its first word. */
const W_META = 7;
/** The circular list of routes with the same key (many devices' fe80::/64, `ip route append`). */
const W_NEXT = 8;
const W_PREV = 9;
const RECORD_WORDS = 10;
const META_USED = 1;
const META_SEEN = 2;

/**
 * One family's routes: records in fixed-size pages of one Uint32Array each (44 bytes an IPv4
 * route, 56 an IPv6 one) and two open-addressing indexes of record numbers, each at most half
 * full: `exact` by key and nexthop fingerprint (what a notification names), `byKey` by the
 * kernel's key alone, pointing at the first of the routes that share it (what a replace
 * names). Thousands of routes with one key (fe80::/64 on every veth of a Kubernetes node) cost
 * no long probe. Growth adds a page and rebuilds only the indexes; a withdrawal compacts the
 * records and gives the memory back.
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
  private exact = new Int32Array(MIN_INDEX).fill(INDEX_EMPTY);
  private byKey = new Int32Array(MIN_INDEX).fill(INDEX_EMPTY);
  /** Filled or tombstoned slots per index (what decides a rebuild). */
  private exactTaken = 0;
  private byKeyTaken = 0;
  /** Scratch for the key of the message being applied. */
  private readonly key: Uint32Array;
  private readonly ref: RouteRef;
  /**
   * Routes per device, preferred source and nexthop object: a silent flush (an address
   * removed, a device down) scans the table only when some route can match.
   */
  private readonly perDevice = new Map<number, number>();
  private readonly perPrefsrc = new Map<number, number>();
  /** The same, for routes not of protocol kernel: the ones an address removal may drop silently. */
  private readonly perPrefsrcNotKernel = new Map<number, number>();
  private readonly perNexthop = new Map<number, number>();
  /** Shrinking waits until removals pause: a withdrawal must not stall on a compaction. */
  private shrinkTimer: NodeJS.Timeout | undefined;
  private lastRemoval = 0;

  constructor(family: number) {
    this.family = family;
    this.words = family === AF_INET6 ? 4 : 1;
    this.stride = this.words + RECORD_WORDS;
    this.key = new Uint32Array(this.words);
    this.ref = { family, table: 0, protocol: 0, dstLength: 0, routeType: 0, oif: 0, priority: 0, fingerprint: 0, dst: new Uint32Array(this.words), dstIndex: 0 };
  }

  get count(): number {
    return this.size;
  }

  /** Bytes of typed arrays held (records and indexes). */
  get bytes(): number {
    return this.pages.length * PAGE_SIZE * this.stride * 4 + this.exact.byteLength + this.byKey.byteLength;
  }

  // ---- records -------------------------------------------------------------------------------

  private page(record: number): Uint32Array {
    return this.pages[record >>> PAGE_BITS] as Uint32Array;
  }

  /** Index of the record's first word after the destination, in its page. */
  private at(record: number): number {
    return (record & PAGE_MASK) * this.stride + this.words;
  }

  private word(record: number, field: number): number {
    return this.page(record)[this.at(record) + field] as number;
  }

  private setWord(record: number, field: number, value: number): void {
    this.page(record)[this.at(record) + field] = value;
  }

  private allocate(): number {
    if (this.freeHead >= 0) {
      const record = this.freeHead;
      this.freeHead = (this.page(record)[this.at(record) - this.words] as number) - 1;
      return record;
    }
    const record = this.highWater++;
    if (record >>> PAGE_BITS >= this.pages.length) this.pages.push(new Uint32Array(PAGE_SIZE * this.stride));
    return record;
  }

  private release(record: number): void {
    this.setWord(record, W_META, 0);
    this.page(record)[this.at(record) - this.words] = this.freeHead + 1;
    this.freeHead = record;
  }

  private isUsed(record: number): boolean {
    return (this.word(record, W_META) & META_USED) !== 0;
  }

  // ---- hashing and comparing -----------------------------------------------------------------

  private keyHash(table: number, keyBytes: number, priority: number, dst: Uint32Array, dstIndex: number): number {
    let h = mix(0x811c9dc5, table);
    h = mix(h, keyBytes & 0xffff); // dstLength | tos << 8
    h = mix(h, priority);
    for (let k = 0; k < this.words; k++) h = mix(h, dst[dstIndex + k] as number);
    return finish(h);
  }

  private recordKeyHash(record: number): number {
    const page = this.page(record);
    const a = this.at(record);
    return this.keyHash(page[a + W_TABLE] as number, page[a + W_KEYBYTES] as number, page[a + W_PRIORITY] as number, page, a - this.words);
  }

  private messageKeyHash(m: RouteMessage): number {
    return this.keyHash(m.table, m.dstLength | (m.tos << 8), m.priority, this.key, 0);
  }

  private loadKey(m: RouteMessage): void {
    for (let k = 0; k < this.words; k++) this.key[k] = m.dstOffset >= 0 ? m.buf.readUInt32LE(m.dstOffset + 4 * k) : 0;
  }

  /** Whether the record has the message's key (loaded by loadKey). */
  private keyEquals(record: number, m: RouteMessage): boolean {
    const page = this.page(record);
    const a = this.at(record);
    if (page[a + W_TABLE] !== m.table || page[a + W_PRIORITY] !== m.priority) return false;
    if (((page[a + W_KEYBYTES] as number) & 0xffff) !== (m.dstLength | (m.tos << 8))) return false;
    for (let k = 0; k < this.words; k++) if (page[a - this.words + k] !== this.key[k]) return false;
    return true;
  }

  private sameKey(x: number, y: number): boolean {
    const px = this.page(x);
    const py = this.page(y);
    const ax = this.at(x);
    const ay = this.at(y);
    if (px[ax + W_TABLE] !== py[ay + W_TABLE] || px[ax + W_PRIORITY] !== py[ay + W_PRIORITY]) return false;
    if (((px[ax + W_KEYBYTES] as number) & 0xffff) !== ((py[ay + W_KEYBYTES] as number) & 0xffff)) return false;
    for (let k = 1; k <= this.words; k++) if (px[ax - k] !== py[ay - k]) return false;
    return true;
  }

  // ---- indexes -------------------------------------------------------------------------------

  /** The route with this key and fingerprint, or -1. */
  private findExact(m: RouteMessage, fingerprint: number): number {
    const mask = this.exact.length - 1;
    for (let slot = finish(mix(this.messageKeyHash(m), fingerprint)) & mask; ; slot = (slot + 1) & mask) {
      const record = this.exact[slot] as number;
      if (record === INDEX_EMPTY) return -1;
      if (record >= 0 && this.word(record, W_FINGERPRINT) === fingerprint && this.keyEquals(record, m)) return record;
    }
  }

  /** The first route with this key (the one the kernel replaces), or -1. */
  private findFirst(m: RouteMessage): number {
    const mask = this.byKey.length - 1;
    for (let slot = this.messageKeyHash(m) & mask; ; slot = (slot + 1) & mask) {
      const record = this.byKey[slot] as number;
      if (record === INDEX_EMPTY) return -1;
      if (record >= 0 && this.keyEquals(record, m)) return record;
    }
  }

  /** The slot of `index` that holds `record`, probing from `hash`. */
  private slotOf(index: Int32Array, hash: number, record: number): number {
    const mask = index.length - 1;
    let slot = hash & mask;
    while (index[slot] !== record) {
      if (index[slot] === INDEX_EMPTY) return -1;
      slot = (slot + 1) & mask;
    }
    return slot;
  }

  private exactInsert(record: number): void {
    const mask = this.exact.length - 1;
    let slot = finish(mix(this.recordKeyHash(record), this.word(record, W_FINGERPRINT))) & mask;
    while ((this.exact[slot] as number) >= 0) slot = (slot + 1) & mask;
    if (this.exact[slot] === INDEX_EMPTY) this.exactTaken++;
    this.exact[slot] = record;
  }

  private exactRemove(record: number): void {
    const slot = this.slotOf(this.exact, finish(mix(this.recordKeyHash(record), this.word(record, W_FINGERPRINT))), record);
    this.exact[slot] = INDEX_TOMBSTONE;
  }

  /** Indexes a record: in `exact`, and at the tail of its key's list (or as the list's head). */
  private link(record: number): void {
    this.exactInsert(record);
    const mask = this.byKey.length - 1;
    let free = -1;
    for (let slot = this.recordKeyHash(record) & mask; ; slot = (slot + 1) & mask) {
      const head = this.byKey[slot] as number;
      if (head === INDEX_EMPTY) {
        if (free < 0) {
          free = slot;
          this.byKeyTaken++;
        }
        break;
      }
      if (head === INDEX_TOMBSTONE) {
        if (free < 0) free = slot;
        continue;
      }
      if (this.sameKey(head, record)) {
        const tail = this.word(head, W_PREV);
        this.setWord(tail, W_NEXT, record);
        this.setWord(record, W_PREV, tail);
        this.setWord(record, W_NEXT, head);
        this.setWord(head, W_PREV, record);
        return;
      }
    }
    this.byKey[free] = record;
    this.setWord(record, W_NEXT, record);
    this.setWord(record, W_PREV, record);
  }

  private unlink(record: number): void {
    this.exactRemove(record);
    const next = this.word(record, W_NEXT);
    const keySlot = this.slotOf(this.byKey, this.recordKeyHash(record), record);
    if (next === record) {
      this.byKey[keySlot] = INDEX_TOMBSTONE;
      return;
    }
    const prev = this.word(record, W_PREV);
    this.setWord(prev, W_NEXT, next);
    this.setWord(next, W_PREV, prev);
    if (keySlot >= 0) this.byKey[keySlot] = next; // it was the head
  }

  /** Rebuilds both indexes, at most half full and at least an eighth, when growth or tombstones call for it. */
  private reindexIfNeeded(force = false): void {
    const capacity = this.exact.length;
    let target = capacity;
    while ((this.size + 1) * 2 > target) target *= 2;
    while (target > MIN_INDEX && this.size * 8 < target) target /= 2;
    const crowded = (this.exactTaken + 1) * 2 > capacity || (this.byKeyTaken + 1) * 2 > capacity;
    if (!force && target === capacity && !crowded) return;
    released(this.exact.byteLength + this.byKey.byteLength);
    this.exact = new Int32Array(target).fill(INDEX_EMPTY);
    this.byKey = new Int32Array(target).fill(INDEX_EMPTY);
    this.exactTaken = 0;
    this.byKeyTaken = 0;
    for (let record = 0; record < this.highWater; record++) if (this.isUsed(record)) this.link(record);
  }

  /** After a withdrawal: records move into as few pages as they need, and the rest is let go. */
  private compactIfSparse(): void {
    const allocated = this.pages.length * PAGE_SIZE;
    if (this.size > 0 && (allocated <= PAGE_SIZE || this.size * 4 >= allocated)) return;
    const oldPages = this.pages;
    const oldHighWater = this.highWater;
    released(oldPages.length * PAGE_SIZE * this.stride * 4);
    this.pages = [];
    this.highWater = 0;
    this.freeHead = -1;
    for (let record = 0; record < oldHighWater; record++) {
      const page = oldPages[record >>> PAGE_BITS] as Uint32Array;
      const start = (record & PAGE_MASK) * this.stride;
      if (((page[start + this.words + W_META] as number) & META_USED) === 0) continue;
      const fresh = this.allocate();
      this.page(fresh).set(page.subarray(start, start + this.stride), this.at(fresh) - this.words);
    }
    this.reindexIfNeeded(true);
  }

  /** Whether removals left the pages or the indexes worth shrinking. */
  private sparse(): boolean {
    if (this.size === 0) return this.pages.length > 0 || this.exact.length > MIN_INDEX;
    return (this.pages.length > 1 && this.size * 4 < this.pages.length * PAGE_SIZE) || (this.exact.length > MIN_INDEX && this.size * 8 < this.exact.length);
  }

  /** Shrinks the pages and indexes now if removals left them sparse. */
  shrink(): void {
    if (this.shrinkTimer) clearTimeout(this.shrinkTimer);
    this.shrinkTimer = undefined;
    if (!this.sparse()) return;
    this.compactIfSparse();
    this.reindexIfNeeded();
  }

  /** Shrinks once removals have paused for a moment (checked, not re-armed, per removal). */
  private shrinkLater(): void {
    this.lastRemoval = Date.now();
    if (this.shrinkTimer || !this.sparse()) return;
    const check = (): void => {
      const quiet = Date.now() - this.lastRemoval;
      if (quiet < SHRINK_AFTER_MS) {
        this.shrinkTimer = setTimeout(check, SHRINK_AFTER_MS - quiet);
        this.shrinkTimer.unref();
        return;
      }
      this.shrink();
    };
    this.shrinkTimer = setTimeout(check, SHRINK_AFTER_MS);
    this.shrinkTimer.unref();
  }

  // ---- reading and writing records -----------------------------------------------------------

  private describe(record: number): RouteRef {
    const r = this.ref;
    const page = this.page(record);
    const a = this.at(record);
    const keyBytes = page[a + W_KEYBYTES] as number;
    r.table = page[a + W_TABLE] as number;
    r.priority = page[a + W_PRIORITY] as number;
    r.fingerprint = page[a + W_FINGERPRINT] as number;
    r.oif = page[a + W_OIF] as number;
    r.dstLength = keyBytes & 0xff;
    r.protocol = (keyBytes >>> 16) & 0xff;
    r.routeType = keyBytes >>> 24;
    // Copied: the record's words may be reused (free list, compaction) before the caller is done.
    for (let k = 0; k < this.words; k++) r.dst[k] = page[a - this.words + k] as number;
    return r;
  }

  /** Writes everything but the key and the list links. */
  private write(record: number, m: RouteMessage, fingerprint: number, nexthops: number): void {
    const page = this.page(record);
    const a = this.at(record);
    if (((page[a + W_META] as number) & META_USED) !== 0) this.uncount(page, a);
    const dev = nexthopDevice(m);
    const flags = (dev < 0 ? FLAG_MULTI_DEVICE : 0) | (m.scope === RT_SCOPE_HOST ? FLAG_HOST_SCOPE : 0);
    page[a + W_FINGERPRINT] = fingerprint;
    page[a + W_OIF] = dev < 0 ? 0 : dev;
    page[a + W_NHID] = m.nhId;
    page[a + W_PREFSRC] = this.words === 1 && m.prefsrcOffset >= 0 ? m.buf.readUInt32LE(m.prefsrcOffset) : 0;
    page[a + W_KEYBYTES] = (m.dstLength | (m.tos << 8) | (m.protocol << 16) | (m.routeType << 24)) >>> 0;
    page[a + W_META] = META_USED | META_SEEN | (flags << 8) | (Math.min(nexthops, 0xffff) << 16);
    bump(this.perDevice, page[a + W_OIF] as number, 1);
    bump(this.perPrefsrc, page[a + W_PREFSRC] as number, 1);
    if (m.protocol !== RTPROT_KERNEL) bump(this.perPrefsrcNotKernel, page[a + W_PREFSRC] as number, 1);
    bump(this.perNexthop, page[a + W_NHID] as number, 1);
  }

  private uncount(page: Uint32Array, a: number): void {
    bump(this.perDevice, page[a + W_OIF] as number, -1);
    bump(this.perPrefsrc, page[a + W_PREFSRC] as number, -1);
    if ((((page[a + W_KEYBYTES] as number) >>> 16) & 0xff) !== RTPROT_KERNEL) bump(this.perPrefsrcNotKernel, page[a + W_PREFSRC] as number, -1);
    bump(this.perNexthop, page[a + W_NHID] as number, -1);
  }

  /** Inserts the message's route (its key already loaded). */
  private insert(m: RouteMessage, fingerprint: number, nexthops: number): void {
    this.size++;
    this.reindexIfNeeded();
    const record = this.allocate();
    const page = this.page(record);
    const a = this.at(record);
    for (let k = 0; k < this.words; k++) page[a - this.words + k] = this.key[k] as number;
    page[a + W_TABLE] = m.table;
    page[a + W_PRIORITY] = m.priority;
    this.write(record, m, fingerprint, nexthops);
    this.link(record);
  }

  private remove(record: number): void {
    this.uncount(this.page(record), this.at(record));
    this.unlink(record);
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
    this.loadKey(m);
    let record = this.findExact(m, fingerprint);
    if (record < 0 && replace) record = this.findFirst(m);
    if (record < 0) {
      this.insert(m, fingerprint, count);
      return 'added';
    }
    const previousProtocol = (this.word(record, W_KEYBYTES) >>> 16) & 0xff;
    const moved = this.word(record, W_FINGERPRINT) !== fingerprint;
    if (moved) this.exactRemove(record);
    // An IPv6 sibling appended to a multipath route (the kernel announces the whole new
    // nexthop set, as a dump lists it), or a route re-announced or replaced.
    this.write(record, m, fingerprint, count);
    if (moved) this.exactInsert(record);
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
    this.loadKey(m);
    let record = this.findExact(m, fingerprint);
    // IPv4 nexthop members may differ from what we saw at add time: fall back to the key.
    if (record < 0 && this.words === 1) record = this.findFirst(m);
    if (record < 0) return undefined;
    if (fingerprint === IPV6_ECMP_FINGERPRINT) {
      const meta = this.word(record, W_META);
      const left = (meta >>> 16) - nexthopCount(m);
      if (left > 0) {
        this.setWord(record, W_META, ((meta & 0xffff) | (left << 16)) >>> 0);
        return undefined;
      }
    }
    const ref = this.describe(record);
    this.remove(record);
    this.shrinkLater();
    return ref;
  }

  /** Removes every route `predicate` picks (given the record's page and field base), reporting each. */
  private removeWhere(predicate: (page: Uint32Array, at: number) => boolean, onRemove: (ref: RouteRef) => void): number {
    let removed = 0;
    for (let record = 0; record < this.highWater; record++) {
      const page = this.page(record);
      const a = this.at(record);
      if (((page[a + W_META] as number) & META_USED) === 0 || !predicate(page, a)) continue;
      onRemove(this.describe(record));
      this.remove(record);
      removed++;
    }
    if (removed > 0) this.shrinkLater();
    return removed;
  }

  /**
   * IPv4 routes whose every nexthop uses `ifindex`, as fib_sync_down_dev drops them: on admin
   * down all but host-scope (local) routes; `force` (device gone, last address removed) all.
   */
  removeDevice(ifindex: number, force: boolean, onRemove: (ref: RouteRef) => void): number {
    if (!this.perDevice.has(ifindex)) return 0;
    const keep = (FLAG_MULTI_DEVICE | (force ? 0 : FLAG_HOST_SCOPE)) << 8;
    return this.removeWhere((page, a) => page[a + W_OIF] === ifindex && ((page[a + W_META] as number) & keep) === 0, onRemove);
  }

  /**
   * Whether some IPv4 route that the kernel did not make itself has `address` (LE) as its
   * preferred source. The routes the kernel makes for an address (local, broadcast, prefix) it
   * deletes with a notification when the address goes; others it may drop silently.
   */
  hasNonKernelPrefsrc(address: number): boolean {
    return this.words === 1 && this.perPrefsrcNotKernel.has(address);
  }

  /** IPv4 routes whose preferred source is `address` (fib_sync_down_addr). Address as read LE from the message. */
  removePrefsrc(address: number, onRemove: (ref: RouteRef) => void): number {
    if (this.words !== 1 || !this.perPrefsrc.has(address)) return 0;
    return this.removeWhere((page, a) => page[a + W_PREFSRC] === address, onRemove);
  }

  /** Routes that use one of these nexthop objects. */
  removeNexthops(ids: ReadonlySet<number>, onRemove: (ref: RouteRef) => void): number {
    if (![...ids].some((id) => this.perNexthop.has(id))) return 0;
    return this.removeWhere((page, a) => (page[a + W_NHID] as number) !== 0 && ids.has(page[a + W_NHID] as number), onRemove);
  }

  /** Starts a resync: every route is unseen until a dump reply or a notification sees it. */
  beginSweep(): void {
    for (let record = 0; record < this.highWater; record++) {
      const page = this.page(record);
      const m = this.at(record) + W_META;
      page[m] = ((page[m] as number) & ~META_SEEN) >>> 0;
    }
  }

  /** Ends a resync: routes the dump did not list are gone. */
  sweep(onRemove: (ref: RouteRef) => void): number {
    return this.removeWhere((page, a) => ((page[a + W_META] as number) & META_SEEN) === 0, onRemove);
  }
}
