// The netconf gauges are kept as ready lines per namespace and gauge, written again only when an
// entry, an interface's name or a value moved. Whatever happened in between, a scrape must write
// exactly what a fresh render of the same state writes: here a model scraped after every step
// against a twin fed the same messages and rendered once (no cache), in both formats.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderNetlinkMetrics, COLLECTORS } from '../../../src/metrics/render';
import { AF_INET, AF_INET6, RTM_DELLINK, RTM_DELNETCONF, RTM_NEWNETCONF } from '../../../src/netlink/constants';
import type { LinkMessage, NetconfMessage } from '../../../src/netlink/types';
import { NamespaceModel } from '../../../src/state/model';
import { namespaceSource, netconfMessage, upLink } from '../../helpers/model-source';

type Message = { link: LinkMessage } | { netconf: NetconfMessage };

function netconf(family: number, ifindex: number, values: Partial<NetconfMessage>, type = RTM_NEWNETCONF): Message {
  return { netconf: netconfMessage(family, ifindex, values, type) };
}

function whole(family: number, ifindex: number, forwarding = 0): Message {
  return netconf(family, ifindex, {
    forwarding,
    rpFilter: family === AF_INET ? 2 : undefined,
    mcForwarding: 0,
    proxyNeigh: 0,
    ignoreRoutesWithLinkdown: 0,
  });
}

const NETCONF = COLLECTORS.filter(([name]) => name === 'netconf');

function model(): NamespaceModel {
  return new NamespaceModel({
    netns: 'ns "a"',
    include: /^(?!x).*$/,
    exclude: undefined,
    maxTracked: 100_000,
    now: () => 1_000,
  });
}

function apply(m: NamespaceModel, message: Message): void {
  if ('link' in message) m.link(message.link);
  else m.netconf(message.netconf);
}

function render(m: NamespaceModel, openMetrics: boolean): string {
  const options = { addressInfo: true, addressInfoLinkLocal: false, openMetrics };
  return Buffer.concat(renderNetlinkMetrics([namespaceSource(m)], options, 'v', undefined, NETCONF))
    .toString()
    .replace(/^netlink_collector_duration_seconds.*\n/m, '');
}

test('the kept netconf lines equal a fresh render after every change, in both formats', () => {
  const steps: Message[][] = [
    [
      ...[1, 2, 3, 4].map((i) => ({ link: upLink(i, `veth${i}`) })),
      ...[-1, -2, 1, 2, 3, 4].flatMap((i) => [whole(AF_INET, i), whole(AF_INET6, i)]),
    ],
    [netconf(AF_INET, 2, { forwarding: 1 })],
    [netconf(AF_INET, 3, { rpFilter: 0 }), netconf(AF_INET6, 3, { proxyNeigh: 5 })],
    // A rename: the same entry under the new name.
    [{ link: upLink(2, 'wan"0') }],
    // An interface the include pattern leaves out: its entries have no series.
    [{ link: upLink(4, 'x4') }],
    [netconf(AF_INET6, 1, {}, RTM_DELNETCONF)],
    // Back: a new entry, at the end of the map's order.
    [whole(AF_INET6, 1, 1)],
    [{ link: upLink(5, 'veth5') }, whole(AF_INET, 5)],
    [{ link: upLink(3, 'veth3', RTM_DELLINK) }, netconf(AF_INET, 3, {}, RTM_DELNETCONF)],
    [],
  ];
  const kept = model();
  const seen: Message[] = [];
  for (const [n, step] of steps.entries()) {
    for (const message of step) {
      apply(kept, message);
      seen.push(message);
    }
    // Two scrapes of the kept model in turn (the second from the ready lines), then the twin.
    for (const openMetrics of [false, true, false]) {
      const twin = model();
      for (const message of seen) apply(twin, message);
      assert.equal(render(kept, openMetrics), render(twin, openMetrics), `step ${n}, openMetrics ${openMetrics}`);
    }
  }
  assert.match(
    render(kept, false),
    /netlink_forwarding_enabled\{netns="ns \\"a\\"",interface="wan\\"0",family="inet"\} 1\n/,
  );
});
