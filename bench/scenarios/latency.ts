// Scenario 7: latency from the kernel call that made a change to the change's line in
// `events` mode. A single admin toggle of a veth end is sent with the addon (the timestamp is
// taken right after send returns: the kernel has made the change and queued its notification);
// the line's timestamp is its arrival on our end of the exporter's stdout pipe. Changes are
// spaced ~10 ms apart, each waited for before the next. Link changes, because route lines are
// coalesced in events mode after 20 a second per table/protocol/action.

import { performance } from 'node:perf_hooks';
import { createNetns, vethPairLines } from '../netns';
import { EventsProc } from '../procs';
import { linkAdminRequest } from '../requests';
import { BurstSender } from '../sockets';
import type { Row } from '../table';
import { percentile, sleep } from '../util';
import type { Context } from './context';

export async function latencyScenario(ctx: Context): Promise<Row[]> {
  const changes = ctx.size(200, 20);
  const ns = createNetns();
  let events: EventsProc | undefined;
  let sender: BurstSender | undefined;
  try {
    ns.batch(vethPairLines('l', 'k', 1).near);
    const ifindex = ns.ifindexes().get('l0')!;
    events = await EventsProc.spawn(ns.name);
    sender = new BurstSender(ns.path);
    ctx.log(`latency: ${changes} admin toggles, 10 ms apart`);
    const lat: number[] = [];
    for (let i = 0; i < changes; i++) {
      const up = i % 2 === 1; // l0 starts up: down, up, down, ...
      const req = linkAdminRequest(i + 1, ifindex, up);
      sender.sendOne(req);
      const t0 = performance.now();
      const want = up ? 'up' : 'down';
      const { at } = await events.next(
        (e) =>
          e.kind === 'link' &&
          e.action === 'changed' &&
          e.interface === 'l0' &&
          (e.state as { admin?: string } | undefined)?.admin === want,
      );
      lat.push(at - t0);
      const wait = 10 - (performance.now() - t0);
      if (wait > 0) await sleep(wait);
    }
    await sender.check('latency toggles');
    const note =
      `${changes} link admin toggles: p50 ${percentile(lat, 50).toFixed(2)} ms, p99 ${percentile(lat, 99).toFixed(2)} ms, ` +
      `max ${Math.max(...lat).toFixed(2)} ms, min ${Math.min(...lat).toFixed(2)} ms (send returned -> JSON line read from events mode stdout)`;
    return [{ scenario: '7 event latency', notes: [note], failures: [] }];
  } finally {
    sender?.close();
    await events?.stop();
    ns.delete();
  }
}
