// An open-addressing index of record numbers (RecordIndex), resized a few slots per operation,
// and the hash mixing the route table and its multipath sets feed their keys through. Generic:
// the index knows a record only by its number, and asks its owner for the record's hash.

import { released } from '../../runtime/memory';

export function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}

/** MurmurHash3's finaliser: every input bit reaches the low bits an index mask keeps. */
export function finish(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Index slots at the least (a power of two): an index, too, grows with the routes. */
const MIN_INDEX = 16;
/** Index slots hold a record number + 1, so a new (zeroed) index is empty without a pass to fill it. */
export const SLOT_EMPTY = 0;
const SLOT_TOMBSTONE = -1;
/**
 * Slots of an index's old array moved per operation while it is resized. An index doubles when
 * half full, so it is half full again only after as many inserts as the old array has slots,
 * divided by 2: at 16 slots an operation the move is done long before.
 */
export const MIGRATE_PER_OPERATION = 16;

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
export class RecordIndex {
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
    return (
      overwrite(this.slots, hash, record + 1, value) ||
      (this.old !== undefined && overwrite(this.old, hash, record + 1, value))
    );
  }
}
