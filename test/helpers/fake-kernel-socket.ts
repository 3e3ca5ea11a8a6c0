// A fake NETLINK_ROUTE socket that plays the kernel and the addon's reader for watcher unit
// tests: it answers dumps and ACK requests in the addon's chunk framing, and can lose, refuse or
// hold a dump's replies on demand. Beside (never instead of) the live-kernel tests.

import { createLogger } from '../../src/support/log';
import {
  NLM_F_MULTI,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLMSG_NOOP,
  RTM_GETLINK,
} from '../../src/netlink/constants';
import type { NativeEventHandler, NativeSocket, NativeSocketOptions } from '../../src/runtime/native';
import { buildMessage } from '../../src/netlink/request';
import { NamespaceWatcher } from '../../src/session/watcher';
import { NamespaceModel } from '../../src/state/model';

const PORT_ID = 4242;
const EBUSY = 16;

/** One datagram in the addon's chunk framing: [u32 length][datagram][pad to 4]. */
function chunk(datagram: Buffer): Buffer {
  const out = Buffer.alloc(4 + ((datagram.length + 3) & ~3));
  out.writeUInt32LE(datagram.length, 0);
  datagram.copy(out, 4);
  return out;
}

function reply(type: number, flags: number, seq: number, payload: Buffer): Buffer {
  const m = buildMessage(type, flags, seq, payload);
  m.writeUInt32LE(PORT_ID, 12); // nlmsg_pid: replies to us carry our port id
  return m;
}

/** Answers every dump with an empty NLMSG_DONE and every ACK request with an ACK, unless told to lose or refuse one. */
export class FakeKernelSocket implements NativeSocket {
  static last: FakeKernelSocket | undefined;
  readonly portId = PORT_ID;
  readonly receiveBufferBytes = 1 << 20;
  readonly receiveBufferForced = true;
  /** Dump requests to answer with a 'queue' overrun instead of their replies. */
  loseDumps = 0;
  /** Dump requests to answer with EBUSY. */
  busyDumps = 0;
  /**
   * Dump requests whose replies wait for the socket's next read, as a kernel dump whose
   * continuation was refused while the queue was full waits in netlink_recvmsg.
   */
  stallDumps = 0;
  private stalled: Buffer | undefined;
  dumpRequests = 0;
  lost = 0;
  /**
   * Link messages (one a datagram) to answer each link dump with before its NLMSG_DONE: their
   * seq and port id are set to the request's, as the kernel's dump replies carry them.
   */
  linkDumpReplies: Buffer[] = [];

  constructor(
    _options: NativeSocketOptions,
    /** Plays the reader thread: what the addon would hand to JS. */
    readonly emit: NativeEventHandler,
  ) {
    FakeKernelSocket.last = this;
  }

  start(): void {}

  send(request: Buffer): void {
    const type = request.readUInt16LE(4);
    const seq = request.readUInt32LE(8);
    setImmediate(() => {
      if (type === NLMSG_NOOP) {
        this.deliver(reply(NLMSG_ERROR, 0, seq, Buffer.concat([Buffer.alloc(4), request.subarray(0, NLMSG_HDRLEN)])));
        return;
      }
      if (this.stallDumps > 0) {
        this.stallDumps--;
        this.dumpRequests++;
        this.stalled = reply(NLMSG_DONE, NLM_F_MULTI, seq, Buffer.alloc(4));
        return;
      }
      this.dumpRequests++;
      if (this.loseDumps > 0) {
        this.loseDumps--;
        this.lost++;
        this.emit('overrun', 'queue', 1);
        return;
      }
      if (this.busyDumps > 0) {
        this.busyDumps--;
        const error = Buffer.alloc(4);
        error.writeInt32LE(-EBUSY, 0);
        this.deliver(reply(NLMSG_ERROR, 0, seq, Buffer.concat([error, request.subarray(0, NLMSG_HDRLEN)])));
        return;
      }
      if (type === RTM_GETLINK) {
        for (const message of this.linkDumpReplies) {
          const copy = Buffer.from(message);
          copy.writeUInt32LE(seq, 8);
          copy.writeUInt32LE(PORT_ID, 12);
          this.deliver(copy);
        }
      }
      this.deliver(reply(NLMSG_DONE, NLM_F_MULTI, seq, Buffer.alloc(4)));
    });
  }

  private deliver(datagram: Buffer): void {
    const framed = chunk(datagram);
    this.emit('data', framed, 1);
    // A read lets a stalled dump go on: its replies come next.
    const stalled = this.stalled;
    this.stalled = undefined;
    if (stalled) setImmediate(() => this.deliver(stalled));
  }

  queueDepth(): number {
    return 0;
  }

  release(): void {}

  close(): void {}
}

/** A watcher on a FakeKernelSocket, logging into `lines`. */
export function newWatcher(lines: string[], label = 'fake'): NamespaceWatcher<NamespaceModel> {
  return new NamespaceWatcher({
    label,
    path: undefined,
    receiveBufferBytes: 1 << 20,
    logger: createLogger('debug', 'logfmt', (line) => lines.push(line)),
    Socket: FakeKernelSocket,
    model: (session) =>
      new NamespaceModel({ netns: label, include: /^.*$/, exclude: undefined, maxTracked: 100, vips: [], session }),
  });
}
