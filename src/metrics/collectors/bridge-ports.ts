// netlink_bridge_port_state, netlink_bridge_port_state_changes_total,
// netlink_bridge_ports_dropped_total: each bridge port's STP state as a state set, its changes,
// and the ports the cap dropped. Names are read at scrape time from the links (a rename moves the
// series); a port whose interface has no series (include/exclude, the tracked cap) has none here.

import { BRIDGE_PORT_STATE_NAMES } from '../../netlink/constants';
import { METRICS as M } from '../contract';
import type { SampleSink } from '../sink';
import type { NamespaceSource } from '../source';
import type { BridgePortRecord } from '../../state/bridge-ports';

/** The ports of one namespace that get series, with their interface and bridge names, in a stable order. */
function portsOf(source: NamespaceSource): [BridgePortRecord, string, string][] {
  const model = source.model;
  const out: [BridgePortRecord, string, string][] = [];
  for (const record of model.bridgePorts.ports.values()) {
    const link = model.links.get(record.ifindex);
    if (link === undefined || !link.tracked) continue;
    out.push([record, link.name, model.links.get(record.bridge)?.name ?? `if${record.bridge}`]);
  }
  return out.sort((a, b) => (a[2] === b[2] ? a[0].ifindex - b[0].ifindex : a[2] < b[2] ? -1 : 1));
}

export function bridgePorts(w: SampleSink, sources: readonly NamespaceSource[]): void {
  const ports = sources.map((source) => (source.opened ? portsOf(source) : []));
  w.family(M.bridgePortState);
  sources.forEach((source, i) => {
    for (const [record, name, bridge] of ports[i]!) {
      BRIDGE_PORT_STATE_NAMES.forEach((state, s) => {
        w.sample(M.bridgePortState, [source.model.netns, bridge, name, state], record.state === s ? 1 : 0);
      });
    }
  });
  w.family(M.bridgePortStateChanges);
  sources.forEach((source, i) => {
    for (const [record, name, bridge] of ports[i]!)
      w.sample(M.bridgePortStateChanges, [source.model.netns, bridge, name], record.changes, record.created);
  });
  w.family(M.bridgePortsDropped);
  for (const source of sources) {
    const dropped = source.model.bridgePorts.dropped;
    // In a compact namespace (a pod found by --netns.all) the counter is born at its first drop.
    if (source.opened && (!source.compact || dropped !== 0))
      w.sample(M.bridgePortsDropped, [source.model.netns], dropped, source.model.createdAt);
  }
}
