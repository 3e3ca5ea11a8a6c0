// Bonds and VRFs (src/state/bonds.ts): netlink_bond_*, netlink_vrf_info and
// netlink_bonds_dropped_total. A namespace without bonds or VRFs has no samples here (a pod
// found by --netns.all costs nothing), and a slave whose bond is not held has none either.
// Slaves are not filtered by the interface include/exclude patterns: bonds are few, and the
// caps of src/state/bonds.ts bound them.

import { bondModeName, BOND_LINK_UP, BOND_STATE_ACTIVE } from '../../netlink/link-kind-data';
import type { BondRecord, BondSet, BondSlaveRecord } from '../../state/bonds';
import { METRICS as M } from '../contract';
import type { SampleSink } from '../sink';
import type { NamespaceSource } from '../source';

/** One namespace's bonds, each with its slaves, read once per scrape. */
interface View {
  netns: string;
  set: BondSet;
  bonds: { bond: BondRecord; slaves: BondSlaveRecord[] }[];
}

function view(source: NamespaceSource): View {
  const set = source.model.bonds;
  const slavesOf = new Map<number, BondSlaveRecord[]>();
  for (const bond of set.bonds.keys()) slavesOf.set(bond, []);
  for (const slave of set.slaves.values()) slavesOf.get(slave.bond)?.push(slave);
  const bonds = [...set.bonds.values()].map((bond) => ({ bond, slaves: slavesOf.get(bond.ifindex)! }));
  return { netns: source.model.netns, set, bonds };
}

export function bonds(w: SampleSink, sources: readonly NamespaceSource[]): void {
  const views = sources.filter((s) => s.opened && !s.model.bonds.empty).map(view);

  w.family(M.bondInfo);
  for (const { netns, bonds } of views)
    for (const { bond } of bonds) w.sample(M.bondInfo, [netns, bond.name, bondModeName(bond.mode)], 1);

  w.family(M.bondActiveSlaveInfo);
  for (const { netns, set, bonds } of views)
    for (const { bond } of bonds)
      if (bond.activeSlave !== 0) w.sample(M.bondActiveSlaveInfo, [netns, bond.name, set.nameOf(bond.activeSlave)], 1);

  w.family(M.bondSlaves);
  for (const { netns, bonds } of views)
    for (const { bond, slaves } of bonds) w.sample(M.bondSlaves, [netns, bond.name], slaves.length);

  w.family(M.bondSlavesUp);
  for (const { netns, bonds } of views)
    for (const { bond, slaves } of bonds) {
      let up = 0;
      for (const s of slaves) if (s.mii === BOND_LINK_UP) up++;
      w.sample(M.bondSlavesUp, [netns, bond.name], up);
    }

  w.family(M.bondSlaveMiiUp);
  for (const { netns, bonds } of views)
    for (const { bond, slaves } of bonds)
      for (const s of slaves) w.sample(M.bondSlaveMiiUp, [netns, bond.name, s.name], s.mii === BOND_LINK_UP ? 1 : 0);

  w.family(M.bondSlaveActive);
  for (const { netns, bonds } of views)
    for (const { bond, slaves } of bonds)
      for (const s of slaves)
        w.sample(M.bondSlaveActive, [netns, bond.name, s.name], s.state === BOND_STATE_ACTIVE ? 1 : 0);

  w.family(M.bondSlaveLinkFailures);
  for (const { netns, bonds } of views)
    for (const { bond, slaves } of bonds)
      for (const s of slaves)
        w.sample(M.bondSlaveLinkFailures, [netns, bond.name, s.name], s.linkFailures, s.failuresCreated);

  w.family(M.bondFailovers);
  for (const { netns, bonds } of views)
    for (const { bond } of bonds) w.sample(M.bondFailovers, [netns, bond.name], bond.failovers, bond.created);

  w.family(M.bondLacpInfo);
  for (const { netns, bonds } of views)
    for (const { bond } of bonds) {
      const ad = bond.ad;
      if (ad?.aggregator === undefined) continue;
      const labels = [
        netns,
        bond.name,
        String(ad.aggregator),
        ad.actorKey === undefined ? '' : String(ad.actorKey),
        ad.partnerKey === undefined ? '' : String(ad.partnerKey),
        ad.partnerMac ?? '',
      ] as const;
      w.sample(M.bondLacpInfo, labels, 1);
    }

  w.family(M.bondLacpPorts);
  for (const { netns, bonds } of views)
    for (const { bond } of bonds)
      if (bond.ad?.numPorts !== undefined) w.sample(M.bondLacpPorts, [netns, bond.name], bond.ad.numPorts);

  w.family(M.bondSlaveLacpAggregator);
  for (const { netns, bonds } of views)
    for (const { bond, slaves } of bonds)
      for (const s of slaves)
        if (s.aggregator !== undefined) w.sample(M.bondSlaveLacpAggregator, [netns, bond.name, s.name], s.aggregator);

  w.family(M.vrfInfo);
  for (const { netns, set } of views)
    for (const v of set.vrfs.values()) w.sample(M.vrfInfo, [netns, v.name, v.table], 1);

  w.family(M.bondsDropped);
  for (const source of sources) {
    const set = source.model.bonds;
    // Born at the first drop, in every namespace.
    if (source.opened && set.dropped !== 0)
      w.sample(M.bondsDropped, [source.model.netns], set.dropped, set.droppedCreated);
  }
}
