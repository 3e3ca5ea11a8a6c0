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

/** A counter line; in a compact namespace none while it is 0 (it is born at its first change). */
function counterLine(name: string, labels: string, value: number, compact: boolean): string {
  return compact && value === 0 ? '' : `${name}{${labels}} ${value}\n`;
}

/**
 * A link's lines. In OpenMetrics (`openMetrics`) each counter sample is followed by its
 * `_created` sample: the time the link was first seen, when its counters were born at 0 (in a
 * compact namespace too, where a counter's line appears only at its first change).
 */
export function renderLink(netns: string, link: LinkRecord, openMetrics: boolean, compact: boolean): LinkText {
  const labels = `netns="${escapeLabelValue(netns)}",interface="${escapeLabelValue(link.name)}"`;
  const firstSeen = formatCreated(link.firstSeen);
  /** The `_created` line of a counter sample with these labels ('' when there is none). */
  const created = (def: Family, sampleLabels: string, kernel = false): string =>
    openMetrics && !(kernel && link.kernelCountersPredateUs)
      ? `${createdName(def)}{${sampleLabels}} ${firstSeen}\n`
      : '';
  const lines = PER_LINK.map(([def, read]) => {
    const value = read(link);
    if (value === undefined) return '';
    const line = `${def.name}{${labels}} ${formatValue(value)}\n`;
    return def.type === 'counter' ? line + created(def, labels, KERNEL_COUNTERS.includes(def)) : line;
  });
  const oper = link.deletedAt === undefined ? (OPERSTATE_NAMES[link.operstate] ?? String(link.operstate)) : 'deleted';
  lines[INFO] =
    `${M.interfaceInfo.name}{${labels},ifindex="${link.ifindex}",kind="${escapeLabelValue(link.kind)}",mac="${escapeLabelValue(link.mac)}",operstate="${oper}"} 1\n`;
  const held = M.interfaceAddresses.name;
  lines[ADDRESSES] = FAMILY_NAMES.map(
    (family, i) => `${held}{${labels},family="${family}"} ${link.addresses[i]}\n`,
  ).join('');
  // Every interface gets all four counters from the start, so rates exist before the first
  // change; in a compact namespace each is born at its first change instead.
  let addressLines = '';
  ADDRESS_SERIES.forEach(([family, action], i) => {
    const sampleLabels = `${labels},family="${family}",action="${action}"`;
    const line = counterLine(
      M.addressChanges.name,
      sampleLabels,
      link.addressChanges[i >> 1]?.[i & 1] as number,
      compact,
    );
    if (line !== '') addressLines += line + created(M.addressChanges, sampleLabels);
  });
  lines[ADDRESS_CHANGES] = addressLines;
  const dad = counterLine(M.dadFailures.name, labels, link.dadFailures, compact);
  lines[DAD_FAILURES] = dad === '' ? '' : dad + created(M.dadFailures, labels);
  let neighbourLines = '';
  link.neighbourChanges.forEach((counts, i) => {
    const family = familyNameOfIndex(i);
    NEIGHBOUR_ACTIONS.forEach((action, a) => {
      const sampleLabels = `${labels},family="${family}",action="${action}"`;
      const line = counterLine(M.neighbourChanges.name, sampleLabels, counts[a] as number, compact);
      if (line !== '') neighbourLines += line + created(M.neighbourChanges, sampleLabels);
    });
  });
  lines[NEIGHBOUR_CHANGES] = neighbourLines;
  // Both families from the start, so `increase(...) > 0` fires on the first failure.
  let failureLines = '';
  link.neighbourFailures.forEach((count, i) => {
    const sampleLabels = `${labels},family="${familyNameOfIndex(i)}"`;
    const line = counterLine(M.neighbourFailures.name, sampleLabels, count, compact);
    if (line !== '') failureLines += line + created(M.neighbourFailures, sampleLabels);
  });
  lines[NEIGHBOUR_FAILURES] = failureLines;
  const all = lines.join('');
  const bytes = Buffer.from(all);
  // Byte offsets are string offsets unless a label value is outside ASCII.
  const ascii = bytes.length === all.length;
  const bounds = [0];
  let end = 0;
  for (const line of lines) bounds.push((end += ascii ? line.length : Buffer.byteLength(line)));
  return { bytes, bounds };
}
