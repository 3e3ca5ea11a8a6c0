// The session's message counters: what the kernel sent us, by nlmsg_type, notifications apart
// from replies to our own requests, and the messages the codec could not decode. Plain numbers:
// prom-client never sees a message.

import { RTM_NAMES } from '../netlink/constants';

const RTM_NAME_MAX = 256;

/** What the metrics read of the counters. */
export interface MessageCounts {
  /** Notifications by nlmsg_type (what the kernel multicast to us). */
  readonly messagesReceived: Float64Array;
  /** Dump replies by nlmsg_type. */
  readonly dumpMessages: Float64Array;
  /**
   * When a message type outside RTM_NAMES was first counted (its series is born then), by type,
   * 0 if never: [notifications, dump replies].
   */
  readonly unknownTypeSeen: readonly [Float64Array, Float64Array];
  readonly decodeErrors: number;
}

export class SessionCounters implements MessageCounts {
  readonly messagesReceived = new Float64Array(RTM_NAME_MAX);
  readonly dumpMessages = new Float64Array(RTM_NAME_MAX);
  readonly unknownTypeSeen = [new Float64Array(RTM_NAME_MAX), new Float64Array(RTM_NAME_MAX)] as const;
  decodeErrors = 0;
  /** Seconds since the epoch. */
  private readonly now: () => number;

  constructor(now?: () => number) {
    this.now = now ?? (() => Date.now() / 1000);
  }

  /** Counts one message: a reply to our own request (`isReply`) or a notification. */
  count(nlmsgType: number, isReply: boolean): void {
    const type = nlmsgType & 0xff;
    const counts = isReply ? this.dumpMessages : this.messagesReceived;
    // A type the names table lacks gets its series with its first message: remember when.
    if (counts[type]++ === 0 && RTM_NAMES[type] === undefined) this.unknownTypeSeen[isReply ? 1 : 0][type] = this.now();
  }

  /** Replies to our requests so far, of every type: whether a dump is moving. */
  dumpReplies(): number {
    let total = 0;
    for (const n of this.dumpMessages) total += n;
    return total;
  }
}
