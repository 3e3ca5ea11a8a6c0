// netlink_interface_*: the per-link families (from the cached link text) and the deletions.

import type { ExemplarLookup } from '../../tracing/exemplars';
import { METRICS as M } from '../contract';
import type { SampleSink, TextSink } from '../sink';
import { annotateSamples, familyWithExemplars } from './link-exemplars';
import { familyOfLinks, linkSeries } from './link-runs';
import { FLAPS, INFO, PER_LINK } from './link-text';
import type { CollectorOptions } from './options';
import type { NamespaceSource } from '../source';

/** netlink_interface_flaps_total, with the exemplar of the outage span that last moved it. */
function flapsWithExemplars(w: TextSink, sources: readonly NamespaceSource[], lookup: ExemplarLookup): void {
  familyWithExemplars(
    w,
    M.interfaceFlaps,
    sources,
    FLAPS,
    (netns, link) => lookup.flap(netns, link.ifindex),
    (lines, exemplar) => annotateSamples(M.interfaceFlaps, lines, [exemplar]),
  );
}

export function interfaces(w: SampleSink, sources: readonly NamespaceSource[], options: CollectorOptions): void {
  const runs = linkSeries(w, sources);
  const text = w.asText;
  const exemplars = text?.openMetrics ? options.exemplars : undefined;
  PER_LINK.forEach(([def], at) => {
    if (text && exemplars && at === FLAPS) flapsWithExemplars(text, sources, exemplars);
    else familyOfLinks(w, def, runs, at);
  });
  familyOfLinks(w, M.interfaceInfo, runs, INFO);
  w.family(M.interfaceDeletions);
  for (const source of sources) {
    const deleted = source.model.interfacesDeleted;
    // In a compact namespace (found by --netns.all) the series is born at its first deletion.
    if (source.opened && (!source.compact || deleted !== 0))
      w.sample(M.interfaceDeletions, [source.model.netns], deleted, source.model.createdAt);
  }
}
