// The route table's records: fixed-size records of u32 words in pages of one Uint32Array each,
// handed out from a free list, grown a page (or a doubling of the first page) at a time, and
// compacted down again after a withdrawal so the memory goes back. It knows the record layout;
// what the words mean for a route, and the indexes that point at records, are the table's.

import { released } from '../../runtime/memory';

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
export const MIN_RECORDS = 8;

// Record layout in u32 words, after the destination (1 word for IPv4, 4 for IPv6).
export const W_TABLE = 0;
export const W_PRIORITY = 1;
export const W_FINGERPRINT = 2;
export const W_OIF = 3;
export const W_NHID = 4;
export const W_PREFSRC = 5;
/** dstLength | tos << 8 | protocol << 16 | routeType << 24. */
export const W_KEYBYTES = 6;
/** used (bit 0) | seen (bit 1) | flags << 8 | nexthops << 16; a free record holds the next free index (+1) in its first word. */
export const W_META = 7;
/** The circular list of routes with the same key (many devices' fe80::/64, `ip route append`), in the kernel's order. */
export const W_NEXT = 8;
export const W_PREV = 9;
const RECORD_WORDS = 10;
export const META_USED = 1;
export const META_SEEN = 2;

/**
 * Records of one family's routes: `words` destination words (1 for IPv4, 4 for IPv6), then
 * RECORD_WORDS words laid out as above. Compaction moves records down through `relocate`, the
 * owner's, which also moves what points at them (index entries, list links).
 */
export class RecordStore {
  readonly words: number;
  readonly stride: number;
  private pages: Uint32Array[] = [];
  /** Records ever handed out (the next fresh one). */
  highWater = 0;
  private freeHead = -1;
  /** Records in use. */
  size = 0;
  /** Records the pages can hold (full pages, or one first page smaller than a full one); kept by setPages. */
  private capacity = 0;
  /** While compacting: records from here up move into free records below it (-1: not compacting). */
  private compactLimit = -1;
  /** The record compaction looks at next, going down. */
  private compactNext = -1;

  constructor(
    words: number,
    private readonly relocate: (from: number, to: number) => void,
  ) {
    this.words = words;
    this.stride = words + RECORD_WORDS;
  }

  /** Bytes of the pages. */
  get bytes(): number {
    let bytes = 0;
    for (const page of this.pages) bytes += page.byteLength;
    return bytes;
  }

  private setPages(pages: Uint32Array[]): void {
    this.pages = pages;
    const n = pages.length;
    this.capacity = n === 0 ? 0 : (n - 1) * PAGE_SIZE + (pages[n - 1] as Uint32Array).length / this.stride;
  }

  // ---- records -------------------------------------------------------------------------------

  page(record: number): Uint32Array {
    return this.pages[record >>> PAGE_BITS] as Uint32Array;
  }

  /** Index of the record's first word after the destination, in its page. */
  at(record: number): number {
    return (record & PAGE_MASK) * this.stride + this.words;
  }

  word(record: number, field: number): number {
    return this.page(record)[this.at(record) + field] as number;
  }

  setWord(record: number, field: number, value: number): void {
    this.page(record)[this.at(record) + field] = value;
  }

  private popFree(): number {
    const record = this.freeHead;
    this.freeHead = (this.page(record)[this.at(record) - this.words] as number) - 1;
    return record;
  }

  allocate(): number {
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

  release(record: number): void {
    this.setWord(record, W_META, 0);
    this.page(record)[this.at(record) - this.words] = this.freeHead + 1;
    this.freeHead = record;
  }

  /** Makes every unused record below highWater free, the lowest handed out first. */
  private rebuildFreeList(): void {
    this.freeHead = -1;
    for (let record = this.highWater - 1; record >= 0; record--) if (!this.isUsed(record)) this.release(record);
  }

  isUsed(record: number): boolean {
    return (this.word(record, W_META) & META_USED) !== 0;
  }

  // ---- compaction, after a withdrawal ----------------------------------------------------------

  get compacting(): boolean {
    return this.compactLimit >= 0;
  }

  /** Whether removals left the pages worth shrinking. */
  sparse(): boolean {
    const allocated = this.capacity;
    return this.size === 0 ? allocated > 0 : allocated > MIN_RECORDS && this.size * 4 < allocated;
  }

  /** Starts moving the records into as little room as they need; the rest is let go when done. */
  startCompaction(): void {
    if (this.compactLimit >= 0 || !this.sparse()) return;
    this.compactLimit = this.capacityAfterCompaction();
    this.compactNext = this.highWater - 1;
  }

  /** Moves up to `count` records from above the limit down, and drops the emptied pages when none is left. */
  compact(count: number): void {
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
}
