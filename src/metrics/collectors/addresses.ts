// netlink_interface_addresses, netlink_address_*: the per-link families (from the cached link
// text) and one netlink_address_info series per address.

import { scopeName } from '../../netlink/format';
import { isLinkLocal } from '../../state/addresses';
import type { ExemplarLookup } from '../../tracing/exemplars';
import { METRICS as M } from '../contract';
import type { SampleSink, TextSink } from '../sink';
import { annotateSamples, familyWithExemplars } from './link-exemplars';
import { familyOfLinks, linkSeries } from './link-runs';
import { ADDRESS_CHANGES, ADDRESS_SERIES, ADDRESSES, DAD_FAILURES } from './link-text';
import type { CollectorOptions } from './options';
import type { NamespaceSource } from '../source';

/** netlink_address_changes_total (four lines a link, in ADDRESS_SERIES order), with exemplars. */
function addressChangesWithExemplars(w: TextSink, sources: readonly NamespaceSource[], lookup: ExemplarLookup): void {
  familyWithExemplars(
    w,
    M.addressChanges,
    sources,
    ADDRESS_CHANGES,
    (netns, link) => {
      const exemplars = ADDRESS_SERIES.map(([family, action]) =>
        lookup.addressChange(netns, link.ifindex, family, action),
      );
      return exemplars.every((e) => e === undefined) ? undefined : exemplars;
    },
    (lines, exemplars) =>
      annotateSamples(M.addressChanges, lines, exemplars, (line) =>
        ADDRESS_SERIES.findIndex(([family, action]) => line.includes(`,family="${family}",action="${action}"} `)),
      ),
  );
}

export function addresses(w: SampleSink, sources: readonly NamespaceSource[], options: CollectorOptions): void {
  const runs = linkSeries(w, sources);
  familyOfLinks(w, M.interfaceAddresses, runs, ADDRESSES);
  const text = w.asText;
  if (text?.openMetrics && options.exemplars) addressChangesWithExemplars(text, sources, options.exemplars);
  else familyOfLinks(w, M.addressChanges, runs, ADDRESS_CHANGES);
  familyOfLinks(w, M.dadFailures, runs, DAD_FAILURES);
  w.family(M.addressInfo);
  if (!options.addressInfo) return;
  for (const source of sources) {
    const model = source.model;
    for (const address of model.addresses.values()) {
      const link = model.links.get(address.ifindex);
      if (!link?.tracked) continue;
      if (!options.addressInfoLinkLocal && isLinkLocal(address)) continue;
      w.sample(
        M.addressInfo,
        [
          model.netns,
          link.name,
          address.family,
          address.address,
          String(address.prefixLength),
          scopeName(address.scope),
        ],
        1,
      );
    }
  }
}
