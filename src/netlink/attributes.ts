// Attribute (struct nlattr / rtattr) walking and width-checked readers.
//
// Hot path: no closures, no per-attribute objects. A walk is one mutable cursor:
//
//   const it = cursor.reset(buf, start, end);
//   while (it.next()) { switch (it.type) { case X: v = attrU32(buf, it.offset, it.length); } }
//
// Netlink is in host byte order; the codec reads and writes it little-endian (CODEC_BYTE_ORDER),
// and the addon's loader refuses to start on any other host (src/runtime/byte-order.ts).
// Addresses inside attributes are network order bytes and are left as bytes (format.ts
// formats them).

import { AF_INET, AF_INET6, NLA_HDRLEN, NLA_TYPE_MASK } from './constants';
import { NetlinkDecodeError } from './errors';
import { formatIPv4, formatIPv6, formatMac } from './format';
import { ByteTextCache } from './text-cache';

/** The byte order the codec reads netlink's host-order fields in, as os.endianness() names it. */
export const CODEC_BYTE_ORDER = 'LE';

// Little-endian reads by hand: Buffer's readUInt16LE and friends validate their offset
// argument on every call, which a walk over the fifty attributes of every RTM_NEWLINK paid
// thousands of times a millisecond. Callers check the range first, as the codec always does;
// past the buffer's end a byte reads as undefined, which the bit operators turn into 0.

export function u16le(buf: Uint8Array, o: number): number {
  return (buf[o] as number) | ((buf[o + 1] as number) << 8);
}

export function u32le(buf: Uint8Array, o: number): number {
  return (
    ((buf[o] as number) |
      ((buf[o + 1] as number) << 8) |
      ((buf[o + 2] as number) << 16) |
      ((buf[o + 3] as number) << 24)) >>>
    0
  );
}

export function s32le(buf: Uint8Array, o: number): number {
  return (
    (buf[o] as number) | ((buf[o + 1] as number) << 8) | ((buf[o + 2] as number) << 16) | ((buf[o + 3] as number) << 24)
  );
}

/** NLA_ALIGN / NLMSG_ALIGN: round up to 4. */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * A reusable iterator over the attributes in [start, end) of a buffer.
 * After next() returns true: `type` (masked with NLA_TYPE_MASK), `flags` (the
 * NLA_F_NESTED / NLA_F_NET_BYTEORDER bits), `offset` and `length` of the payload.
 */
export class AttributeCursor {
  buf: Buffer = EMPTY;
  /** Where the next attribute header starts. */
  position = 0;
  end = 0;
  type = 0;
  flags = 0;
  offset = 0;
  length = 0;

  reset(buf: Buffer, start: number, end: number): this {
    this.buf = buf;
    this.position = start;
    this.end = end;
    this.type = 0;
    this.flags = 0;
    this.offset = 0;
    this.length = 0;
    return this;
  }

  /**
   * Advances to the next attribute. Returns false at the end of the range.
   * Throws NetlinkDecodeError when a header or its nla_len does not fit what remains:
   * the walk cannot resynchronise after a bad length, so the whole message is bad.
   */
  next(): boolean {
    const pos = this.position;
    const remaining = this.end - pos;
    if (remaining <= 0) return false;
    if (remaining < NLA_HDRLEN) {
      throw new NetlinkDecodeError('attribute header truncated', pos);
    }
    const buf = this.buf;
    const len = u16le(buf, pos);
    if (len < NLA_HDRLEN || len > remaining) {
      throw new NetlinkDecodeError('bad attribute length', pos);
    }
    const rawType = u16le(buf, pos + 2);
    this.type = rawType & NLA_TYPE_MASK;
    this.flags = rawType & ~NLA_TYPE_MASK;
    this.offset = pos + NLA_HDRLEN;
    this.length = len - NLA_HDRLEN;
    // The last attribute's padding may be missing (senders other than the kernel):
    // stepping past `end` simply ends the walk.
    this.position = pos + align4(len);
    return true;
  }
}

const EMPTY = Buffer.alloc(0);

function tooShort(offset: number, length: number, width: number): NetlinkDecodeError {
  return new NetlinkDecodeError('attribute too short', offset, `payload ${length} bytes, need ${width}`);
}

// Width-checked readers. A payload longer than the width is accepted (the kernel
// may grow a field's struct); a shorter one is a decode error.

export function attrU8(buf: Buffer, offset: number, length: number): number {
  if (length < 1) throw tooShort(offset, length, 1);
  return buf[offset]!;
}

export function attrU16(buf: Buffer, offset: number, length: number): number {
  if (length < 2) throw tooShort(offset, length, 2);
  return u16le(buf, offset);
}

export function attrU32(buf: Buffer, offset: number, length: number): number {
  if (length < 4) throw tooShort(offset, length, 4);
  return u32le(buf, offset);
}

export function attrS32(buf: Buffer, offset: number, length: number): number {
  if (length < 4) throw tooShort(offset, length, 4);
  return s32le(buf, offset);
}

/**
 * u64 as a number: exact up to 2^53 - 1, the nearest double above that
 * (counters that large lose their last bits; use attrU64BigInt where that matters).
 */
export function attrU64(buf: Buffer, offset: number, length: number): number {
  if (length < 8) throw tooShort(offset, length, 8);
  return u32le(buf, offset + 4) * 0x1_0000_0000 + u32le(buf, offset);
}

export function attrU64BigInt(buf: Buffer, offset: number, length: number): bigint {
  if (length < 8) throw tooShort(offset, length, 8);
  return buf.readBigUInt64LE(offset);
}

/**
 * A NUL-terminated (or not) string: everything up to the first NUL, as text (escapedText:
 * bytes that are not UTF-8 stay distinct). `maxBytes`, where the kernel bounds the field: a
 * longer string is a decode error, `field` names it.
 */
export function attrString(buf: Buffer, offset: number, length: number, maxBytes = Infinity, field = 'string'): string {
  const end = offset + length;
  let stop = offset;
  while (stop < end && buf[stop] !== 0) stop++;
  if (stop - offset > maxBytes) {
    throw new NetlinkDecodeError(`${field} too long`, offset, `${stop - offset} bytes, at most ${maxBytes}`);
  }
  return stringCache.text(buf, offset, stop);
}

const stringCache = new ByteTextCache(escapedText);

const BACKSLASH = 0x5c;
const HEX = '0123456789abcdef';

/**
 * Bytes as text, one to one: valid UTF-8 as itself, every byte that is not part of a valid
 * UTF-8 sequence as `\xNN` (lower-case hex), and a backslash as `\\`, so that different byte
 * strings never give the same text (the kernel allows any byte in an interface name but '/',
 * ':', whitespace and NUL; decoding with U+FFFD would give three different names one label).
 * Valid means what the Unicode standard calls well-formed: no overlong forms, no surrogates,
 * nothing above U+10FFFF, so the text encodes back to exactly the bytes it came from.
 */
export function escapedText(bytes: Uint8Array, start: number, end: number): string {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let plain = true;
  for (let i = start; i < end; i++) {
    const b = buf[i] as number;
    if (b >= 0x80 || b === BACKSLASH) {
      plain = false;
      break;
    }
  }
  if (plain) return buf.toString('latin1', start, end);
  let out = '';
  let i = start;
  while (i < end) {
    const b = buf[i] as number;
    if (b < 0x80) {
      out += b === BACKSLASH ? '\\\\' : String.fromCharCode(b);
      i++;
      continue;
    }
    const n = utf8SequenceLength(buf, i, end);
    if (n === 0) {
      out += '\\x' + HEX[b >> 4] + HEX[b & 15];
      i++;
      continue;
    }
    out += buf.toString('utf8', i, i + n);
    i += n;
  }
  return out;
}

/** The length of the well-formed UTF-8 sequence that starts at buf[i] (2 to 4), or 0 if none does. */
function utf8SequenceLength(buf: Uint8Array, i: number, end: number): number {
  const b = buf[i] as number;
  const cont = (j: number, lo = 0x80, hi = 0xbf): boolean =>
    j < end && (buf[j] as number) >= lo && (buf[j] as number) <= hi;
  if (b >= 0xc2 && b <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (b >= 0xe0 && b <= 0xef) {
    const lo = b === 0xe0 ? 0xa0 : 0x80; // no overlong forms
    const hi = b === 0xed ? 0x9f : 0xbf; // no surrogates
    return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
  }
  if (b >= 0xf0 && b <= 0xf4) {
    const lo = b === 0xf0 ? 0x90 : 0x80;
    const hi = b === 0xf4 ? 0x8f : 0xbf; // nothing above U+10FFFF
    return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

/** A hardware address (IFLA_ADDRESS, NDA_LLADDR) as lower-case colon hex; "" for none. */
export function attrMac(buf: Buffer, offset: number, length: number): string {
  return macCache.text(buf, offset, offset + length);
}

const macCache = new ByteTextCache((buf, start, end) => formatMac(buf, start, end - start));

/** Checks that a payload holds at least `width` bytes (for structs and addresses). */
export function requireLength(offset: number, length: number, width: number): void {
  if (length < width) throw tooShort(offset, length, width);
}

/**
 * Formats an address attribute. AF_INET / AF_INET6 need at least 4 / 16 bytes. Other
 * families (AF_BRIDGE FDB entries, AF_UNSPEC group members, ...) are told by the length:
 * 4 or 16 bytes is an IP address, anything else is written as colon hex.
 */
export function attrAddress(family: number, buf: Buffer, offset: number, length: number): string {
  if (family === AF_INET) {
    if (length < 4) throw tooShort(offset, length, 4);
    return formatIPv4(buf, offset);
  }
  if (family === AF_INET6) {
    if (length < 16) throw tooShort(offset, length, 16);
    return formatIPv6(buf, offset);
  }
  if (length === 4) return formatIPv4(buf, offset);
  if (length === 16) return formatIPv6(buf, offset);
  return formatMac(buf, offset, length);
}
