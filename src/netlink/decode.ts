// Datagram and chunk walking: the entry points of the codec.
//
// A datagram holds one or more messages, each an nlmsghdr (len u32, type u16, flags u16,
// seq u32, pid u32; host order) and its payload, each starting at an NLMSG_ALIGN boundary.
// A bad nlmsg_len leaves no way to find the next message: the rest of the datagram is
// reported as one decode error. A message whose header checked out but whose payload is
// bad is reported and skipped: its nlmsg_len still says where the next one starts.

import {
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_DELNEIGH,
  RTM_DELNETCONF,
  RTM_DELNEXTHOP,
  RTM_DELROUTE,
  RTM_DELRULE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWNEIGH,
  RTM_NEWNEIGHTBL,
  RTM_NEWNETCONF,
  RTM_NEWNEXTHOP,
  RTM_NEWROUTE,
  RTM_NEWRULE,
} from './constants';
import { align4, u16le, u32le } from './attributes';
import { decodeAddress } from './address';
import { NetlinkDecodeError } from './errors';
import { decodeLink } from './link';
import { decodeNeighbour, decodeNeighbourTable } from './neighbour';
import { decodeNetconf } from './netconf';
import { decodeNexthop } from './nexthop';
import { decodeRoute } from './route';
import { decodeRule } from './rule';
import type { MessageHeader, MessageSink } from './types';

/** The per-family decoders share this shape: payload range in, message out. */
type PayloadDecoder<T> = (buf: Buffer, offset: number, length: number, header: MessageHeader) => T;

/**
 * The header handed to the per-family decoders, which copy its fields into their own
 * message: reused, so the route hot path allocates one object per route, not two.
 * Never handed to a sink (done/error/other get a fresh header of their own).
 */
const scratchHeader: MessageHeader = { type: 0, flags: 0, seq: 0, pid: 0 };

/**
 * Runs one decoder; a NetlinkDecodeError becomes sink.decodeError and undefined.
 * The sink is called by the caller, outside the try: an error a sink throws is the sink's.
 */
function guarded<T>(
  decoder: PayloadDecoder<T>,
  buf: Buffer,
  offset: number,
  length: number,
  sink: MessageSink,
): T | undefined {
  try {
    return decoder(buf, offset, length, scratchHeader);
  } catch (err) {
    if (!(err instanceof NetlinkDecodeError)) throw err;
    err.messageType = scratchHeader.type;
    sink.decodeError(err);
    return undefined;
  }
}

function freshHeader(): MessageHeader {
  return { type: scratchHeader.type, flags: scratchHeader.flags, seq: scratchHeader.seq, pid: scratchHeader.pid };
}

/**
 * Decodes every message of the datagram in buf[start, end) into the sink, in order.
 * Messages never read past their own nlmsg_len.
 */
export function decodeDatagram(buf: Buffer, start: number, end: number, sink: MessageSink): void {
  if (start < 0 || end > buf.length || start > end) {
    throw new RangeError(`decodeDatagram: range [${start}, ${end}) outside a buffer of ${buf.length} bytes`);
  }
  let pos = start;
  while (pos < end) {
    const remaining = end - pos;
    if (remaining < NLMSG_HDRLEN) {
      sink.decodeError(new NetlinkDecodeError('nlmsghdr truncated', pos, `${remaining} bytes left in the datagram`));
      return;
    }
    const len = u32le(buf, pos);
    if (len < NLMSG_HDRLEN || len > remaining) {
      sink.decodeError(new NetlinkDecodeError('bad nlmsg_len', pos, `nlmsg_len ${len}, ${remaining} bytes left`));
      return;
    }
    const type = u16le(buf, pos + 4);
    scratchHeader.type = type;
    scratchHeader.flags = u16le(buf, pos + 6);
    scratchHeader.seq = u32le(buf, pos + 8);
    scratchHeader.pid = u32le(buf, pos + 12);
    const payload = pos + NLMSG_HDRLEN;
    const payloadLength = len - NLMSG_HDRLEN;

    switch (type) {
      case RTM_NEWROUTE:
      case RTM_DELROUTE: {
        const m = guarded(decodeRoute, buf, payload, payloadLength, sink);
        if (m) sink.route(m);
        break;
      }
      case RTM_NEWLINK:
      case RTM_DELLINK: {
        const m = guarded(decodeLink, buf, payload, payloadLength, sink);
        if (m) sink.link(m);
        break;
      }
      case RTM_NEWADDR:
      case RTM_DELADDR: {
        const m = guarded(decodeAddress, buf, payload, payloadLength, sink);
        if (m) sink.address(m);
        break;
      }
      case RTM_NEWNEIGH:
      case RTM_DELNEIGH: {
        const m = guarded(decodeNeighbour, buf, payload, payloadLength, sink);
        if (m) sink.neighbour(m);
        break;
      }
      case RTM_NEWNEIGHTBL: {
        if (!sink.neighbourTable) {
          sink.other({ ...freshHeader(), length: len });
          break;
        }
        const m = guarded(decodeNeighbourTable, buf, payload, payloadLength, sink);
        if (m) sink.neighbourTable(m);
        break;
      }
      case RTM_NEWNEXTHOP:
      case RTM_DELNEXTHOP: {
        const m = guarded(decodeNexthop, buf, payload, payloadLength, sink);
        if (m) sink.nexthop(m);
        break;
      }
      case RTM_NEWRULE:
      case RTM_DELRULE: {
        const m = guarded(decodeRule, buf, payload, payloadLength, sink);
        if (m) sink.rule(m);
        break;
      }
      case RTM_NEWNETCONF:
      case RTM_DELNETCONF: {
        if (!sink.netconf) {
          sink.other({ ...freshHeader(), length: len });
          break;
        }
        const m = guarded(decodeNetconf, buf, payload, payloadLength, sink);
        if (m) sink.netconf(m);
        break;
      }
      case NLMSG_DONE: {
        // The payload is an int: 0, or the negative errno the dump ended with. A dump that
        // ended in error is reported as error (header type NLMSG_DONE) before done, so the
        // dump's owner knows its result is incomplete.
        const header = freshHeader();
        if (payloadLength >= 4) {
          const status = buf.readInt32LE(payload);
          if (status !== 0) sink.error(header, -status);
        }
        sink.done(header);
        break;
      }
      case NLMSG_ERROR: {
        // struct nlmsgerr: int error (negative errno, 0 = ACK), then the request's nlmsghdr.
        if (payloadLength < 4) {
          const err = new NetlinkDecodeError('nlmsgerr truncated', payload, `payload ${payloadLength} bytes, need 4`);
          err.messageType = type;
          sink.decodeError(err);
          break;
        }
        sink.error(freshHeader(), -buf.readInt32LE(payload));
        break;
      }
      default:
        // NLMSG_NOOP, NLMSG_OVERRUN, and types we do not decode.
        sink.other({ ...freshHeader(), length: len });
        break;
    }
    pos += align4(len); // the last message's padding may be missing: the loop ends anyway
  }
}

/** Bytes of the u32 length that frames each datagram in a native chunk. */
export const CHUNK_FRAME_HDRLEN = 4;

/**
 * Decodes a chunk from the native reader: repeated [u32 length, host order][datagram]
 * [zero pad to 4], in chunk[0, end) (a pooled chunk is a fixed-size slot filled that far).
 * A framing length that overruns the chunk is reported and ends the chunk.
 */
export function decodeChunk(chunk: Buffer, sink: MessageSink, end: number = chunk.length): void {
  if (end < 0 || end > chunk.length)
    throw new RangeError(`decodeChunk: end ${end} outside a chunk of ${chunk.length} bytes`);
  let pos = 0;
  while (pos < end) {
    const remaining = end - pos;
    if (remaining < CHUNK_FRAME_HDRLEN) {
      sink.decodeError(new NetlinkDecodeError('chunk frame truncated', pos, `${remaining} bytes left in the chunk`));
      return;
    }
    const len = u32le(chunk, pos);
    if (len > remaining - CHUNK_FRAME_HDRLEN) {
      sink.decodeError(
        new NetlinkDecodeError(
          'bad chunk frame length',
          pos,
          `datagram length ${len}, ${remaining - CHUNK_FRAME_HDRLEN} bytes left`,
        ),
      );
      return;
    }
    const start = pos + CHUNK_FRAME_HDRLEN;
    decodeDatagram(chunk, start, start + len, sink);
    pos = start + align4(len);
  }
}
