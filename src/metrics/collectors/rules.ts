// netlink_rules, netlink_rule_changes_total, netlink_rules_dropped_total: the policy routing
// rules per (family, table), their changes per (family, action), and what the cap dropped.

import { FAMILY_NAMES } from '../../netlink/family';
import { RULE_ACTIONS } from '../../state/rule-set';
import { METRICS as M } from '../contract';
import type { SampleSink } from '../sink';
import type { NamespaceSource } from '../source';

/** The tables of the kernel's default rules. */
const DEFAULT_TABLES: ReadonlySet<string> = new Set(['local', 'main', 'default']);

export function rules(w: SampleSink, sources: readonly NamespaceSource[]): void {
  w.family(M.rules);
  for (const source of sources) {
    if (!source.opened) continue;
    for (const [group, count] of source.model.rules.counts) {
      const bar = group.indexOf('|');
      const table = group.slice(bar + 1);
      // A pod found by --netns.all holds the kernel's default rules and nothing else: only
      // the tables its own rules look up cost series there.
      if (source.compact && DEFAULT_TABLES.has(table)) continue;
      w.sample(M.rules, [source.model.netns, group.slice(0, bar), table], count);
    }
  }
  w.family(M.ruleChanges);
  for (const source of sources) {
    if (!source.opened) continue;
    const model = source.model;
    FAMILY_NAMES.forEach((family, f) => {
      RULE_ACTIONS.forEach((action, a) => {
        const count = model.rules.changes[f]![a]!;
        // In a compact namespace a series is born at its first change.
        if (!source.compact || count !== 0)
          w.sample(M.ruleChanges, [model.netns, family, action], count, model.createdAt);
      });
    });
  }
  w.family(M.rulesDropped);
  for (const source of sources) {
    const dropped = source.model.rules.dropped;
    // In a compact namespace the counter is born at its first drop.
    if (source.opened && (!source.compact || dropped !== 0))
      w.sample(M.rulesDropped, [source.model.netns], dropped, source.model.createdAt);
  }
}
