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
import type { NamespaceModel } from '../../state/model';
import { released } from '../../runtime/memory';
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
 * its interface's name and namespace stay.
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

/** One namespace's series of one gauge, in the entries' order: each entry with its name and value. */
interface GaugeSeries {
  entries: NetconfEntry[];
  names: string[];
  shown: number[];
}

/** The series of one gauge in one namespace as they are now (the entries' order). */
function seriesOf(model: NamespaceModel, setting: number): GaugeSeries {
  const out: GaugeSeries = { entries: [], names: [], shown: [] };
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
    out.entries.push(e);
    out.names.push(name);
    // rp_filter is a mode (0, 1, 2); the others read as on (1) or off (0).
    out.shown.push(setting === SETTING_RP_FILTER ? value : value !== 0 ? 1 : 0);
  }
  return out;
}

function sameSeries(a: GaugeSeries, b: GaugeSeries): boolean {
  const n = a.entries.length;
  if (b.entries.length !== n) return false;
  for (let i = 0; i < n; i++)
    if (a.entries[i] !== b.entries[i] || a.names[i] !== b.names[i] || a.shown[i] !== b.shown[i]) return false;
  return true;
}

/**
 * The lines of each gauge of a namespace as of its last scrape, with the series they were made
 * from: the gauges are about eight series an interface (40,000 at 5,000 interfaces) and change
 * seldom, so a scrape that finds the same entries, names and values writes the ready bytes (as
 * link-runs.ts does for the per-interface families) instead of formatting every line again.
 * The lines are the same in both formats (gauges: no `_created`).
 */
const gaugeText = new WeakMap<NamespaceModel, ({ series: GaugeSeries; bytes: Buffer } | undefined)[]>();

function linesOf(model: NamespaceModel, setting: number): Buffer {
  let ofModel = gaugeText.get(model);
  if (ofModel === undefined) gaugeText.set(model, (ofModel = []));
  const series = seriesOf(model, setting);
  const cached = ofModel[setting];
  if (cached && sameSeries(cached.series, series)) return cached.bytes;
  const name = GAUGES[setting]!.name;
  let text = '';
  for (let i = 0; i < series.entries.length; i++)
    text += `${name}${labelsOf(series.entries[i]!, model.netns, series.names[i]!)} ${formatValue(series.shown[i]!)}\n`;
  const bytes = Buffer.from(text);
  // The lines replaced are garbage now: counted, so that a burst of changes gives its memory back.
  if (cached) released(cached.bytes.length);
  ofModel[setting] = { series, bytes };
  return bytes;
}

function gauge(w: SampleSink, sources: readonly NamespaceSource[], setting: number): void {
  const f = GAUGES[setting]!;
  w.family(f);
  // A text sink takes the ready lines; any other sink (OTLP) the samples.
  const text = w.asText;
  for (const source of sources) {
    if (!source.opened || source.compact) continue;
    const model = source.model;
    if (text) {
      text.raw(linesOf(model, setting));
      continue;
    }
    const series = seriesOf(model, setting);
    for (let i = 0; i < series.entries.length; i++)
      w.sample(f, [model.netns, series.names[i]!, FAMILY_NAMES[series.entries[i]!.family]], series.shown[i]!);
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
