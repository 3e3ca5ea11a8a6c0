// The per-interface exposition is kept as ready runs of text, re-joined only where links
// changed. Whatever happened in between, a scrape must write exactly what a fresh render of the
// same state writes: here a model that has been scraped all along (its runs patched, split,
// merged, reused) against a twin built from the same messages and rendered once (no cache).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderNetlinkMetrics, type CollectorOptions } from '../../../src/metrics/render';
import {
  AF_INET,
  AF_INET6,
  IFF_LOWER_UP,
  IFF_UP,
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWNEIGH,
} from '../../../src/netlink/constants';
import type { AddressMessage, LinkMessage, NeighbourMessage } from '../../../src/netlink/types';
import type { Exemplar, ExemplarLookup } from '../../../src/tracing/exemplars';
import { NamespaceModel } from '../../../src/state/model';
import { namespaceSource } from '../../helpers/model-source';

type Message = { link: LinkMessage } | { address: AddressMessage } | { neighbour: NeighbourMessage };

const header = { flags: 0, seq: 0, pid: 0 };

function linkMessage(ifindex: number, o: { name?: string; up?: boolean; carrierDown?: number } = {}): Message {
  const up = o.up ?? true;
  return {
    link: {
      ...header,
      type: RTM_NEWLINK,
      family: 0,
      deviceType: 1,
      ifindex,
      ifFlags: up ? IFF_UP | IFF_LOWER_UP : IFF_UP,
      change: 0,
      name: o.name ?? `veth${ifindex}`,
      mtu: 1500,
      operstate: up ? 6 : 2,
      carrier: up ? 1 : 0,
      // Some links never report the kernel's counters: their lines are empty.
      ...(ifindex % 5 === 0
        ? {}
        : {
            carrierChanges: 2 * (o.carrierDown ?? 0),
            carrierUpCount: o.carrierDown ?? 0,
            carrierDownCount: o.carrierDown ?? 0,
          }),
      mac: `02:00:00:00:${(ifindex >> 8).toString(16).padStart(2, '0')}:${(ifindex & 0xff).toString(16).padStart(2, '0')}`,
      kind: 'veth',
    },
  };
}

function apply(model: NamespaceModel, m: Message): void {
  if ('link' in m) model.link(m.link);
  else if ('address' in m) model.address(m.address);
  else model.neighbour(m.neighbour);
}

/** A small deterministic generator (the same sequence on every run). */
function random(seed: number): (n: number) => number {
  let s = seed;
  return (n) => {
    s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff;
    // The high bits: the low ones of this generator repeat with a short period.
    return (s >>> 16) % n;
  };
}

const exemplar = (traceId: string): Exemplar => ({
  traceId,
  spanId: '00f067aa0ba902b7',
  value: 1,
  timestamp: 1700000000.5,
});
const lookup: ExemplarLookup = {
  flap: (_netns, ifindex) => (ifindex % 37 === 1 ? exemplar(`f${ifindex}`) : undefined),
  addressChange: (_netns, ifindex, family, action) =>
    ifindex % 29 === 2 && family === 'inet6' && action === 'added' ? exemplar(`a${ifindex}`) : undefined,
};

function render(model: NamespaceModel, openMetrics: boolean): string {
  const source = namespaceSource(model);
  const options: CollectorOptions = {
    addressInfo: true,
    addressInfoLinkLocal: false,
    openMetrics,
    ...(openMetrics ? { exemplars: lookup } : {}),
  };
  const text = Buffer.concat(renderNetlinkMetrics([source], options, '0.0.0')).toString();
  // The one thing that differs between two renders of the same state.
  return text.replace(/^netlink_collector_duration_seconds\{.*\n/gm, '');
}

test('a scraped-all-along model writes what a fresh render of the same state writes', () => {
  let clock = 1_000_000;
  const now = (): number => clock;
  // Names starting with "x" get no series: a rename moves a link out of (and back into) the runs.
  const model = (): NamespaceModel =>
    new NamespaceModel({ netns: 'ns "a"', include: /^(?!x).*$/, exclude: undefined, maxTracked: 100_000, now });
  const bornAt = clock;
  const warm = model();
  // Each message with the time it arrived: the twin must see the same clock.
  const history: [number, Message][] = [];
  const send = (m: Message): void => {
    history.push([clock, m]);
    apply(warm, m);
  };
  const next = random(7);
  let nextIfindex = 1;
  for (; nextIfindex <= 600; nextIfindex++) send(linkMessage(nextIfindex));
  const live = (): number[] => [...warm.links.keys()];
  const pick = (): number => {
    const all = live();
    return all[next(all.length)] as number;
  };
  let scrapes = 0;
  for (let step = 0; step < 60; step++) {
    clock += 1;
    // A few links change state: their runs are patched.
    for (let k = next(4); k > 0; k--) send(linkMessage(pick(), { up: next(2) === 0, carrierDown: next(9) }));
    // Sometimes many at once, as after a resync.
    if (step % 17 === 16) for (const ifindex of live()) send(linkMessage(ifindex, { carrierDown: step }));
    if (next(3) === 0) send({ link: { ...(linkMessage(pick()) as { link: LinkMessage }).link, type: RTM_DELLINK } });
    if (next(3) === 0) send(linkMessage(nextIfindex++));
    if (next(4) === 0) send(linkMessage(pick(), { name: `${next(2) === 0 ? 'x' : 'r'}${step}\\"é` }));
    if (next(2) === 0) {
      const ifindex = pick();
      send({
        address: {
          ...header,
          type: RTM_NEWADDR,
          family: AF_INET6,
          prefixLength: 64,
          addressFlags: 0,
          scope: 0,
          ifindex,
          address: `fd00::${ifindex}:${step}`,
        },
      });
    }
    if (next(4) === 0) {
      const held = [...warm.addresses.values()][0];
      if (held)
        send({
          address: {
            ...header,
            type: RTM_DELADDR,
            family: held.family === 'inet6' ? AF_INET6 : AF_INET,
            prefixLength: held.prefixLength,
            addressFlags: 0,
            scope: 0,
            ifindex: held.ifindex,
            address: held.address,
          },
        });
    }
    if (next(3) === 0)
      send({
        neighbour: {
          ...header,
          type: RTM_NEWNEIGH,
          family: AF_INET,
          ifindex: pick(),
          state: 2,
          neighbourFlags: 0,
          neighbourType: 1,
          destination: `10.1.${step}.${next(250)}`,
          lladdr: '02:aa:bb:cc:dd:ee',
        },
      });
    // Deleted links leave once their grace period is over.
    if (step % 10 === 9) clock += 10;
    if (next(2) === 0) continue;
    const scrapedAt = clock;
    // Made when the warm one was: the `_created` of its counters is the model's birth.
    clock = bornAt;
    const cold = model();
    for (const [at, m] of history) {
      clock = at;
      apply(cold, m);
    }
    clock = scrapedAt;
    // The exporter's models expire deleted links on a timer of their own (deletedGracePeriod),
    // never at scrape time: here, with a clock of the test's, both just before the scrape.
    warm.expireDeleted(5);
    cold.expireDeleted(5);
    for (const openMetrics of [false, true]) {
      const expected = render(cold, openMetrics);
      assert.equal(render(warm, openMetrics), expected, `step ${step}, openMetrics ${openMetrics}`);
      // Scraped again with nothing changed: the runs are reused as they are.
      assert.equal(render(warm, openMetrics), expected, `step ${step}, openMetrics ${openMetrics}, again`);
    }
    scrapes++;
  }
  assert.ok(scrapes > 20, `${scrapes} scrapes compared`);
  // The exemplar paths were taken.
  assert.match(render(warm, true), /netlink_interface_flaps_total\{[^}]*\} \d+ # \{trace_id="f\d+"/);
});

test('each family of per-interface lines comes once, with all its samples together', () => {
  const model = new NamespaceModel({ netns: '', include: /^.*$/, exclude: undefined, maxTracked: 100_000 });
  for (let ifindex = 1; ifindex <= 1000; ifindex++) apply(model, linkMessage(ifindex));
  const text = render(model, false);
  let family = '';
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) /.exec(line);
    if (type) {
      family = type[1] as string;
      assert.ok(!seen.has(family), `${family} announced twice`);
      seen.add(family);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const name = /^[a-z_:][a-z0-9_:]*/.exec(line)?.[0] ?? '';
    assert.equal(name, family, `${name} outside its family block`);
  }
  assert.equal(text.match(/^netlink_interface_up\{/gm)?.length, 1000);
  assert.equal(text.match(/^netlink_neighbour_changes_total\{/gm)?.length, 6000);
});
