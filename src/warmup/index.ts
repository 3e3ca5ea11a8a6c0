// Start-up warm-up: before the first real namespace is opened, the exporter's own pipeline (a
// NamespaceWatcher made by the same factory, the codec, the model, an event bus and ring) runs a
// built-in synthetic set of kernel messages (corpus.ts) through throwaway watchers whose socket is
// a stand-in that answers dumps and barriers from the corpus. V8 then compiles the hot paths of
// link, address, route, neighbour and nexthop handling with complete type feedback before the
// first real burst, which otherwise ran partly in the interpreter while those compilations ran
// beside it on the same CPUs (bench: address bursts 1.3-1.6x `ip monitor`'s CPU on a fresh
// process). Nothing of it reaches the real namespaces' state, counters, events or logs: the
// watchers, their models, bus and ring are dropped at the end.

import type { EventBus } from '../events/bus';
import type { DomainEvent } from '../state/events';
import { NLMSG_NOOP, NLM_F_DUMP } from '../netlink/constants';
import type { NativeEventHandler, NativeSocket, NativeSocketConstructor, NativeSocketOptions } from '../runtime/native';
import type { NamespaceWatcher } from '../session/watcher';
import type { NamespaceModel } from '../state/model';
import { ackMessage, dumpReplies, notificationRound } from './corpus';

/**
 * Rounds of the corpus per watcher (two watchers). One round each compiled as much as three in the
 * replay measurements, at 510 instead of 650 ms of CPU (README, Benchmark).
 */
const ROUNDS = 1;
/** Bytes per chunk handed to the watcher, as the native reader's chunks. */
const CHUNK_BYTES = 256 * 1024;
/** GET types by dump kind: the stand-in answers a dump request with the corpus's replies. */
const DUMP_KINDS: ReadonlyMap<number, string> = new Map([
  [18, 'link'],
  [22, 'address'],
  [26, 'route'],
  [30, 'neighbour'],
  [66, 'neighbourTable'],
  [106, 'nexthop'],
]);

export interface WarmupReport {
  /** Messages run through the pipeline. */
  messages: number;
  /** Milliseconds from start to end. */
  ms: number;
}

/**
 * A copy of `chunk` made as the addon makes its chunks (node::Buffer::Copy: a Uint8Array given
 * Buffer's prototype afterwards). V8 gives that another hidden class than a Buffer made in
 * JavaScript (Buffer.concat, Buffer.alloc): code compiled on JavaScript-made chunks would be
 * thrown away at the first real chunk.
 */
function asNativeChunk(chunk: Buffer): Buffer {
  const out = new Uint8Array(chunk.length);
  out.set(chunk);
  return Object.setPrototypeOf(out, Buffer.prototype) as Buffer;
}

/** Frames datagrams (one message each, as the kernel multicasts them) into native-reader chunks. */
function chunks(messages: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let parts: Buffer[] = [];
  let size = 0;
  for (const m of messages) {
    if (size + 4 + m.length > CHUNK_BYTES && parts.length > 0) {
      out.push(asNativeChunk(Buffer.concat(parts)));
      parts = [];
      size = 0;
    }
    const frame = Buffer.alloc(4);
    frame.writeUInt32LE(m.length);
    parts.push(frame, m); // messages are already padded to 4
    size += 4 + m.length;
  }
  if (parts.length > 0) out.push(asNativeChunk(Buffer.concat(parts)));
  return out;
}

/**
 * The socket stand-in: answers dump requests with the corpus and NLMSG_NOOP barriers with an ACK,
 * delivers chunks pushed to it, and counts the chunks the watcher released (processed).
 */
function standInSocket(
  portId: number,
  onIdle: () => void,
): { Socket: NativeSocketConstructor; push: (c: Buffer[]) => void; pending: () => number } {
  let handler: NativeEventHandler | undefined;
  let outstanding = 0;
  const deliver = (list: Buffer[]): void => {
    outstanding += list.length;
    // The native reader hands chunks over from its thread, never inside send().
    setImmediate(() => {
      for (const c of list) handler?.('data', c, 0);
    });
  };
  class StandIn implements NativeSocket {
    readonly portId = portId;
    readonly receiveBufferBytes: number;
    readonly receiveBufferForced = true;
    constructor(options: NativeSocketOptions, onEvent: NativeEventHandler) {
      this.receiveBufferBytes = options.receiveBufferBytes;
      handler = onEvent;
    }
    start(): void {}
    send(request: Buffer): void {
      const type = request.readUInt16LE(4);
      const flags = request.readUInt16LE(6);
      const seq = request.readUInt32LE(8);
      if ((flags & NLM_F_DUMP) === NLM_F_DUMP) deliver(chunks(dumpReplies(DUMP_KINDS.get(type) ?? '', seq, portId)));
      else if (type === NLMSG_NOOP) deliver(chunks([ackMessage(seq, portId)]));
    }
    queueDepth(): number {
      return outstanding;
    }
    release(): void {
      outstanding--;
      if (outstanding === 0) onIdle();
    }
    close(): void {
      handler = undefined;
    }
  }
  return { Socket: StandIn, push: deliver, pending: () => outstanding };
}

/** How the exporter builds its pipeline: the warm-up builds its throwaway copies the same way. */
export interface WarmupPipeline {
  /** An event bus wired as the real one (same listeners' code), writing nowhere real. */
  bus(): EventBus;
  /** A watcher made as the real ones are, on the given socket class, publishing to `bus`. */
  watcher(label: string, Socket: NativeSocketConstructor, bus: EventBus): NamespaceWatcher<NamespaceModel>;
}

/**
 * One event of each shape the warm-up published, kept for the life of the process. V8 keeps a
 * hidden class only while an object has it: once the warm-up's events are collected, the class
 * an event takes when the bus stamps its seq and time would die, and with it the optimised
 * code that checks for it; the first real burst would then compile that code again.
 */
const anchors = new Map<string, DomainEvent>();

/**
 * Runs the corpus through watchers the exporter's own way. Two watchers on two buses, as on a
 * host with a watched namespace besides its own: callbacks made per namespace (each watcher's
 * event callback, each bus's listeners) are then compiled for more than one instance, as a real
 * host needs.
 */
export async function warmUp(pipeline: WarmupPipeline): Promise<WarmupReport> {
  const started = performance.now();
  const round = chunks(notificationRound());
  let messages = 0;
  for (const c of round) for (let pos = 0; pos < c.length; pos += 4 + c.readUInt32LE(pos)) messages++;
  // Port ids as the kernel gives them: the process id for the first socket in a namespace, a
  // number above 2^31 for the next ones (a different number representation in V8).
  const portIds = [process.pid, 0xfffff000 - process.pid];
  let total = 0;
  for (const [i, portId] of portIds.entries()) {
    const bus = pipeline.bus();
    bus.subscribe((e) => {
      const shape = `${e.kind}|${e.action}|${Object.keys(e).length}`;
      if (!anchors.has(shape)) anchors.set(shape, e);
    });
    let idle: () => void = () => undefined;
    const socket = standInSocket(portId, () => idle());
    const watcher = pipeline.watcher(`warm-up-${i}`, socket.Socket, bus);
    try {
      await watcher.start();
      for (let r = 0; r < ROUNDS; r++) {
        const done = new Promise<void>((resolve) => (idle = resolve));
        socket.push(round);
        await done;
        total += messages;
      }
    } finally {
      watcher.close();
      bus.flush();
    }
  }
  return { messages: total, ms: performance.now() - started };
}
