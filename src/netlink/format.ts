// Kernel values as text: address formatting and parsing, and the names of route tables,
// protocols and types. Not on the route hot path: routes keep offsets and are formatted only
// when someone asks (route.ts helpers).

import {
  AF_INET,
  AF_INET6,
  RT_SCOPE_HOST,
  RT_SCOPE_LINK,
  RT_SCOPE_NOWHERE,
  RT_SCOPE_SITE,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_DEFAULT,
  RT_TABLE_LOCAL,
  RT_TABLE_MAIN,
  RTPROT_NAMES,
} from './constants';

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Dotted quad of the 4 bytes at `off`. */
export function formatIPv4(buf: Uint8Array, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

/**
 * The dotted quad formatIPv4 wrote, back as the u32 its 4 bytes read little-endian (how the
 * route table stores a preferred source). Arithmetic only: no array or buffer per address.
 */
export function ipv4Word(text: string): number {
  let word = 0;
  let octet = 0;
  let shift = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      word |= octet << shift;
      shift += 8;
      octet = 0;
    } else octet = octet * 10 + (c - 48);
  }
  return (word | (octet << shift)) >>> 0;
}

/**
 * RFC 5952 text of the 16 bytes at `off`: lower-case hex, no leading zeros, the longest
 * run of two or more zero groups (the first on a tie) written as "::". IPv4-mapped
 * addresses are written in hex too ("::ffff:c000:201"), which RFC 5952 permits.
 */
export function formatIPv6(buf: Uint8Array, off: number): string {
  const groups = new Array<number>(8);
  for (let i = 0; i < 8; i++) groups[i] = (buf[off + 2 * i]! << 8) | buf[off + 2 * i + 1]!;
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestStart = -1; // a single zero group is written "0", not "::"
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    out += groups[i]!.toString(16);
    if (i < 7) out += ':';
  }
  return out;
}

/** Bytes of an address of `family`: 4, 16, or 0 for families that are not IP. */
export function ipLength(family: number): number {
  return family === AF_INET ? 4 : family === AF_INET6 ? 16 : 0;
}

/** Formats an AF_INET or AF_INET6 address. Other families are a caller bug (RangeError). */
export function formatIp(family: number, buf: Uint8Array, off: number): string {
  if (family === AF_INET) return formatIPv4(buf, off);
  if (family === AF_INET6) return formatIPv6(buf, off);
  throw new RangeError(`formatIp: family ${family} is not AF_INET or AF_INET6`);
}

/** Lower-case colon hex ("02:00:5e:00:01:01") of `len` bytes; "" for 0 bytes. */
export function formatMac(buf: Uint8Array, off: number, len: number): string {
  let out = '';
  for (let i = 0; i < len; i++) {
    if (i > 0) out += ':';
    out += HEX[buf[off + i]!];
  }
  return out;
}

export interface ParsedIp {
  family: typeof AF_INET | typeof AF_INET6;
  bytes: Buffer;
}

/**
 * Parses an IPv4 dotted quad or an IPv6 address (with "::" and an optional dotted-quad
 * tail). Returns undefined for anything else (no zone ids, no prefixes, no whitespace),
 * so callers can name the bad config key themselves.
 */
export function parseIp(text: string): ParsedIp | undefined {
  if (text.includes(':')) {
    const bytes = parseIPv6(text);
    return bytes ? { family: AF_INET6, bytes } : undefined;
  }
  const bytes = parseIPv4(text);
  return bytes ? { family: AF_INET, bytes } : undefined;
}

const V4_PART = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function parseIPv4(text: string): Buffer | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = Buffer.alloc(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!V4_PART.test(p)) return undefined;
    out[i] = Number(p);
  }
  return out;
}

const V6_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseIPv6(text: string): Buffer | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const tail = halves.length === 2 ? (halves[1] === '' ? [] : halves[1]!.split(':')) : [];
  const groups: number[] = [];
  const all = halves.length === 2 ? [...head, '::', ...tail] : head;
  let gapAt = -1;
  for (let i = 0; i < all.length; i++) {
    const g = all[i]!;
    if (g === '::') {
      gapAt = groups.length;
      continue;
    }
    if (i === all.length - 1 && g.includes('.')) {
      const v4 = parseIPv4(g);
      if (!v4) return undefined;
      groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      continue;
    }
    if (!V6_GROUP.test(g)) return undefined;
    groups.push(parseInt(g, 16));
  }
  if (gapAt >= 0) {
    if (groups.length > 7) return undefined; // "::" stands for at least one group
    groups.splice(gapAt, 0, ...new Array<number>(8 - groups.length).fill(0));
  } else if (groups.length !== 8) {
    return undefined;
  }
  const out = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) out.writeUInt16BE(groups[i]!, 2 * i);
  return out;
}

/** The `table` label: `local` (255), `main` (254), `default` (253), else the number. */
export function tableName(table: number): string {
  return table === RT_TABLE_LOCAL
    ? 'local'
    : table === RT_TABLE_MAIN
      ? 'main'
      : table === RT_TABLE_DEFAULT
        ? 'default'
        : String(table);
}

/** The `protocol` label: the kernel's RTPROT_* name, else the number. */
export function protocolName(protocol: number): string {
  return RTPROT_NAMES[protocol] ?? String(protocol);
}

/** RTN_* names by number, as `ip route` prints them (linux/rtnetlink.h). */
const RTN_NAMES = [
  'unspec',
  'unicast',
  'local',
  'broadcast',
  'anycast',
  'multicast',
  'blackhole',
  'unreachable',
  'prohibit',
  'throw',
  'nat',
  'xresolve',
];

/** A route's type (RTN_*) as its name, else the number. */
export function routeTypeName(type: number): string {
  return RTN_NAMES[type] ?? String(type);
}

/** rtnetlink scope names (RT_SCOPE_*), as `ip addr` prints them. */
export function scopeName(scope: number): string {
  switch (scope) {
    case RT_SCOPE_UNIVERSE:
      return 'global';
    case RT_SCOPE_SITE:
      return 'site';
    case RT_SCOPE_LINK:
      return 'link';
    case RT_SCOPE_HOST:
      return 'host';
    case RT_SCOPE_NOWHERE:
      return 'nowhere';
    default:
      return String(scope);
  }
}

const NUD_NAMES: readonly [number, string][] = [
  [0x01, 'incomplete'],
  [0x02, 'reachable'],
  [0x04, 'stale'],
  [0x08, 'delay'],
  [0x10, 'probe'],
  [0x20, 'failed'],
  [0x40, 'noarp'],
  [0x80, 'permanent'],
];

/** A neighbour's ndm_state (NUD_* bits) as `ip neigh` names it: "reachable", "none" for 0, "0x100" for unknown bits. */
export function nudStateName(state: number): string {
  if (state === 0) return 'none';
  const names: string[] = [];
  let rest = state;
  for (const [bit, name] of NUD_NAMES) {
    if ((state & bit) === 0) continue;
    names.push(name);
    rest &= ~bit;
  }
  if (rest !== 0) names.push(`0x${rest.toString(16)}`);
  return names.join(',');
}
