// netlink_neighbour*: the per-link change counters (from the cached link text), the entries per
// namespace, and the host-wide neighbour tables and their limits.

import { FAMILY_NAMES, familyNameOfIndex } from '../../netlink/family';
import type { NamespaceModel } from '../../state/model';
import { METRICS as M } from '../contract';
import type { SampleSink } from '../sink';
import { familyOfLinks, linkSeries } from './link-runs';
import { NEIGHBOUR_CHANGES, NEIGHBOUR_FAILURES } from './link-text';
import type { NamespaceSource } from '../source';

export function neighbours(w: SampleSink, sources: readonly NamespaceSource[]): void {
  const runs = linkSeries(w, sources);
  familyOfLinks(w, M.neighbourChanges, runs, NEIGHBOUR_CHANGES);
  familyOfLinks(w, M.neighbourFailures, runs, NEIGHBOUR_FAILURES);
  w.family(M.neighbours);
  for (const source of sources) {
    FAMILY_NAMES.forEach((family, i) =>
      w.sample(M.neighbours, [source.model.netns, family], source.model.neighbourCounts[i]),
    );
  }
  // The neighbour tables and their limits are host-wide: exported once, from the first
  // namespace (our own comes first) whose table dump has answered, not once per namespace.
  for (const [def, values] of [
    [M.neighbourLimit, (m: NamespaceModel) => m.neighbourLimits],
    [M.neighbourTableEntries, (m: NamespaceModel) => m.neighbourTableEntries],
  ] as const) {
    w.family(def);
    const from = sources.find((source) => values(source.model).size > 0);
    if (from) for (const [fam, value] of values(from.model)) w.sample(def, [familyNameOfIndex(fam)], value);
  }
}
