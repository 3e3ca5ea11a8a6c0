// Per-route state in compact typed arrays, so that a full BGP table (a million routes) costs a
// few tens of bytes a route and no per-route object or string. From it derive the gauges
// (routes per table/family/protocol) and the repair of routes the kernel drops silently.
//
// The parts are in this folder: identity.ts (which routes are the same route), devices.ts (the
// devices a route's nexthops use), multipath.ts (their dead nexthops), record-store.ts (the
// records), hash-index.ts (the indexes over them), groups.ts (what the counts are keyed by).

import { AF_INET6, RT_SCOPE_HOST, RTPROT_KERNEL } from '../../netlink/constants';
import type { RouteMessage } from '../../netlink/types';
import { acquireMultipath, nexthopCount, nexthopDevice } from './devices';
import { finish, MIGRATE_PER_OPERATION, mix, RecordIndex, SLOT_EMPTY } from './hash-index';
import { IPV6_ECMP_FINGERPRINT, routeFingerprint } from './identity';
import { MultipathSets } from './multipath';
import {
  META_SEEN,
  META_USED,
  RecordStore,
  W_FINGERPRINT,
  W_KEYBYTES,
  W_META,
  W_NEXT,
  W_NHID,
  W_OIF,
  W_PREFSRC,
  W_PREV,
  W_PRIORITY,
  W_TABLE,
} from './record-store';

/**
 * Route flag: the nexthops use more than one device, so `oif` cannot decide a flush. An IPv4
 * one without a nexthop object holds its MultipathSets id in the W_OIF word instead.
 */
const FLAG_MULTI_DEVICE = 1;
/** Route flag: rtm_scope host (local routes): their nexthop scope is "nowhere", and an admin down keeps them. */
const FLAG_HOST_SCOPE = 2;

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

/** Adds `delta` to the count of a non-zero key, forgetting keys that reach 0. */
function bump(counts: Map<number, number>, key: number, delta: number): void {
  if (key === 0) return;
  const next = (counts.get(key) ?? 0) + delta;
  if (next > 0) counts.set(key, next);
  else counts.delete(key);
}

const SHRINK_AFTER_MS = 250;

/** Background work (moving index slots, compaction) runs in slices of about this long. */
const MAINTENANCE_SLICE_MS = 4;
/** Units of background work between two looks at the clock. */
const MIGRATE_STEP = 4096;
const COMPACT_STEP = 1024;

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
  private readonly records: RecordStore;
  private readonly byKey = new RecordIndex(
    (record) => this.recordKeyHash(record),
    () => this.scheduleMaintenance(),
  );
  private readonly exact = new RecordIndex(
    (record) => this.exactHash(record, this.recordKeyHash(record)),
    () => this.scheduleMaintenance(),
  );
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
    this.records = new RecordStore(this.words, (from, to) => this.relocate(from, to));
    this.key = new Uint32Array(this.words);
    this.ref = {
      family,
      table: 0,
      protocol: 0,
      dstLength: 0,
      routeType: 0,
      oif: 0,
      priority: 0,
      fingerprint: 0,
      dst: new Uint32Array(this.words),
      dstIndex: 0,
    };
  }

  get count(): number {
    return this.records.size;
  }

  /** Bytes of typed arrays held (records and indexes). */
  get bytes(): number {
    return this.byKey.bytes + this.exact.bytes + this.records.bytes;
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
    const page = this.records.page(record);
    const a = this.records.at(record);
    return this.keyHash(
      page[a + W_TABLE] as number,
      page[a + W_KEYBYTES] as number,
      page[a + W_PRIORITY] as number,
      page,
      a - this.words,
    );
  }

  /** Loads the message's key into `key` and returns its hash. */
  private loadKey(m: RouteMessage): number {
    for (let k = 0; k < this.words; k++) this.key[k] = m.dstOffset >= 0 ? m.buf.readUInt32LE(m.dstOffset + 4 * k) : 0;
    return this.keyHash(m.table, m.dstLength | (m.tos << 8), m.priority, this.key, 0);
  }

  /** Whether the record has the message's key (loaded by loadKey). */
  private keyEquals(record: number, m: RouteMessage): boolean {
    const page = this.records.page(record);
    const a = this.records.at(record);
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
    if (head < 0 || this.records.word(head, W_FINGERPRINT) === fingerprint) return head;
    if (this.records.word(head, W_NEXT) === head) return -1;
    const hash = finish(mix(h, fingerprint));
    const found = this.findExactIn(this.exact.slots, m, hash, fingerprint);
    return found >= 0 || !this.exact.old ? found : this.findExactIn(this.exact.old, m, hash, fingerprint);
  }

  private findExactIn(slots: Int32Array, m: RouteMessage, hash: number, fingerprint: number): number {
    const mask = slots.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[slot] as number;
      if (entry === SLOT_EMPTY) return -1;
      if (entry > 0 && this.records.word(entry - 1, W_FINGERPRINT) === fingerprint && this.keyEquals(entry - 1, m))
        return entry - 1;
    }
  }

  private exactHash(record: number, h: number): number {
    return finish(mix(h, this.records.word(record, W_FINGERPRINT)));
  }

  /** Indexes a new record: as its key's first route, or at the tail of the key's list (kernel order). */
  private link(record: number, h: number, head: number): void {
    if (head < 0) {
      this.byKey.reserve();
      this.byKey.insert(record, h);
      this.records.setWord(record, W_NEXT, record);
      this.records.setWord(record, W_PREV, record);
      return;
    }
    this.exact.reserve();
    this.exact.insert(record, this.exactHash(record, h));
    const tail = this.records.word(head, W_PREV);
    this.records.setWord(tail, W_NEXT, record);
    this.records.setWord(record, W_PREV, tail);
    this.records.setWord(record, W_NEXT, head);
    this.records.setWord(head, W_PREV, record);
  }

  private unlink(record: number, h: number): void {
    const next = this.records.word(record, W_NEXT);
    if (next === record) {
      this.byKey.remove(record, h);
      return;
    }
    // The first route gone, the next one becomes the first: it leaves `exact` for `byKey`.
    if (this.byKey.replace(record, h, next)) this.exact.remove(next, this.exactHash(next, h));
    else this.exact.remove(record, this.exactHash(record, h));
    const prev = this.records.word(record, W_PREV);
    this.records.setWord(prev, W_NEXT, next);
    this.records.setWord(next, W_PREV, prev);
  }

  /** Per operation while an index is resized: a few more of its slots moved. */
  private migrate(): void {
    if (this.byKey.old) this.byKey.step(MIGRATE_PER_OPERATION);
    if (this.exact.old) this.exact.step(MIGRATE_PER_OPERATION);
  }

  // ---- compaction, after a withdrawal (record-store.ts moves the records) ----------------------

  /** Whether removals left the pages or the indexes worth shrinking. */
  private sparse(): boolean {
    return this.records.sparse() || this.byKey.sparse || this.exact.sparse;
  }

  /** Moves a record to the free record `to`, with its index entry and list links. */
  private relocate(from: number, to: number): void {
    const h = this.recordKeyHash(from);
    if (!this.byKey.replace(from, h, to)) this.exact.replace(from, this.exactHash(from, h), to);
    const source = this.records.page(from);
    const target = this.records.page(to);
    const a = this.records.at(from) - this.words;
    const b = this.records.at(to) - this.words;
    for (let k = 0; k < this.records.stride; k++) target[b + k] = source[a + k] as number;
    const next = this.records.word(from, W_NEXT);
    if (next === from) {
      this.records.setWord(to, W_NEXT, to);
      this.records.setWord(to, W_PREV, to);
    } else {
      this.records.setWord(this.records.word(from, W_PREV), W_NEXT, to);
      this.records.setWord(next, W_PREV, to);
    }
    this.records.setWord(from, W_META, 0);
  }

  // ---- giving memory back ----------------------------------------------------------------------

  /** Shrinks the pages and indexes now if removals left them sparse (and finishes any resize). */
  shrink(): void {
    if (this.shrinkTimer) clearTimeout(this.shrinkTimer);
    this.shrinkTimer = undefined;
    this.shrinkWanted = false;
    this.records.startCompaction();
    while (this.records.compacting) this.records.compact(Infinity);
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
      else if (this.records.compacting) this.records.compact(COMPACT_STEP);
      else if (this.shrinkWanted) {
        this.records.startCompaction();
        if (this.records.compacting) continue; // smaller indexes after it
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
    const page = this.records.page(record);
    const a = this.records.at(record);
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
    const page = this.records.page(record);
    const a = this.records.at(record);
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
    if ((((page[a + W_KEYBYTES] as number) >>> 16) & 0xff) !== RTPROT_KERNEL)
      bump(this.perPrefsrcNotKernel, page[a + W_PREFSRC] as number, -1);
    bump(this.perNexthop, page[a + W_NHID] as number, -1);
  }

  private isMultiDevice(page: Uint32Array, a: number): boolean {
    return (((page[a + W_META] as number) >>> 8) & FLAG_MULTI_DEVICE) !== 0;
  }

  private acquireMultipath(m: RouteMessage): number {
    return acquireMultipath(this.multipath, m);
  }

  /** Inserts the message's route (its key loaded, hash h; `head` the key's first route, or -1). */
  private insert(m: RouteMessage, h: number, fingerprint: number, nexthops: number, head: number): void {
    this.records.size++;
    const record = this.records.allocate();
    const page = this.records.page(record);
    const a = this.records.at(record);
    for (let k = 0; k < this.words; k++) page[a - this.words + k] = this.key[k] as number;
    page[a + W_TABLE] = m.table;
    page[a + W_PRIORITY] = m.priority;
    this.write(record, m, fingerprint, nexthops);
    this.link(record, h, head);
  }

  private remove(record: number, h = this.recordKeyHash(record)): void {
    this.migrate();
    this.uncount(this.records.page(record), this.records.at(record));
    this.unlink(record, h);
    this.records.release(record);
    this.records.size--;
  }

  // ---- operations ----------------------------------------------------------------------------

  /**
   * Applies RTM_NEWROUTE (a notification or a dump reply). Returns what happened:
   * 'added' (a new route), 'replaced' (an existing one changed; onChange gets its old protocol),
   * or 'same' (an IPv6 sibling nexthop joined a route, or a repeat of a route we hold).
   */
  applyNew(
    m: RouteMessage,
    replace: boolean,
    onChange: (ref: RouteRef, previousProtocol: number) => void,
  ): 'added' | 'replaced' | 'same' {
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
    const previousProtocol = (this.records.word(record, W_KEYBYTES) >>> 16) & 0xff;
    // Only routes after the first are in `exact`, under their fingerprint.
    const moved = record !== head && this.records.word(record, W_FINGERPRINT) !== fingerprint;
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
      const meta = this.records.word(record, W_META);
      const left = (meta >>> 16) - nexthopCount(m);
      if (left > 0) {
        this.records.setWord(record, W_META, ((meta & 0xffff) | (left << 16)) >>> 0);
        return undefined;
      }
    }
    const ref = this.describe(record);
    this.remove(record, h);
    this.shrinkLater();
    return ref;
  }

  /** Removes every route `predicate` picks (given the record's page and field base), reporting each. */
  private removeWhere(
    predicate: (page: Uint32Array, at: number) => boolean,
    onRemove: (ref: RouteRef) => void,
  ): number {
    let removed = 0;
    for (let record = 0; record < this.records.highWater; record++) {
      const page = this.records.page(record);
      const a = this.records.at(record);
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
    return this.removeWhere(
      (page, a) => page[a + W_OIF] === ifindex && ((page[a + W_META] as number) & keep) === 0,
      onRemove,
    );
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
    return this.removeWhere(
      (page, a) => (page[a + W_NHID] as number) !== 0 && ids.has(page[a + W_NHID] as number),
      onRemove,
    );
  }

  /** Starts a resync: every route is unseen until a dump reply or a notification sees it. */
  beginSweep(): void {
    for (let record = 0; record < this.records.highWater; record++) {
      const page = this.records.page(record);
      const m = this.records.at(record) + W_META;
      page[m] = ((page[m] as number) & ~META_SEEN) >>> 0;
    }
  }

  /** Ends a resync: routes the dump did not list are gone. */
  sweep(onRemove: (ref: RouteRef) => void): number {
    return this.removeWhere((page, a) => ((page[a + W_META] as number) & META_SEEN) === 0, onRemove);
  }
}
