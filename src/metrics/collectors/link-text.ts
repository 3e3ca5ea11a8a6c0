// A link's series as ready exposition text: every per-interface family's lines of one link,
// formatted once per change of the link (its version) and kept (link-runs.ts).

import { IFF_UP, OPERSTATE_NAMES } from '../../netlink/constants';
import { FAMILY_NAMES, familyNameOfIndex } from '../../netlink/family';
import { isOperUp, LinkRecord } from '../../state/links';
import { NEIGHBOUR_ACTIONS } from '../../state/neighbours';
import { Family, METRICS as M } from '../contract';
import { createdName, escapeLabelValue, formatCreated, formatValue } from '../writer';

export const PER_LINK: [Family, (l: LinkRecord) => number | undefined][] = [
  [M.interfaceUp, (l) => (l.deletedAt === undefined && isOperUp(l.operstate, l.ifFlags) ? 1 : 0)],
  [M.interfaceAdminUp, (l) => (l.deletedAt === undefined && (l.ifFlags & IFF_UP) !== 0 ? 1 : 0)],
  [M.interfaceCarrier, (l) => (l.deletedAt === undefined && l.carrier ? 1 : 0)],
  [M.interfaceMtu, (l) => l.mtu],
  [M.interfaceFlaps, (l) => l.flaps],
  [M.interfaceCarrierChanges, (l) => l.carrierChanges],
  [M.interfaceCarrierUpChanges, (l) => l.carrierUpCount],
  [M.interfaceCarrierDownChanges, (l) => l.carrierDownCount],
  [M.interfaceLastChange, (l) => l.lastChange],
];
/**
 * The kernel's own counters: for an interface found by the initial dump they counted since a
 * creation time we cannot know, so they get no `_created` (see LinkRecord.kernelCountersPredateUs).
 */
const KERNEL_COUNTERS: readonly Family[] = [
  M.interfaceCarrierChanges,
  M.interfaceCarrierUpChanges,
  M.interfaceCarrierDownChanges,
];

/** Where each family's lines sit in a link's text and in a run's. */
export const FLAPS = PER_LINK.findIndex(([def]) => def === M.interfaceFlaps);
export const INFO = PER_LINK.length;
export const ADDRESSES = INFO + 1;
export const ADDRESS_CHANGES = INFO + 2;
export const DAD_FAILURES = INFO + 3;
export const NEIGHBOUR_CHANGES = INFO + 4;
export const NEIGHBOUR_FAILURES = INFO + 5;
export const LINK_FAMILIES = NEIGHBOUR_FAILURES + 1;

/** netlink_address_changes_total's four lines a link, in this order ([family][action] of LinkRecord.addressChanges). */
export const ADDRESS_SERIES = [
  ['inet', 'added'],
  ['inet', 'removed'],
  ['inet6', 'added'],
  ['inet6', 'removed'],
] as const;

/** A link's series as exposition text: its lines of every family, family after family. */
export interface LinkText {
  bytes: Buffer;
  /** The lines of the family at `at` are bytes[bounds[at], bounds[at + 1]). */
  bounds: number[];
}

/** The labels every per-link family begins with: netns, interface (the golden test would show another). */
const LINK_IDS = 2;

/** The `_created` names of the per-link counter families, made once. */
const CREATED_NAMES = new Map<Family, string>();
function createdNameOf(def: Family): string {
  let name = CREATED_NAMES.get(def);
  if (name === undefined) CREATED_NAMES.set(def, (name = createdName(def)));
  return name;
}

/** Where linkSamples hands each sample: `created` as SampleSink.sample takes it. */
export type LinkSampleEmit = (
  def: Family,
  values: readonly string[],
  value: number,
  created: number | undefined,
) => void;

/**
 * A link's samples of the family at `at` (PER_LINK's index, then INFO ... NEIGHBOUR_FAILURES), in
 * order: what renderLink formats as text and what a sample sink that is not text takes. A
 * counter's `created` is the time the link was first seen, when its counters were born at 0 (in
 * a compact namespace too, where a counter's sample appears only at its first change); none for
 * the kernel's own counters when they predate us.
 */
export function linkSamples(netns: string, link: LinkRecord, compact: boolean, at: number, emit: LinkSampleEmit): void {
  const ids = [netns, link.name];
  const perLink = PER_LINK[at];
  if (perLink) {
    const [def, read] = perLink;
    const value = read(link);
    if (value === undefined) return;
    const kernel = KERNEL_COUNTERS.includes(def) && link.kernelCountersPredateUs;
    emit(def, ids, value, def.type === 'counter' && !kernel ? link.firstSeen : undefined);
    return;
  }
  /** A counter sample; in a compact namespace none while it is 0 (it is born at its first change). */
  const counter = (def: Family, values: readonly string[], value: number): void => {
    if (!(compact && value === 0)) emit(def, values, value, link.firstSeen);
  };
  switch (at) {
    case INFO: {
      const oper =
        link.deletedAt === undefined ? (OPERSTATE_NAMES[link.operstate] ?? String(link.operstate)) : 'deleted';
      emit(M.interfaceInfo, [...ids, String(link.ifindex), link.kind, link.mac, oper], 1, undefined);
      return;
    }
    case ADDRESSES:
      FAMILY_NAMES.forEach((family, i) =>
        emit(M.interfaceAddresses, [...ids, family], link.addresses[i] as number, undefined),
      );
      return;
    case ADDRESS_CHANGES:
      // Every interface gets all four counters from the start, so rates exist before the first
      // change; in a compact namespace each is born at its first change instead.
      ADDRESS_SERIES.forEach(([family, action], i) =>
        counter(M.addressChanges, [...ids, family, action], link.addressChanges[i >> 1]?.[i & 1] as number),
      );
      return;
    case DAD_FAILURES:
      counter(M.dadFailures, ids, link.dadFailures);
      return;
    case NEIGHBOUR_CHANGES:
      link.neighbourChanges.forEach((counts, i) => {
        const family = familyNameOfIndex(i);
        NEIGHBOUR_ACTIONS.forEach((action, a) =>
          counter(M.neighbourChanges, [...ids, family, action], counts[a] as number),
        );
      });
      return;
    case NEIGHBOUR_FAILURES:
      // Both families from the start, so `increase(...) > 0` fires on the first failure.
      link.neighbourFailures.forEach((count, i) => counter(M.neighbourFailures, [...ids, familyNameOfIndex(i)], count));
      return;
  }
}

/**
 * A link's lines: its samples of every family (linkSamples) as exposition text, family after
 * family. Every per-link family's labels begin with netns and interface (LINK_IDS): those two are
 * escaped once per link, the rest per sample (as sampleText would write them).
 */
export function renderLink(netns: string, link: LinkRecord, openMetrics: boolean, compact: boolean): LinkText {
  const ids = `netns="${escapeLabelValue(netns)}",interface="${escapeLabelValue(link.name)}"`;
  const firstSeen = formatCreated(link.firstSeen);
  const lines: string[] = [];
  let text = '';
  const emit: LinkSampleEmit = (def, values, value, created) => {
    let labels = ids;
    for (let i = LINK_IDS; i < def.labels.length; i++)
      labels += `,${def.labels[i] as string}="${escapeLabelValue(values[i] as string)}"`;
    text += `${def.name}{${labels}} ${formatValue(value)}\n`;
    if (created !== undefined && openMetrics && def.type === 'counter')
      text += `${createdNameOf(def)}{${labels}} ${created === link.firstSeen ? firstSeen : formatCreated(created)}\n`;
  };
  for (let at = 0; at < LINK_FAMILIES; at++) {
    text = '';
    linkSamples(netns, link, compact, at, emit);
    lines.push(text);
  }
  const all = lines.join('');
  const bytes = Buffer.from(all);
  // Byte offsets are string offsets unless a label value is outside ASCII.
  const ascii = bytes.length === all.length;
  const bounds = [0];
  let end = 0;
  for (const line of lines) bounds.push((end += ascii ? line.length : Buffer.byteLength(line)));
  return { bytes, bounds };
}
