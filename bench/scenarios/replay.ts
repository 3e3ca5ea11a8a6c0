// Scenario 9: the JavaScript alone. A subscribed socket captures the kernel's own bytes for an
// address burst and a flap burst; they are then replayed through the exporter's decode, model,
// event bus and ring in this process, round after round on fresh models. The figure leaves out
// the kernel, the reader thread and the other processes of a live run, so a change to the
// JavaScript can be compared between runs with little noise (a live burst varies by 2x).

import { NLMSG_DONE } from '../../src/netlink/constants';
import { decodeChunk } from '../../src/netlink/decode';
import { loadNativeSocket } from '../../src/runtime/native';
import { dumpRequest, DumpKind } from '../../src/netlink/request';
import { EventBus } from '../../src/events/bus';
import { EventRing } from '../../src/events/ring';
import { NamespaceModel } from '../../src/state/model';
import { SUBSCRIBED_GROUPS } from '../../src/session/watcher';
import { MessageDispatch } from '../../src/session/dispatch';
import { SessionCounters } from '../../src/session/session-counters';
import { trackSocket } from '../cleanup';
import { createNetns, vethPairLines } from '../netns';
import { addressBurst, flapBurst } from '../requests';
import { BurstSender, walkChunk } from '../sockets';
import type { Row } from '../table';
import { median, waitUntil } from '../util';
import type { Context } from './context';

const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const ROUNDS = 5;
/** Datagrams per replayed chunk: about what the live reader hands over in a burst. */
const DATAGRAMS_PER_CHUNK = 32;

interface Capture {
  dump: Buffer[];
  burst: Buffer[];
  notifications: number;
  /** Overruns or a socket error of the capture socket: then the replay is not the whole burst. */
  problems: string[];
}

/** Dumps links, addresses and routes, then sends the burst; returns what the socket received. */
async function capture(nsPath: string, batches: Buffer[]): Promise<Capture> {
  const chunks: Buffer[] = [];
  const problems: string[] = [];
  const done = new Set<number>();
  let lastChunk = performance.now();
  const Socket = loadNativeSocket();
  const sock = new Socket(
    { netnsPath: nsPath, groups: SUBSCRIBED_GROUPS, receiveBufferBytes: 256 * 1024 * 1024, maxQueuedChunks: 1 << 20 },
    (event, payload) => {
      if (event !== 'data') {
        problems.push(`capture socket ${event}: ${String(payload)}`);
        return;
      }
      const chunk = Buffer.from(payload as Buffer);
      chunks.push(chunk);
      lastChunk = performance.now();
      walkChunk(chunk, (type, buf, off) => {
        if (type === NLMSG_DONE) done.add(buf.readUInt32LE(off + 8));
      });
    },
  );
  const untrack = trackSocket(sock);
  const sender = new BurstSender(nsPath);
  try {
    sock.start();
    const kinds: DumpKind[] = ['link', 'address', 'route'];
    for (const [i, kind] of kinds.entries()) {
      sock.send(dumpRequest(kind, i + 1));
      await waitUntil(`the ${kind} dump`, () => (done.has(i + 1) ? true : 'no NLMSG_DONE yet'), 10_000, 5);
    }
    const dumpChunks = chunks.length;
    await sender.burst(batches);
    await waitUntil(
      'the capture socket to go quiet',
      () => (performance.now() - lastChunk > 500 ? true : 'still receiving'),
      60_000,
      50,
    );
    const burst = chunks.slice(dumpChunks);
    let notifications = 0;
    for (const c of burst) walkChunk(c, () => notifications++);
    return { dump: chunks.slice(0, dumpChunks), burst: rechunk(burst), notifications, problems };
  } finally {
    sender.close();
    untrack();
    sock.close();
  }
}

/** The captured datagrams again, framed DATAGRAMS_PER_CHUNK to a chunk. */
function rechunk(chunks: Buffer[]): Buffer[] {
  const frames: Buffer[] = [];
  for (const c of chunks) {
    for (let pos = 0; pos + 4 <= c.length;) {
      const end = pos + 4 + ((c.readUInt32LE(pos) + 3) & ~3);
      frames.push(c.subarray(pos, end));
      pos = end;
    }
  }
  const out: Buffer[] = [];
  for (let i = 0; i < frames.length; i += DATAGRAMS_PER_CHUNK)
    out.push(Buffer.concat(frames.slice(i, i + DATAGRAMS_PER_CHUNK)));
  return out;
}

/** CPU milliseconds (this process, all threads) of one replay on a fresh model, wired as the exporter wires it. */
function replayOnce(c: Capture): number {
  const bus = new EventBus();
  const ring = new EventRing(1000);
  bus.subscribe((e) => ring.push(e));
  const model = new NamespaceModel({
    netns: 'replay',
    include: /^.*$/,
    exclude: undefined,
    maxTracked: 10_000,
    vips: [],
    session: { barrier: (callback) => callback(), linkProbe: (_ifindex, callback) => callback() },
    onEvent: (e) => bus.publish(e),
    routeGate: bus.routeGate('replay'),
  });
  // The session's side of each message (counting, origin), as the watcher runs it.
  const session = new MessageDispatch(new SessionCounters(), model);
  session.dumpMode = 'initial';
  for (const chunk of c.dump) decodeChunk(chunk, session);
  session.dumpMode = undefined;
  const before = process.cpuUsage();
  for (const chunk of c.burst) decodeChunk(chunk, session);
  const used = process.cpuUsage(before);
  bus.flush();
  return (used.user + used.system) / 1000;
}

async function replayRow(
  ctx: Context,
  label: string,
  prepare: (ns: ReturnType<typeof createNetns>) => Buffer[],
): Promise<Row> {
  const ns = createNetns();
  let c: Capture;
  try {
    c = await capture(ns.path, prepare(ns));
  } finally {
    ns.delete();
  }
  const rounds = Array.from({ length: ROUNDS }, () => replayOnce(c));
  const us = (ms: number): string => ((ms * 1000) / c.notifications).toFixed(2);
  ctx.log(`replay ${label}: ${rounds.map((r) => r.toFixed(0)).join(' ')} ms`);
  return {
    scenario: `9 replay ${label}`,
    notes: [
      `${c.notifications.toLocaleString('en-US')} captured notifications through decode, model, event bus and ring, ${ROUNDS} rounds on fresh models in one process: ` +
        `first round ${us(rounds[0] as number)} µs/notification, later rounds median ${us(median(rounds.slice(1)))} (CPU of this process; no kernel, reader thread or scrape in it)`,
    ],
    failures: c.problems,
  };
}

export async function replayScenario(ctx: Context): Promise<Row[]> {
  const count = ctx.size(20_000, 16);
  const toggles = ctx.size(50_000, 200);
  return [
    await replayRow(ctx, `address add+del ${count}`, (ns) => {
      ns.batch(vethPairLines('a', 'b', 4).near);
      const idx = ns.ifindexes();
      const ifindexes = [0, 1, 2, 3].map((i) => idx.get(`a${i}`)!);
      return [
        ...addressBurst(RTM_NEWADDR, count, '10.128.0.0', ifindexes),
        ...addressBurst(RTM_DELADDR, count, '10.128.0.0', ifindexes, count + 1),
      ];
    }),
    await replayRow(ctx, `flap ${toggles}`, (ns) => {
      ns.batch(vethPairLines('fa', 'fb', 100).near);
      const idx = ns.ifindexes();
      return flapBurst(
        Array.from({ length: 100 }, (_, i) => idx.get(`fa${i}`)!),
        toggles,
      ).batches;
    }),
  ];
}
