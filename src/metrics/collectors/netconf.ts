// netlink_forwarding_enabled, netlink_rp_filter_mode, netlink_mc_forwarding_enabled,
// netlink_proxy_neigh_enabled, netlink_ignore_routes_with_linkdown_enabled: the netconf values
// of each family, for the namespace-wide entries ("all", "default") and each interface that
// gets series; netlink_netconf_changes_total and netlink_netconf_dropped_total.
//
// A compact namespace (a pod found by --netns.all) has none of the gauges: a plain pod costs
// no series for its netconf, and its changes are still counted (born at the first) and told.

import { FAMILY_NAMES } from '../../netlink/family';
import { NETCONFA_IFINDEX_ALL, NETCONFA_IFINDEX_DEFAULT } from '../../netlink/constants';
import { FAMILY_SETTINGS, NETCONF_SETTINGS, SETTING_RP_FILTER } from '../../state/netconf-set';
import { METRICS as M, type Family } from '../contract';
import type { NetconfEntry } from '../../state/netconf-set';
import type { SampleSink } from '../sink';
import type { NamespaceSource } from '../source';
import { escapeLabelValue, formatValue } from '../writer';

type NetconfFamily = Family<readonly ['netns', 'interface', 'family']>;

/** The gauge of each NETCONF_SETTINGS index. */
const GAUGES: readonly NetconfFamily[] = [
  M.forwardingEnabled,
  M.rpFilterMode,
  M.mcForwardingEnabled,
  M.proxyNeighEnabled,
  M.ignoreRoutesWithLinkdownEnabled,
];

/**
 * An entry's labels as exposition text (`{netns="..",interface="..",family=".."}`), kept while
 * its interface's name and namespace stay: the gauges are about eight series an interface, and
 * escaping and joining their labels anew each scrape was most of their cost.
 */
interface EntryLabels {
  netns: string;
  name: string;
  text: string;
}
const entryLabels = new WeakMap<NetconfEntry, EntryLabels>();

function labelsOf(entry: NetconfEntry, netns: string, name: string): string {
  let cached = entryLabels.get(entry);
  if (cached === undefined || cached.name !== name || cached.netns !== netns) {
    const text = `{netns="${escapeLabelValue(netns)}",interface="${escapeLabelValue(name)}",family="${FAMILY_NAMES[entry.family]}"}`;
    entryLabels.set(entry, (cached = { netns, name, text }));
  }
  return cached.text;
}

function gauge(w: SampleSink, sources: readonly NamespaceSource[], setting: number): void {
  const f = GAUGES[setting]!;
  w.family(f);
  // A text sink takes the lines sampleText would write, with each entry's labels made once.
  const text = w.asText;
  for (const source of sources) {
    if (!source.opened || source.compact) continue;
    const model = source.model;
    for (const e of model.netconfSet.entries.values()) {
      const value = e.values[setting];
      if (value === undefined) continue;
      let name: string;
      if (e.ifindex === NETCONFA_IFINDEX_ALL) name = 'all';
      else if (e.ifindex === NETCONFA_IFINDEX_DEFAULT) name = 'default';
      else {
        // Interfaces that get series (the include/exclude patterns and the cap), by their name now.
        const link = model.links.get(e.ifindex);
        if (link === undefined || !link.tracked) continue;
        name = link.name;
      }
      // rp_filter is a mode (0, 1, 2); the others read as on (1) or off (0).
      const shown = setting === SETTING_RP_FILTER ? value : value !== 0 ? 1 : 0;
      if (text) text.raw(`${f.name}${labelsOf(e, model.netns, name)} ${formatValue(shown)}\n`);
      else w.sample(f, [model.netns, name, FAMILY_NAMES[e.family]], shown);
    }
  }
}

export function netconf(w: SampleSink, sources: readonly NamespaceSource[]): void {
  for (let s = 0; s < NETCONF_SETTINGS.length; s++) gauge(w, sources, s);
  w.family(M.netconfChanges);
  for (const source of sources) {
    if (!source.opened) continue;
    const model = source.model;
    FAMILY_NAMES.forEach((family, f) => {
      for (const s of FAMILY_SETTINGS[f]!) {
        const count = model.netconfSet.changes[f]![s]!;
        // In a compact namespace a series is born at its first change.
        if (!source.compact || count !== 0)
          w.sample(M.netconfChanges, [model.netns, family, NETCONF_SETTINGS[s]!], count, model.createdAt);
      }
    });
  }
  w.family(M.netconfDropped);
  for (const source of sources) {
    const dropped = source.model.netconfSet.dropped;
    // In a compact namespace the counter is born at its first drop.
    if (source.opened && (!source.compact || dropped !== 0))
      w.sample(M.netconfDropped, [source.model.netns], dropped, source.model.createdAt);
  }
}
