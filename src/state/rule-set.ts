// The policy routing rules of the namespace (`ip rule`), both families: what netlink_rules
// counts per (family, table), netlink_rule_changes_total per (family, action), and the `rule`
// events.
//
// A rule is identified as the kernel tells rules apart: family, priority, every selector
// (from, to, tos, fwmark/mask, iif, oif, l3mdev, ipproto, ports), the action and its table or
// goto target, and the protocol. The kernel accepts an identical rule twice when the request
// lacks NLM_F_EXCL, so each identity holds a count, and RTM_DELRULE removes one of them.
// After a resync (an overrun) the dump's replies are counted per identity and the sweep takes
// away what the dump did not list: the counts are exact again.

import { AF_INET, AF_INET6, RTM_DELRULE } from '../netlink/constants';
import { familyName, type FamilyName } from '../netlink/family';
import { tableName } from '../netlink/format';
import { ruleText } from '../netlink/rule';
import type { RuleMessage } from '../netlink/types';
import type { MessageOrigin } from '../session/sink';
import { isQuiet, type EventOutlet } from './outlet';

/** Rules held per namespace: past this, new identities are dropped and counted (rulesDropped). */
export const MAX_RULES = 65_536;
/** Emptied (family, table) groups that keep their netlink_rules series at 0; the oldest emptied goes first. */
export const MAX_EMPTY_RULE_GROUPS = 1024;

export const RULE_ACTIONS = ['added', 'removed'] as const;

interface RuleRecord {
  family: FamilyName;
  /** The netlink_rules `table` label: the table the rule looks up, "" for rules that look none up. */
  table: string;
  text: string;
  priority: number;
  /** Identical rules the kernel holds (more than 1 only for rules added without NLM_F_EXCL). */
  count: number;
  /** During a resync: how many times the dump listed it. */
  seen: number;
  /**
   * During a resync: a notification changed it, so the notifications are its truth from then
   * on (the dump may have passed it before the change or list it after: either way the sweep
   * and later dump replies leave it alone).
   */
  pinned: boolean;
}

export class RuleSet {
  /** Rules by identity (family and text, which names every selector). */
  readonly records = new Map<string, RuleRecord>();
  /** netlink_rules by "family|table". Groups at 0 stay (up to MAX_EMPTY_RULE_GROUPS). */
  readonly counts = new Map<string, number>();
  /** netlink_rule_changes_total: [added, removed] per family index (0 inet, 1 inet6). */
  readonly changes: [number[], number[]] = [
    [0, 0],
    [0, 0],
  ];
  /** Rules not held because MAX_RULES were (netlink_rules_dropped_total). */
  dropped = 0;
  /** Rules held now (every identity's count). */
  size = 0;
  /** Emptied groups in the order they emptied. */
  private readonly empty = new Set<string>();
  private sweeping = false;

  constructor(
    private readonly outlet: EventOutlet,
    private readonly maxRules = MAX_RULES,
  ) {}

  rule(m: RuleMessage, origin: MessageOrigin): void {
    if (m.family !== AF_INET && m.family !== AF_INET6) return; // the multicast routing families' rules
    const text = ruleText(m);
    const key = `${m.family}|${m.protocol ?? 0}|${text}`;
    const record = this.records.get(key);
    const resyncReply = origin === 'resync-dump' && this.sweeping;
    if (m.type === RTM_DELRULE) {
      if (record === undefined || record.count === 0) return;
      if (this.sweeping) record.pinned = true;
      this.remove(key, record, 1);
      return;
    }
    if (resyncReply && record !== undefined) {
      if (record.pinned) return;
      // Listed again: it was there all along, unless the dump lists it more often than we held it.
      record.seen++;
      if (record.seen <= record.count) return;
    }
    if (record === undefined && this.records.size >= this.maxRules) {
      this.dropped++;
      return;
    }
    const r = record ?? {
      family: familyName(m.family),
      table: m.table === 0 ? '' : tableName(m.table),
      text,
      priority: m.priority,
      count: 0,
      seen: resyncReply ? 1 : 0,
      pinned: false,
    };
    if (record === undefined) this.records.set(key, r);
    r.count++;
    this.size++;
    if (this.sweeping && !resyncReply) r.pinned = true;
    this.adjust(r, 1);
    if (isQuiet(origin)) return;
    this.changes[r.family === 'inet' ? 0 : 1]![0]!++;
    this.emit(r, 'added');
  }

  /** Before a resync dump: nothing is seen until the dump lists it. */
  beginSweep(): void {
    for (const r of this.records.values()) {
      r.seen = 0;
      r.pinned = false;
    }
    this.sweeping = true;
  }

  /** After a complete resync dump: rules it listed fewer times than held were deleted unheard. */
  sweep(): void {
    if (!this.sweeping) return;
    this.sweeping = false;
    for (const [key, r] of this.records) {
      if (!r.pinned && r.seen < r.count) this.remove(key, r, r.count - r.seen);
    }
  }

  private remove(key: string, r: RuleRecord, n: number): void {
    r.count -= n;
    this.size -= n;
    if (r.count === 0) this.records.delete(key);
    this.adjust(r, -n);
    this.changes[r.family === 'inet' ? 0 : 1]![1]! += n;
    for (let i = 0; i < n; i++) this.emit(r, 'removed');
  }

  /** netlink_rules of the rule's group; an emptied group stays at 0, the oldest emptied past the cap goes. */
  private adjust(r: RuleRecord, delta: number): void {
    const group = `${r.family}|${r.table}`;
    const now = (this.counts.get(group) ?? 0) + delta;
    this.counts.set(group, now);
    if (now !== 0) {
      this.empty.delete(group);
      return;
    }
    this.empty.add(group);
    if (this.empty.size > MAX_EMPTY_RULE_GROUPS) {
      const oldest = this.empty.values().next().value as string;
      this.empty.delete(oldest);
      this.counts.delete(oldest);
    }
  }

  private emit(r: RuleRecord, action: 'added' | 'removed'): void {
    this.outlet.onEvent?.({
      netns: this.outlet.netns,
      kind: 'rule',
      action,
      interface: '',
      ifindex: 0,
      family: r.family,
      table: r.table,
      priority: r.priority,
      rule: r.text,
    });
  }
}
