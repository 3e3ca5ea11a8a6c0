// The nexthop records of an RTA_MULTIPATH payload: a run of struct rtnexthop (len u16, flags
// u8, hops u8, ifindex s32, then attributes of its own: RTA_GATEWAY, RTA_VIA, ...), each
// padded to 4 bytes. The one walker of that run: the codec validates it with this cursor
// (decodeRoute), formats it (routeNexthops), and the route table reads it (devices, dead
// nexthops, fingerprints) through it, so the bounds are checked in one place.
//
// Hot path, as AttributeCursor: no closures, no per-record objects. One mutable cursor:
//
//   const nh = cursor.reset(buf, m.multipathOffset, m.multipathLength);
//   while (nh.next()) { ... nh.ifindex, nh.flags, nh.hops, nh.attributes() ... }
//   if (nh.stop !== NEXTHOPS_END) { a truncated record or a bad rtnh_len at nh.offset }

import { RTNEXTHOP_LEN } from './constants';
import { AttributeCursor, align4, s32le, u16le } from './attributes';

/** Why next() returned false: the run ended where its attribute does. */
export const NEXTHOPS_END = 0;
/** Why next() returned false: fewer bytes left than an rtnexthop header. */
export const NEXTHOPS_TRUNCATED = 1;
/** Why next() returned false: an rtnh_len shorter than the header, or longer than what remains. */
export const NEXTHOPS_BAD_LENGTH = 2;

const EMPTY = Buffer.alloc(0);

/**
 * A reusable iterator over the rtnexthop records in [offset, offset + length) of a buffer (an
 * RTA_MULTIPATH payload). After next() returns true: the record's `offset` and `length`
 * (rtnh_len), `flags` (rtnh_flags: RTNH_F_DEAD, RTNH_F_LINKDOWN, ...), `hops` (rtnh_hops, the
 * weight - 1) and `ifindex`. next() never throws: at a record that does not fit what remains
 * it stops, with `stop` saying why and `offset` where (the codec turns that into a decode error).
 */
export class NexthopCursor {
  buf: Buffer = EMPTY;
  /** Where the next record starts. */
  position = 0;
  end = 0;
  offset = 0;
  length = 0;
  flags = 0;
  hops = 0;
  ifindex = 0;
  /** After next() returned false: NEXTHOPS_END, NEXTHOPS_TRUNCATED or NEXTHOPS_BAD_LENGTH. */
  stop = NEXTHOPS_END;
  /** For the attributes nested in the current record: see attributes(). */
  private readonly nested = new AttributeCursor();

  reset(buf: Buffer, offset: number, length: number): this {
    this.buf = buf;
    this.position = offset;
    this.end = offset + length;
    this.offset = 0;
    this.length = 0;
    this.flags = 0;
    this.hops = 0;
    this.ifindex = 0;
    this.stop = NEXTHOPS_END;
    return this;
  }

  /** Advances to the next record. Returns false at the end of the run, or at a record that does not fit (see `stop`). */
  next(): boolean {
    const pos = this.position;
    const remaining = this.end - pos;
    if (remaining <= 0) {
      this.stop = NEXTHOPS_END;
      return false;
    }
    this.offset = pos;
    if (remaining < RTNEXTHOP_LEN) {
      this.stop = NEXTHOPS_TRUNCATED;
      return false;
    }
    const buf = this.buf;
    const len = u16le(buf, pos);
    if (len < RTNEXTHOP_LEN || len > remaining) {
      this.stop = NEXTHOPS_BAD_LENGTH;
      return false;
    }
    this.length = len;
    this.flags = buf[pos + 2] as number;
    this.hops = buf[pos + 3] as number;
    this.ifindex = s32le(buf, pos + 4);
    this.position = pos + align4(len);
    return true;
  }

  /**
   * The attributes nested in the current record (RTA_GATEWAY, RTA_VIA, ...), walked by the
   * cursor's own AttributeCursor (reset by each call; it throws on a bad attribute length, as
   * every attribute walk does).
   */
  attributes(): AttributeCursor {
    return this.nested.reset(this.buf, this.offset + RTNEXTHOP_LEN, this.offset + this.length);
  }
}
