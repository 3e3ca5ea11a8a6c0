// The session's side of each decoded message: it counts the message (a notification, or a reply
// to one of our own requests: only those carry our port id), notes NLM_F_DUMP_INTR, ends our
// requests (NLMSG_DONE / NLMSG_ERROR answering them), and hands every message to the model with
// its origin, so that the model knows when to be quiet without knowing the port id.

import { NLM_F_DUMP_INTR } from '../netlink/constants';
import type {
  AddressMessage,
  LinkMessage,
  MessageHeader,
  MessageSink,
  NeighbourMessage,
  NeighbourTableMessage,
  NetconfMessage,
  NexthopMessage,
  OtherMessage,
  RouteMessage,
  RuleMessage,
} from '../netlink/types';
import type { SessionCounters } from './session-counters';
import type { DumpMode, MessageOrigin, SessionSink } from './sink';

export class MessageDispatch implements MessageSink {
  /** Our netlink port id: replies to our requests carry it. */
  portId = -1;
  /** Set while a dump is running: how its replies are applied. */
  dumpMode: DumpMode | undefined;
  /** Set when a dump reply carried NLM_F_DUMP_INTR: the dump must be retried. */
  dumpInterrupted = false;
  /** Called for each NLMSG_DONE / NLMSG_ERROR that answers one of our requests. */
  onDumpEnd: ((header: MessageHeader, errno: number) => void) | undefined;

  constructor(
    readonly counters: SessionCounters,
    private readonly sink: SessionSink,
  ) {}

  /** Counts the message and says where it came from. */
  private origin(h: MessageHeader): MessageOrigin {
    // Only replies to our own requests carry our port id (we never change state from this socket).
    const isDump = h.pid === this.portId && this.portId >= 0;
    this.counters.count(h.type, isDump);
    if (!isDump) return 'notification';
    if ((h.flags & NLM_F_DUMP_INTR) !== 0) this.dumpInterrupted = true;
    return this.dumpMode === 'initial' ? 'initial-dump' : this.dumpMode === 'resync' ? 'resync-dump' : 'reply';
  }

  link(m: LinkMessage): void {
    this.sink.link(m, this.origin(m));
  }

  address(m: AddressMessage): void {
    this.sink.address(m, this.origin(m));
  }

  route(m: RouteMessage): void {
    this.sink.route(m, this.origin(m));
  }

  neighbour(m: NeighbourMessage): void {
    this.sink.neighbour(m, this.origin(m));
  }

  neighbourTable(m: NeighbourTableMessage): void {
    this.sink.neighbourTable(m, this.origin(m));
  }

  nexthop(m: NexthopMessage): void {
    this.sink.nexthop(m, this.origin(m));
  }

  rule(m: RuleMessage): void {
    this.sink.rule(m, this.origin(m));
  }

  netconf(m: NetconfMessage): void {
    this.sink.netconf(m, this.origin(m));
  }

  done(h: MessageHeader): void {
    if (h.pid === this.portId) {
      if ((h.flags & NLM_F_DUMP_INTR) !== 0) this.dumpInterrupted = true;
      this.onDumpEnd?.(h, 0);
    }
  }

  error(h: MessageHeader, errno: number): void {
    if (h.pid === this.portId) this.onDumpEnd?.(h, errno);
  }

  other(m: OtherMessage): void {
    this.origin(m);
  }

  decodeError(): void {
    this.counters.decodeErrors++;
  }
}
