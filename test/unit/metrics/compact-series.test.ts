// Compact series for namespaces found by --netns.all (src/metrics/discovered.ts and the
// collectors): change counters born at their first change, self-metrics summed under netns="*"
// that never go down when a namespace goes, and host-wide neighbour tables exported once.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderNetlinkMetrics, type CollectorOptions } from '../../../src/metrics/render';
import type { NamespaceSource } from '../../../src/metrics/source';
import { SessionCounters } from '../../../src/session/session-counters';
import { DiscoveredTotals } from '../../../src/metrics/discovered';
import { AF_INET, RTM_NEWADDR, RTM_NEWNETCONF, RTM_NEWRULE } from '../../../src/netlink/constants';
import type { Exemplar, ExemplarLookup } from '../../../src/tracing/exemplars';
import { NamespaceModel } from '../../../src/state/model';
import { namespaceSource, podNamespace } from '../../helpers/model-source';

const header = { flags: 0, seq: 0, pid: 0 };

function source(
  { model, counters }: { model: NamespaceModel; counters: SessionCounters },
  compact: boolean,
): NamespaceSource {
  return namespaceSource(model, { counters, resyncs: 2, compact });
}

function render(sources: NamespaceSource[], options: Partial<CollectorOptions> = {}): string[] {
  const all: CollectorOptions = { addressInfo: true, addressInfoLinkLocal: false, ...options };
  return Buffer.concat(renderNetlinkMetrics(sources, all, '0.0.0'))
    .toString()
    .split('\n');
}

const of = (lines: string[], netns: string): string[] => lines.filter((l) => l.includes(`netns="${netns}"`));

test('a compact namespace: change counters born at their first change, with exemplars on the right line', () => {
  const full = source(podNamespace('full'), false);
  const compact = source(podNamespace('pod'), true);
  let lines = render([full, compact]);
  // Our own or a --netns namespace: the four address counters of each link from the start.
  assert.equal(of(lines, 'full').filter((l) => l.startsWith('netlink_address_changes_total{')).length, 8);
  assert.equal(of(lines, 'full').filter((l) => l.startsWith('netlink_neighbour_changes_total{')).length, 12);
  // A compact one: none yet; its state series all there.
  assert.deepEqual(
    of(lines, 'pod').filter((l) =>
      /^netlink_(address|neighbour)_changes_total\{|^netlink_address_dad_failures_total\{/.test(l),
    ),
    [],
  );
  for (const name of [
    'netlink_interface_up',
    'netlink_interface_flaps_total',
    'netlink_interface_carrier_down_changes_total',
    'netlink_interface_addresses',
  ]) {
    assert.ok(
      of(lines, 'pod').some((l) => l.startsWith(`${name}{netns="pod",interface="eth0"`)),
      name,
    );
  }
  compact.model.address({
    ...header,
    type: RTM_NEWADDR,
    family: AF_INET,
    prefixLength: 32,
    addressFlags: 0,
    scope: 0,
    ifindex: 2,
    address: '10.0.0.5',
  });
  lines = render([full, compact]);
  assert.deepEqual(
    of(lines, 'pod').filter((l) => l.startsWith('netlink_address_changes_total{')),
    ['netlink_address_changes_total{netns="pod",interface="eth0",family="inet",action="added"} 1'],
  );
  // OpenMetrics with an exemplar on inet/added only: it lands on that line, whatever lines are missing.
  const exemplar: Exemplar = { traceId: 'abc', spanId: '00f067aa0ba902b7', value: 1, timestamp: 1700000000.5 };
  const lookup: ExemplarLookup = {
    flap: () => undefined,
    addressChange: (netns, _i, family, action) =>
      netns === 'pod' && family === 'inet' && action === 'added' ? exemplar : undefined,
  };
  const om = render([full, compact], { openMetrics: true, exemplars: lookup });
  assert.deepEqual(
    of(om, 'pod').filter((l) => l.startsWith('netlink_address_changes_total{')),
    [
      'netlink_address_changes_total{netns="pod",interface="eth0",family="inet",action="added"} 1 # {trace_id="abc",span_id="00f067aa0ba902b7"} 1 1700000000.500',
    ],
  );
});

test('self-metrics of compact namespaces: per namespace only ready and overruns; the rest summed under netns="*", never going down', () => {
  const totals = new DiscoveredTotals();
  totals.enabled = true;
  const own = source(podNamespace(''), false);
  const a = source(podNamespace('a'), true);
  const b = source(podNamespace('b'), true);
  const selfFamilies = (lines: string[], netns: string): string[] =>
    [
      ...new Set(
        of(lines, netns)
          .filter((l) =>
            /^netlink_(messages_received|dump_messages|socket|resyncs|last_resync|decode|event_queue|series_limit|tracked|namespace_ready)/.test(
              l,
            ),
          )
          .map((l) => l.slice(0, l.indexOf('{'))),
      ),
    ].sort();
  // Before any compact namespace: the sums at 0 (a 0 is a 0).
  let lines = render([own], { discovered: totals });
  assert.ok(lines.includes('netlink_resyncs_total{netns="*"} 0'), lines.filter((l) => l.includes('"*"')).join('\n'));
  lines = render([own, a, b], { discovered: totals });
  assert.deepEqual(selfFamilies(lines, 'a'), ['netlink_namespace_ready', 'netlink_socket_overruns_total']);
  assert.ok(selfFamilies(lines, '').includes('netlink_messages_received_total'));
  const sum = (ls: string[], name: string): number =>
    Number(ls.find((l) => l.startsWith(`${name}{netns="*"`))?.split(' ')[1]);
  assert.equal(sum(lines, 'netlink_resyncs_total'), 4);
  assert.equal(sum(lines, 'netlink_tracked_interfaces'), 4);
  const newlinks = (ls: string[]): number =>
    sum(
      ls.filter((l) => l.includes('type="RTM_NEWLINK"')),
      'netlink_messages_received_total',
    );
  assert.equal(newlinks(lines), 4);
  // b goes: its counters stay in the sums (retired once, however often it is reported gone).
  totals.retire(b);
  totals.retire(b);
  totals.retire(own); // not compact: not summed
  lines = render([own, a], { discovered: totals });
  assert.equal(sum(lines, 'netlink_resyncs_total'), 4);
  assert.equal(newlinks(lines), 4);
  assert.equal(sum(lines, 'netlink_tracked_interfaces'), 2, 'gauges sum the namespaces watched now');
  assert.deepEqual(of(lines, 'b'), []);
});

test('the host-wide neighbour tables are exported once, without netns', () => {
  const own = source(podNamespace(''), false);
  const a = source(podNamespace('a'), true);
  for (const s of [own, a]) {
    s.model.neighbourLimits.set(0, 1024);
    s.model.neighbourLimits.set(1, 2048);
    s.model.neighbourTableEntries.set(0, 7);
  }
  const lines = render([own, a]);
  assert.deepEqual(
    lines.filter((l) => l.startsWith('netlink_neighbour_table_')),
    [
      'netlink_neighbour_table_limit{family="inet"} 1024',
      'netlink_neighbour_table_limit{family="inet6"} 2048',
      'netlink_neighbour_table_entries{family="inet"} 7',
    ],
  );
});

test('rules in a compact namespace: only the tables other than the defaults, counters born at their first change', () => {
  const full = source(podNamespace('full'), false);
  const compact = source(podNamespace('pod'), true);
  const rule = (priority: number, table: number) => ({
    ...header,
    type: RTM_NEWRULE,
    family: AF_INET,
    dstLength: 0,
    srcLength: 0,
    tos: 0,
    table,
    action: 1,
    ruleFlags: 0,
    priority,
  });
  for (const s of [full, compact]) {
    s.model.rule(rule(0, 255), 'initial-dump');
    s.model.rule(rule(32766, 254), 'initial-dump');
  }
  const rules = (lines: string[], netns: string) => of(lines, netns).filter((l) => l.startsWith('netlink_rule'));
  assert.deepEqual(rules(render([full, compact]), 'pod'), []);
  assert.deepEqual(rules(render([full, compact]), 'full'), [
    'netlink_rules{netns="full",family="inet",table="local"} 1',
    'netlink_rules{netns="full",family="inet",table="main"} 1',
    'netlink_rule_changes_total{netns="full",family="inet",action="added"} 0',
    'netlink_rule_changes_total{netns="full",family="inet",action="removed"} 0',
    'netlink_rule_changes_total{netns="full",family="inet6",action="added"} 0',
    'netlink_rule_changes_total{netns="full",family="inet6",action="removed"} 0',
    'netlink_rules_dropped_total{netns="full"} 0',
  ]);
  compact.model.rule(rule(100, 100));
  assert.deepEqual(rules(render([full, compact]), 'pod'), [
    'netlink_rules{netns="pod",family="inet",table="100"} 1',
    'netlink_rule_changes_total{netns="pod",family="inet",action="added"} 1',
  ]);
});

test('netconf in a compact namespace: no gauges at all, its change counter born at its first change', () => {
  const full = source(podNamespace('full'), false);
  const compact = source(podNamespace('pod'), true);
  const netconf = (ifindex: number, forwarding: number) => ({
    ...header,
    type: RTM_NEWNETCONF,
    family: AF_INET,
    ifindex,
    forwarding,
    rpFilter: 0,
    mcForwarding: 0,
    proxyNeigh: 0,
    ignoreRoutesWithLinkdown: 0,
    input: undefined,
    bcForwarding: 0,
  });
  for (const s of [full, compact]) {
    s.model.netconf(netconf(-1, 1), 'initial-dump');
    s.model.netconf(netconf(2, 1), 'initial-dump');
  }
  const lines = (netns: string) =>
    of(render([full, compact]), netns).filter((l) =>
      /^netlink_(forwarding|rp_filter|mc_forwarding|proxy_neigh|ignore_routes|netconf)/.test(l),
    );
  assert.deepEqual(lines('pod'), []);
  assert.deepEqual(
    lines('full').filter((l) => l.startsWith('netlink_forwarding')),
    [
      'netlink_forwarding_enabled{netns="full",interface="all",family="inet"} 1',
      'netlink_forwarding_enabled{netns="full",interface="eth0",family="inet"} 1',
    ],
  );
  assert.equal(lines('full').filter((l) => l.startsWith('netlink_netconf_changes_total')).length, 9);
  compact.model.netconf({ ...netconf(-1, 0), rpFilter: undefined, mcForwarding: undefined });
  assert.deepEqual(lines('pod'), ['netlink_netconf_changes_total{netns="pod",family="inet",setting="forwarding"} 1']);
});
