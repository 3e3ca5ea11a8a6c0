// netlink_interface_master_info, _parent_info, _alias_info, _altname_info and
// netlink_interface_altnames_dropped: where each interface sits (src/state/topology.ts), as info
// series PromQL can join on. Only interfaces that have a master, a parent, an alias or an
// alternative name get a series of these: a pod's namespace (lo and a veth) gets none.

import type { NamespaceModel } from '../../state/model';
import { METRICS as M } from '../contract';
import type { SampleSink } from '../sink';
import type { NamespaceSource } from '../source';

/** A master's or parent's name in this namespace (`if<N>` for an ifindex the model does not hold). */
function nameOf(model: NamespaceModel, ifindex: number): string {
  return model.links.get(ifindex)?.name ?? `if${ifindex}`;
}

export function topology(w: SampleSink, sources: readonly NamespaceSource[]): void {
  w.family(M.interfaceMasterInfo);
  for (const { model } of sources)
    for (const link of model.links.values()) {
      const t = link.topology;
      if (link.tracked && t.master !== 0)
        w.sample(M.interfaceMasterInfo, [model.netns, link.name, nameOf(model, t.master), t.masterKind], 1);
    }
  w.family(M.interfaceParentInfo);
  for (const { model } of sources)
    for (const link of model.links.values()) {
      const t = link.topology;
      if (!link.tracked || t.parent === 0) continue;
      // Another namespace's ifindex cannot be named from here: if<N>, as `ip link` prints it.
      const elsewhere = t.parentNetnsid >= 0;
      const parent = elsewhere ? `if${t.parent}` : nameOf(model, t.parent);
      w.sample(M.interfaceParentInfo, [model.netns, link.name, parent, elsewhere ? String(t.parentNetnsid) : ''], 1);
    }
  w.family(M.interfaceAliasInfo);
  for (const { model } of sources)
    for (const link of model.links.values())
      if (link.tracked && link.topology.alias !== '')
        w.sample(M.interfaceAliasInfo, [model.netns, link.name, link.topology.alias], 1);
  w.family(M.interfaceAltnameInfo);
  for (const { model } of sources)
    for (const link of model.links.values()) {
      if (!link.tracked) continue;
      for (const altname of link.topology.altNames)
        w.sample(M.interfaceAltnameInfo, [model.netns, link.name, altname], 1);
    }
  w.family(M.interfaceAltnamesDropped);
  for (const source of sources) {
    if (!source.opened) continue;
    let dropped = 0;
    for (const link of source.model.links.values()) if (link.tracked) dropped += link.topology.altNamesDropped;
    // In a compact namespace (a pod found by --netns.all) the series is born at its first drop.
    if (!source.compact || dropped !== 0) w.sample(M.interfaceAltnamesDropped, [source.model.netns], dropped);
  }
}
