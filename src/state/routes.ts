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

import { AF_INET6, RT_SCOPE_HOST, RTA_GATEWAY, RTA_VIA, RTNH_F_DEAD, RTPROT_KERNEL, RTPROT_RA } from '../netlink/constants';
import { NexthopCursor } from '../netlink/nexthops';
import type { RouteMessage } from '../netlink/types';
import { released } from '../runtime/memory';
import { MultipathSets } from './multipath';

/** The fingerprint every IPv6 ECMP-class route shares: its siblings are one route. */
const IPV6_ECMP_FINGERPRINT = 0x9e3779b9;

/**
 * Route flag: the nexthops use more than one device, so `oif` cannot decide a flush. An IPv4
 * one without a nexthop object holds its MultipathSets id in the W_OIF word instead.
 */
const FLAG_MULTI_DEVICE = 1;
/** Route flag: rtm_scope host (local routes): their nexthop scope is "nowhere", and an admin down keeps them. */
const FLAG_HOST_SCOPE = 2;

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

/**
 * The codec's walker over a message's RTA_MULTIPATH records (decodeRoute checked them all, so
 * it stops only at their end); one, as the table's calls never nest.
 */
const nexthops = new NexthopCursor();

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
    const nh = nexthops.reset(buf, m.multipathOffset, m.multipathLength);
    while (nh.next()) {
      h = mix(h, nh.hops); // rtnh_hops, not rtnh_flags
      h = mix(h, nh.ifindex);
      const it = nh.attributes();
      while (it.next()) {
        if (it.type === RTA_GATEWAY || it.type === RTA_VIA) {
          for (let i = it.offset; i + 4 <= it.offset + it.length; i += 4) h = mix(h, buf.readUInt32LE(i));
        }
      }
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

/** Adds `delta` to the count of a non-zero key, forgetting keys that reach 0. */
function bump(counts: Map<number, number>, key: number, delta: number): void {
  if (key === 0) return;
  const next = (counts.get(key) ?? 0) + delta;
  if (next > 0) counts.set(key, next);
  else counts.delete(key);
}

const SHRINK_AFTER_MS = 250;

/**
 * Records per full page. Past the first page, pages are added as the table grows, so growing a
 * big table never copies its records.
 */
const PAGE_BITS = 16;
const PAGE_SIZE = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_SIZE - 1;
/**
 * The first page starts at this many records and doubles (a copy) up to PAGE_SIZE: a pod's
 * namespace holds a handful of routes per family, and a full page (2.9 MB for IPv4, 3.7 MB for
 * IPv6) per namespace and family made 250 pods cost gigabytes. The copies up to a full page
 * cost about two page writes once per table.
 */
const MIN_RECORDS = 8;
/** Index slots at the least (a power of two): an index, too, grows with the routes. */
const MIN_INDEX = 16;
/** Index slots hold a record number + 1, so a new (zeroed) index is empty without a pass to fill it. */
const SLOT_EMPTY = 0;
const SLOT_TOMBSTONE = -1;
/**
 * Slots of an index's old array moved per operation while it is resized. An index doubles when
 * half full, so it is half full again only after as many inserts as the old array has slots,
 * divided by 2: at 16 slots an operation the move is done long before.
 */
const MIGRATE_PER_OPERATION = 16;
/** Background work (moving index slots, compaction) runs in slices of about this long. */
const MAINTENANCE_SLICE_MS = 4;
/** Units of background work between two looks at the clock. */
const MIGRATE_STEP = 4096;
const COMPACT_STEP = 1024;

/** The power-of-two size for `count` entries: at most half full, at least an eighth (or MIN_INDEX). */
function capacityFor(capacity: number, count: number): number {
  let target = capacity;
  while ((count + 1) * 2 > target) target *= 2;
  while (target > MIN_INDEX && count * 8 < target) target /= 2;
  return target;
}

/** Writes `value` over the slot of `slots` that holds `entry`, probing from `hash`; false if none does. */
function overwrite(slots: Int32Array, hash: number, entry: number, value: number): boolean {
  const mask = slots.length - 1;
  for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
    const found = slots[slot] as number;
    if (found === entry) {
      slots[slot] = value;
      return true;
    }
    if (found === SLOT_EMPTY) return false;
  }
}

/**
 * An open-addressing index of record numbers (linear probing, at most half full). A resize
 * keeps the old array and moves its entries over a few slots per operation (step) and in the
 * background, so none stops the exporter: at a million routes, rebuilding in one go took 250
 * ms. Meanwhile each entry is in exactly one of the two arrays, and lookups search both.
 */
class RecordIndex {
  slots = new Int32Array(MIN_INDEX);
  /** The array being moved out of, during a resize. */
  old: Int32Array | undefined;
  /** Entries held. */
  count = 0;
  /** Filled or tombstoned slots of `slots` (tombstones, too, lengthen probes). */
  private taken = 0;
  /** Slots of `old` below this one are moved. */
  private moved = 0;

  /** `hashOf` hashes a record as it is indexed; `onResize` is told when a resize starts (to move it along in the background). */
  constructor(
    private readonly hashOf: (record: number) => number,
    private readonly onResize: () => void,
  ) {}

  get bytes(): number {
    return this.slots.byteLength + (this.old?.byteLength ?? 0);
  }

  /** Before an insert: resizes when the index would be over half full, or tombstones crowd it. */
  reserve(): void {
    const capacity = this.slots.length;
    let target = capacityFor(capacity, this.count + 1);
    const crowded = (this.taken + 1) * 2 > capacity;
    // Rebuilt at the same size, a crowded index more than a quarter full would soon be again.
    if (crowded && target === capacity && (this.count + 1) * 4 > capacity) target *= 2;
    if (target !== capacity || crowded) this.resize(target);
  }

  /** Whether removals left the index worth shrinking. */
  get sparse(): boolean {
    return capacityFor(this.slots.length, this.count) < this.slots.length;
  }

  shrink(): void {
    if (this.sparse) this.resize(capacityFor(this.slots.length, this.count));
  }

  private resize(capacity: number): void {
    this.step(Infinity); // a resize during one (rare: see MIGRATE_PER_OPERATION) finishes it first
    this.old = this.slots;
    this.moved = 0;
    this.slots = new Int32Array(capacity);
    this.taken = 0;
    this.onResize();
  }

  /** Moves up to `n` slots of the old array over, and lets it go once all are. */
  step(n: number): void {
    const old = this.old;
    if (!old) return;
    const end = Math.min(old.length, this.moved + n);
    for (let slot = this.moved; slot < end; slot++) {
      const entry = old[slot] as number;
      if (entry <= 0) continue;
      old[slot] = SLOT_TOMBSTONE; // probes in `old` go on past it
      this.put(entry - 1, this.hashOf(entry - 1));
    }
    this.moved = end;
    if (end < old.length) return;
    this.old = undefined;
    released(old.byteLength);
  }

  insert(record: number, hash: number): void {
    this.count++;
    this.put(record, hash);
  }

  private put(record: number, hash: number): void {
    const slots = this.slots;
    const mask = slots.length - 1;
    let slot = hash & mask;
    while ((slots[slot] as number) > 0) slot = (slot + 1) & mask;
    if (slots[slot] === SLOT_EMPTY) this.taken++;
    slots[slot] = record + 1;
  }

  /** Removes the record's entry; false if it has none. */
  remove(record: number, hash: number): boolean {
    if (!this.overwrite(record, hash, SLOT_TOMBSTONE)) return false;
    this.count--;
    return true;
  }

  /** Points the record's entry at record `other` instead; false if it has none. */
  replace(record: number, hash: number, other: number): boolean {
    return this.overwrite(record, hash, other + 1);
  }

  private overwrite(record: number, hash: number, value: number): boolean {
    return overwrite(this.slots, hash, record + 1, value) || (this.old !== undefined && overwrite(this.old, hash, record + 1, value));
  }
}

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
/** The circular list of routes with the same key (many devices' fe80::/64, `ip route append`), in the kernel's order. */
const W_NEXT = 8;
const W_PREV = 9;
const RECORD_WORDS = 10;
const META_USED = 1;
const META_SEEN = 2;

/**
 * One family's routes: records in pages of one Uint32Array each (44 bytes an IPv4 route, 56 an
 * IPv6 one; the first page starts at a few records and doubles up to full size) and two indexes of record numbers: `byKey` by the kernel's key,
 * pointing at the first of the routes that share it (what a replace names, and most keys have
 * only one route), and `exact` by key and nexthop fingerprint for the others (what a
 * notification names, when it is not the first). A million routes with distinct keys cost one
 * index, and thousands of routes with one key (fe80::/64 on every veth of a Kubernetes node)
 * no long probe. An empty table holds no page and two indexes of 16 slots, so a namespace with
 * five routes costs about a kilobyte. Growth doubles the first page, then adds pages, and
 * resizes an index a few slots per operation; a withdrawal compacts the records (down to a
 * small first page again), in short slices once removals pause, and gives the memory back.
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
  private readonly byKey = new RecordIndex(
    (record) => this.recordKeyHash(record),
    () => this.scheduleMaintenance(),
  );
  private readonly exact = new RecordIndex(
    (record) => this.exactHash(record, this.recordKeyHash(record)),
    () => this.scheduleMaintenance(),
  );
  /** While compacting: records from here up move into free records below it (-1: not compacting). */
  private compactLimit = -1;
  /** The record compaction looks at next, going down. */
  private compactNext = -1;
  /** Set when removals have paused: compaction, then smaller indexes, as the size calls for. */
  private shrinkWanted = false;
  private maintenance: NodeJS.Immediate | undefined;
  /** How long a background slice may run; tests pass 0 (one step a slice) to land operations between the steps. */
  private readonly sliceMs: number;
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
  /** IPv4 routes over several devices: which devices, which of their nexthops are dead. */
  private readonly multipath = new MultipathSets();
  /** Shrinking waits until removals pause: a withdrawal must not stall on a compaction. */
  private shrinkTimer: NodeJS.Timeout | undefined;
  private lastRemoval = 0;

  constructor(family: number, options: { maintenanceSliceMs?: number } = {}) {
    this.family = family;
    this.sliceMs = options.maintenanceSliceMs ?? MAINTENANCE_SLICE_MS;
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
    let bytes = this.byKey.bytes + this.exact.bytes;
    for (const page of this.pages) bytes += page.byteLength;
    return bytes;
  }

  /** Records the pages can hold (full pages, or one first page smaller than a full one); kept by setPages. */
  private capacity = 0;

  private setPages(pages: Uint32Array[]): void {
    this.pages = pages;
    const n = pages.length;
    this.capacity = n === 0 ? 0 : (n - 1) * PAGE_SIZE + (pages[n - 1] as Uint32Array).length / this.stride;
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

  private popFree(): number {
    const record = this.freeHead;
    this.freeHead = (this.page(record)[this.at(record) - this.words] as number) - 1;
    return record;
  }

  private allocate(): number {
    if (this.compactLimit >= 0) {
      // Compaction is emptying the records above its limit: take a free one below.
      const record = this.allocateBelow(this.compactLimit);
      if (record >= 0) return record;
      this.stopCompaction(); // the table grew back
    }
    if (this.freeHead >= 0) return this.popFree();
    const record = this.highWater++;
    if (record >= this.capacity) this.grow();
    return record;
  }

  /** Room for one more record: the first page doubles (copied) until it is full size, then pages are added. */
  private grow(): void {
    const first = this.pages[0];
    if (first === undefined) {
      this.setPages([new Uint32Array(MIN_RECORDS * this.stride)]);
    } else if (this.pages.length === 1 && first.length < PAGE_SIZE * this.stride) {
      const bigger = new Uint32Array(Math.min(first.length * 2, PAGE_SIZE * this.stride));
      bigger.set(first);
      this.setPages([bigger]);
      released(first.byteLength);
    } else {
      this.setPages([...this.pages, new Uint32Array(PAGE_SIZE * this.stride)]);
    }
  }

  /**
   * The records to keep room for after a compaction: twice the routes (so that the next few
   * adds do not grow it again), as a power of two, up to a full page; past that, whole pages.
   */
  private capacityAfterCompaction(): number {
    if (this.size === 0) return 0;
    if (this.size > PAGE_SIZE / 2) return Math.ceil(this.size / PAGE_SIZE) * PAGE_SIZE;
    let records = MIN_RECORDS;
    while (records < this.size * 2) records *= 2;
    return records;
  }

  /** A free record below `limit`, or -1; the free ones above it leave the free list (compaction drops them). */
  private allocateBelow(limit: number): number {
    while (this.freeHead >= 0) {
      const record = this.popFree();
      if (record < limit) return record;
    }
    return -1;
  }

  private release(record: number): void {
    this.setWord(record, W_META, 0);
    this.page(record)[this.at(record) - this.words] = this.freeHead + 1;
    this.freeHead = record;
  }

  /** Makes every unused record below highWater free, the lowest handed out first. */
  private rebuildFreeList(): void {
    this.freeHead = -1;
    for (let record = this.highWater - 1; record >= 0; record--) if (!this.isUsed(record)) this.release(record);
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

  /** Loads the message's key into `key` and returns its hash. */
  private loadKey(m: RouteMessage): number {
    for (let k = 0; k < this.words; k++) this.key[k] = m.dstOffset >= 0 ? m.buf.readUInt32LE(m.dstOffset + 4 * k) : 0;
    return this.keyHash(m.table, m.dstLength | (m.tos << 8), m.priority, this.key, 0);
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

  // ---- lookups and links ---------------------------------------------------------------------
  // `h` is the hash of the key (loadKey, recordKeyHash).

  /** The first route with the message's key (the one the kernel replaces), or -1. */
  private findFirst(m: RouteMessage, h: number): number {
    const found = this.findKeyIn(this.byKey.slots, m, h);
    return found >= 0 || !this.byKey.old ? found : this.findKeyIn(this.byKey.old, m, h);
  }

  private findKeyIn(slots: Int32Array, m: RouteMessage, h: number): number {
    const mask = slots.length - 1;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[slot] as number;
      if (entry === SLOT_EMPTY) return -1;
      if (entry > 0 && this.keyEquals(entry - 1, m)) return entry - 1;
    }
  }

  /** The route with the message's key and this fingerprint, given the key's first route (`head`, -1 if none), or -1. */
  private findExact(m: RouteMessage, h: number, fingerprint: number, head: number): number {
    if (head < 0 || this.word(head, W_FINGERPRINT) === fingerprint) return head;
    if (this.word(head, W_NEXT) === head) return -1;
    const hash = finish(mix(h, fingerprint));
    const found = this.findExactIn(this.exact.slots, m, hash, fingerprint);
    return found >= 0 || !this.exact.old ? found : this.findExactIn(this.exact.old, m, hash, fingerprint);
  }

  private findExactIn(slots: Int32Array, m: RouteMessage, hash: number, fingerprint: number): number {
    const mask = slots.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[slot] as number;
      if (entry === SLOT_EMPTY) return -1;
      if (entry > 0 && this.word(entry - 1, W_FINGERPRINT) === fingerprint && this.keyEquals(entry - 1, m)) return entry - 1;
    }
  }

  private exactHash(record: number, h: number): number {
    return finish(mix(h, this.word(record, W_FINGERPRINT)));
  }

  /** Indexes a new record: as its key's first route, or at the tail of the key's list (kernel order). */
  private link(record: number, h: number, head: number): void {
    if (head < 0) {
      this.byKey.reserve();
      this.byKey.insert(record, h);
      this.setWord(record, W_NEXT, record);
      this.setWord(record, W_PREV, record);
      return;
    }
    this.exact.reserve();
    this.exact.insert(record, this.exactHash(record, h));
    const tail = this.word(head, W_PREV);
    this.setWord(tail, W_NEXT, record);
    this.setWord(record, W_PREV, tail);
    this.setWord(record, W_NEXT, head);
    this.setWord(head, W_PREV, record);
  }

  private unlink(record: number, h: number): void {
    const next = this.word(record, W_NEXT);
    if (next === record) {
      this.byKey.remove(record, h);
      return;
    }
    // The first route gone, the next one becomes the first: it leaves `exact` for `byKey`.
    if (this.byKey.replace(record, h, next)) this.exact.remove(next, this.exactHash(next, h));
    else this.exact.remove(record, this.exactHash(record, h));
    const prev = this.word(record, W_PREV);
    this.setWord(prev, W_NEXT, next);
    this.setWord(next, W_PREV, prev);
  }

  /** Per operation while an index is resized: a few more of its slots moved. */
  private migrate(): void {
    if (this.byKey.old) this.byKey.step(MIGRATE_PER_OPERATION);
    if (this.exact.old) this.exact.step(MIGRATE_PER_OPERATION);
  }

  // ---- compaction, after a withdrawal ----------------------------------------------------------

  /** Whether removals left the pages or the indexes worth shrinking. */
  private sparse(): boolean {
    return this.pagesSparse() || this.byKey.sparse || this.exact.sparse;
  }

  private pagesSparse(): boolean {
    const allocated = this.capacity;
    return this.size === 0 ? allocated > 0 : allocated > MIN_RECORDS && this.size * 4 < allocated;
  }

  /** Starts moving the records into as little room as they need; the rest is let go when done. */
  private startCompaction(): void {
    if (this.compactLimit >= 0 || !this.pagesSparse()) return;
    this.compactLimit = this.capacityAfterCompaction();
    this.compactNext = this.highWater - 1;
  }

  /** Moves up to `count` records from above the limit down, and drops the emptied pages when none is left. */
  private compact(count: number): void {
    const limit = this.compactLimit;
    for (; this.compactNext >= limit && count > 0; this.compactNext--) {
      const record = this.compactNext;
      if (!this.isUsed(record)) continue;
      const to = this.allocateBelow(limit);
      if (to < 0) return this.stopCompaction(); // the table grew back meanwhile
      this.relocate(record, to);
      count--;
    }
    if (this.compactNext >= limit) return;
    const before = this.bytes;
    if (limit >= PAGE_SIZE) this.setPages(this.pages.slice(0, limit / PAGE_SIZE));
    else if (limit === 0) this.setPages([]);
    else this.setPages([(this.pages[0] as Uint32Array).slice(0, limit * this.stride)]);
    released(before - this.bytes);
    this.highWater = Math.min(this.highWater, limit);
    this.stopCompaction();
  }

  private stopCompaction(): void {
    this.compactLimit = -1;
    this.rebuildFreeList(); // without the free records above the limit that allocateBelow passed over
  }

  /** Moves a record to the free record `to`, with its index entry and list links. */
  private relocate(from: number, to: number): void {
    const h = this.recordKeyHash(from);
    if (!this.byKey.replace(from, h, to)) this.exact.replace(from, this.exactHash(from, h), to);
    const source = this.page(from);
    const target = this.page(to);
    const a = this.at(from) - this.words;
    const b = this.at(to) - this.words;
    for (let k = 0; k < this.stride; k++) target[b + k] = source[a + k] as number;
    const next = this.word(from, W_NEXT);
    if (next === from) {
      this.setWord(to, W_NEXT, to);
      this.setWord(to, W_PREV, to);
    } else {
      this.setWord(this.word(from, W_PREV), W_NEXT, to);
      this.setWord(next, W_PREV, to);
    }
    this.setWord(from, W_META, 0);
  }

  // ---- giving memory back ----------------------------------------------------------------------

  /** Shrinks the pages and indexes now if removals left them sparse (and finishes any resize). */
  shrink(): void {
    if (this.shrinkTimer) clearTimeout(this.shrinkTimer);
    this.shrinkTimer = undefined;
    this.shrinkWanted = false;
    this.startCompaction();
    while (this.compactLimit >= 0) this.compact(Infinity);
    for (const index of [this.byKey, this.exact]) {
      index.step(Infinity);
      index.shrink();
      index.step(Infinity);
    }
  }

  /** Stops the background work (its namespace is gone): no timer or immediate keeps the table alive. */
  close(): void {
    if (this.shrinkTimer) clearTimeout(this.shrinkTimer);
    this.shrinkTimer = undefined;
    if (this.maintenance) clearImmediate(this.maintenance);
    this.maintenance = undefined;
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
      this.shrinkTimer = undefined;
      this.shrinkWanted = true;
      this.scheduleMaintenance();
    };
    this.shrinkTimer = setTimeout(check, SHRINK_AFTER_MS);
    this.shrinkTimer.unref();
  }

  private scheduleMaintenance(): void {
    if (this.maintenance) return;
    this.maintenance = setImmediate(() => this.maintain());
    this.maintenance.unref();
  }

  /**
   * Background work, a slice of about MAINTENANCE_SLICE_MS at a time: index resizes (which
   * operations also move along), then a wanted shrink: compaction, then smaller indexes.
   */
  private maintain(): void {
    this.maintenance = undefined;
    const until = performance.now() + this.sliceMs;
    do {
      if (this.byKey.old) this.byKey.step(MIGRATE_STEP);
      else if (this.exact.old) this.exact.step(MIGRATE_STEP);
      else if (this.compactLimit >= 0) this.compact(COMPACT_STEP);
      else if (this.shrinkWanted) {
        this.startCompaction();
        if (this.compactLimit >= 0) continue; // smaller indexes after it
        this.shrinkWanted = false;
        this.byKey.shrink();
        this.exact.shrink();
      } else return;
    } while (performance.now() < until);
    this.scheduleMaintenance();
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
    r.oif = this.isMultiDevice(page, a) ? 0 : (page[a + W_OIF] as number);
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
    page[a + W_OIF] = dev >= 0 ? dev : this.words === 1 && m.nhId === 0 ? this.acquireMultipath(m) : 0;
    page[a + W_NHID] = m.nhId;
    page[a + W_PREFSRC] = this.words === 1 && m.prefsrcOffset >= 0 ? m.buf.readUInt32LE(m.prefsrcOffset) : 0;
    page[a + W_KEYBYTES] = (m.dstLength | (m.tos << 8) | (m.protocol << 16) | (m.routeType << 24)) >>> 0;
    page[a + W_META] = META_USED | META_SEEN | (flags << 8) | (Math.min(nexthops, 0xffff) << 16);
    if (dev >= 0) bump(this.perDevice, dev, 1);
    bump(this.perPrefsrc, page[a + W_PREFSRC] as number, 1);
    if (m.protocol !== RTPROT_KERNEL) bump(this.perPrefsrcNotKernel, page[a + W_PREFSRC] as number, 1);
    bump(this.perNexthop, page[a + W_NHID] as number, 1);
  }

  private uncount(page: Uint32Array, a: number): void {
    if (!this.isMultiDevice(page, a)) bump(this.perDevice, page[a + W_OIF] as number, -1);
    else if (this.words === 1 && page[a + W_OIF] !== 0) this.multipath.release(page[a + W_OIF] as number);
    bump(this.perPrefsrc, page[a + W_PREFSRC] as number, -1);
    if ((((page[a + W_KEYBYTES] as number) >>> 16) & 0xff) !== RTPROT_KERNEL) bump(this.perPrefsrcNotKernel, page[a + W_PREFSRC] as number, -1);
    bump(this.perNexthop, page[a + W_NHID] as number, -1);
  }

  private isMultiDevice(page: Uint32Array, a: number): boolean {
    return ((((page[a + W_META] as number) >>> 8) & FLAG_MULTI_DEVICE) !== 0);
  }

  private acquireMultipath(m: RouteMessage): number {
    return this.multipath.acquire(mpDevices, mpDead, multipathDevices(m));
  }

  /** Inserts the message's route (its key loaded, hash h; `head` the key's first route, or -1). */
  private insert(m: RouteMessage, h: number, fingerprint: number, nexthops: number, head: number): void {
    this.size++;
    const record = this.allocate();
    const page = this.page(record);
    const a = this.at(record);
    for (let k = 0; k < this.words; k++) page[a - this.words + k] = this.key[k] as number;
    page[a + W_TABLE] = m.table;
    page[a + W_PRIORITY] = m.priority;
    this.write(record, m, fingerprint, nexthops);
    this.link(record, h, head);
  }

  private remove(record: number, h = this.recordKeyHash(record)): void {
    this.migrate();
    this.uncount(this.page(record), this.at(record));
    this.unlink(record, h);
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
    this.migrate();
    const fingerprint = routeFingerprint(m);
    const count = nexthopCount(m);
    const h = this.loadKey(m);
    const head = this.findFirst(m, h);
    let record = this.findExact(m, h, fingerprint, head);
    if (record < 0 && replace) record = head;
    if (record < 0) {
      this.insert(m, h, fingerprint, count, head);
      return 'added';
    }
    const previousProtocol = (this.word(record, W_KEYBYTES) >>> 16) & 0xff;
    // Only routes after the first are in `exact`, under their fingerprint.
    const moved = record !== head && this.word(record, W_FINGERPRINT) !== fingerprint;
    if (moved) this.exact.remove(record, this.exactHash(record, h));
    // An IPv6 sibling appended to a multipath route (the kernel announces the whole new
    // nexthop set, as a dump lists it), or a route re-announced or replaced.
    this.write(record, m, fingerprint, count);
    if (moved) {
      this.exact.reserve();
      this.exact.insert(record, this.exactHash(record, h));
    }
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
    const h = this.loadKey(m);
    const head = this.findFirst(m, h);
    let record = this.findExact(m, h, fingerprint, head);
    // IPv4 nexthop members may differ from what we saw at add time: fall back to the key.
    if (record < 0 && this.words === 1) record = head;
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
    this.remove(record, h);
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

  /** IPv4 multipath routes of these MultipathSets ids. */
  private removeMultipath(ids: ReadonlySet<number>, onRemove: (ref: RouteRef) => void): number {
    if (ids.size === 0) return 0;
    return this.removeWhere((page, a) => this.isMultiDevice(page, a) && ids.has(page[a + W_OIF] as number), onRemove);
  }

  /**
   * IPv4 multipath routes over several devices, when `ifindex` goes admin down or loses its
   * last IPv4 address: those whose nexthops are now all dead (see multipath.ts).
   */
  multipathDeviceDown(ifindex: number, onRemove: (ref: RouteRef) => void): number {
    return this.words === 1 ? this.removeMultipath(this.multipath.deviceDown(ifindex), onRemove) : 0;
  }

  /** IPv4 multipath routes over several devices, when `ifindex` is unregistered: every one with a nexthop on it. */
  multipathDeviceGone(ifindex: number, onRemove: (ref: RouteRef) => void): number {
    return this.words === 1 ? this.removeMultipath(this.multipath.deviceGone(ifindex), onRemove) : 0;
  }

  /** `ifindex` admin up, or given an IPv4 address while up: its multipath nexthops are alive again. */
  multipathDeviceUp(ifindex: number): void {
    if (this.words === 1) this.multipath.deviceUp(ifindex);
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
