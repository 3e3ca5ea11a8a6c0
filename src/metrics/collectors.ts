// One collector per part of the model, node_exporter style: each renders its families into its
// own buffer, so one that throws costs its own series only (netlink_collector_success 0), never
// the scrape.

import { IFF_UP, OPERSTATE_NAMES, RTM_NAMES } from '../netlink/constants';
import { isLinkLocal, scopeName } from '../state/addresses';
import { isOperUp, LinkRecord } from '../state/links';
import { NamespaceModel, protocolName, tableName } from '../state/model';
import { released } from '../runtime/memory';
import { NEIGHBOUR_ACTIONS } from '../state/neighbours';
import { ROUTE_ACTIONS, splitGroupKey } from '../state/routes';
import type { VipState } from '../state/vips';
import type { Exemplar, ExemplarLookup } from '../tracing/exemplars';
import { DROP_REASONS, TraceStats } from '../tracing/stats';
import { Family, METRICS as M } from './contract';
import { DISCOVERED_NETNS, DiscoveredTotals } from './discovered';
import { formatExemplar } from './openmetrics';
import type { NamespaceSource } from './source';
import { createdName, escapeLabelValue, ExpositionWriter, formatCreated, formatValue } from './writer';

export interface CollectorOptions {
  addressInfo: boolean;
  addressInfoLinkLocal: boolean;
  /** Write OpenMetrics 1.0 (HELP/TYPE lines, exemplars); the caller appends `# EOF`. */
  openMetrics?: boolean;
  /** Trace ids for exemplars on the flap and address-change counters (OpenMetrics only). */
  exemplars?: ExemplarLookup;
  /** Present when tracing is on: netlink_trace_spans_*_total get samples. */
  tracing?: TraceStats;
  /** The netns="*" sums of the compact sources' self-metrics (with --netns.all). */
  discovered?: DiscoveredTotals;
}

type Collector = (w: ExpositionWriter, sources: readonly NamespaceSource[], options: CollectorOptions) => void;

const PER_LINK: [Family, (l: LinkRecord) => number | undefined][] = [
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
const KERNEL_COUNTERS: readonly Family[] = [M.interfaceCarrierChanges, M.interfaceCarrierUpChanges, M.interfaceCarrierDownChanges];

/** Where each family's lines sit in a link's text and in a run's. */
const FLAPS = PER_LINK.findIndex(([def]) => def === M.interfaceFlaps);
const INFO = PER_LINK.length;
const ADDRESSES = INFO + 1;
const ADDRESS_CHANGES = INFO + 2;
const DAD_FAILURES = INFO + 3;
const NEIGHBOUR_CHANGES = INFO + 4;
const LINK_FAMILIES = NEIGHBOUR_CHANGES + 1;

/** netlink_address_changes_total's four lines a link, in this order ([family][action] of LinkRecord.addressChanges). */
const ADDRESS_SERIES = [
  ['inet', 'added'],
  ['inet', 'removed'],
  ['inet6', 'added'],
  ['inet6', 'removed'],
] as const;

/** A link's series as exposition text: its lines of every family, family after family. */
interface LinkText {
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
function renderLink(netns: string, link: LinkRecord, openMetrics: boolean, compact: boolean): LinkText {
  const labels = `netns="${escapeLabelValue(netns)}",interface="${escapeLabelValue(link.name)}"`;
  const firstSeen = formatCreated(link.firstSeen);
  /** The `_created` line of a counter sample with these labels ('' when there is none). */
  const created = (def: Family, sampleLabels: string, kernel = false): string =>
    openMetrics && !(kernel && link.kernelCountersPredateUs) ? `${createdName(def)}{${sampleLabels}} ${firstSeen}\n` : '';
  const lines = PER_LINK.map(([def, read]) => {
    const value = read(link);
    if (value === undefined) return '';
    const line = `${def.name}{${labels}} ${formatValue(value)}\n`;
    return def.type === 'counter' ? line + created(def, labels, KERNEL_COUNTERS.includes(def)) : line;
  });
  const oper = link.deletedAt === undefined ? (OPERSTATE_NAMES[link.operstate] ?? String(link.operstate)) : 'deleted';
  lines[INFO] = `${M.interfaceInfo.name}{${labels},ifindex="${link.ifindex}",kind="${escapeLabelValue(link.kind)}",mac="${escapeLabelValue(link.mac)}",operstate="${oper}"} 1\n`;
  const held = M.interfaceAddresses.name;
  lines[ADDRESSES] = `${held}{${labels},family="inet"} ${link.addresses[0]}\n${held}{${labels},family="inet6"} ${link.addresses[1]}\n`;
  // Every interface gets all four counters from the start, so rates exist before the first
  // change; in a compact namespace each is born at its first change instead.
  let addressLines = '';
  ADDRESS_SERIES.forEach(([family, action], i) => {
    const sampleLabels = `${labels},family="${family}",action="${action}"`;
    const line = counterLine(M.addressChanges.name, sampleLabels, link.addressChanges[i >> 1]?.[i & 1] as number, compact);
    if (line !== '') addressLines += line + created(M.addressChanges, sampleLabels);
  });
  lines[ADDRESS_CHANGES] = addressLines;
  const dad = counterLine(M.dadFailures.name, labels, link.dadFailures, compact);
  lines[DAD_FAILURES] = dad === '' ? '' : dad + created(M.dadFailures, labels);
  let neighbourLines = '';
  link.neighbourChanges.forEach((counts, i) => {
    const family = i === 0 ? 'inet' : 'inet6';
    NEIGHBOUR_ACTIONS.forEach((action, a) => {
      const sampleLabels = `${labels},family="${family}",action="${action}"`;
      const line = counterLine(M.neighbourChanges.name, sampleLabels, counts[a] as number, compact);
      if (line !== '') neighbourLines += line + created(M.neighbourChanges, sampleLabels);
    });
  });
  lines[NEIGHBOUR_CHANGES] = neighbourLines;
  const all = lines.join('');
  const bytes = Buffer.from(all);
  // Byte offsets are string offsets unless a label value is outside ASCII.
  const ascii = bytes.length === all.length;
  const bounds = [0];
  let end = 0;
  for (const line of lines) bounds.push((end += ascii ? line.length : Buffer.byteLength(line)));
  return { bytes, bounds };
}

/**
 * Consecutive links (about 64) whose lines are kept as one ready buffer per family: the cache
 * of exposition text. Writing a buffer per link and family (70,000 for 5,000 interfaces) made
 * the chunk handling, not the formatting, most of a scrape; with runs, a scrape writes about 80
 * buffers per family, and a change costs the formatting of the links that changed and a copy.
 */
interface Run {
  links: LinkRecord[];
  /** Each link's version when its lines were formatted. */
  versions: number[];
  /** The run's lines of each family, at the family's index in LinkText.bounds. */
  text: Buffer[];
  /** Bytes of link i's lines in text[at]: lengths[i * LINK_FAMILIES + at]. */
  lengths: Int32Array;
  /** The size of text, all families. */
  bytes: number;
}

const RUN_MAX = 256;

/**
 * A run ends after a link whose ifindex hashes to 0 (one in 64): where runs end depends on the
 * links themselves, not on positions, so adding or deleting an interface changes its own run
 * only, not every run after it. RUN_MAX bounds an unlucky stretch.
 */
function endsRun(link: LinkRecord, length: number): boolean {
  return Math.imul(link.ifindex, 0x9e3779b1) >>> 26 === 0 || length >= RUN_MAX;
}

function sameLinks(run: Run, links: readonly LinkRecord[]): boolean {
  return run.links.length === links.length && links.every((link, i) => run.links[i] === link);
}

/**
 * The run of `links`. When `old` holds the same links, only those whose version moved are
 * formatted; the stretches of unchanged links between them are copied from old's text whole.
 */
function joinRun(netns: string, links: LinkRecord[], old: Run | undefined, openMetrics: boolean, compact: boolean): Run {
  const base = old && sameLinks(old, links) ? old : undefined;
  const fresh = links.map((link, i) => (base?.versions[i] === link.version ? undefined : renderLink(netns, link, openMetrics, compact)));
  const lengths = new Int32Array(links.length * LINK_FAMILIES);
  const text: Buffer[] = [];
  let bytes = 0;
  for (let at = 0; at < LINK_FAMILIES; at++) {
    let size = 0;
    for (let i = 0; i < links.length; i++) {
      const t = fresh[i];
      const length = t ? (t.bounds[at + 1] as number) - (t.bounds[at] as number) : (base?.lengths[i * LINK_FAMILIES + at] as number);
      lengths[i * LINK_FAMILIES + at] = length;
      size += length;
    }
    const joined = Buffer.allocUnsafe(size);
    let offset = 0;
    // The stretch of base's text [from, to) not copied yet.
    let from = 0;
    let to = 0;
    for (let i = 0; i < links.length; i++) {
      const t = fresh[i];
      if (t) {
        if (to > from) offset += (base?.text[at] as Buffer).copy(joined, offset, from, to);
        offset += t.bytes.copy(joined, offset, t.bounds[at], t.bounds[at + 1]);
      }
      if (base) to += base.lengths[i * LINK_FAMILIES + at] as number;
      if (t) from = to;
    }
    if (to > from) (base?.text[at] as Buffer).copy(joined, offset, from, to);
    text.push(joined);
    bytes += size;
  }
  return { links, versions: links.map((link) => link.version), text, lengths, bytes };
}

function unchanged(run: Run, links: readonly LinkRecord[]): boolean {
  return sameLinks(run, links) && links.every((link, i) => run.versions[i] === link.version);
}

/**
 * The runs of the last scrape, per namespace, in the format it was in (OpenMetrics adds
 * `_created` lines): one generation of one format, so text is kept once. Prometheus keeps to
 * OpenMetrics; a scrape in the other format (a curl) formats every link anew, once.
 */
const runCache = new WeakMap<NamespaceModel, { openMetrics: boolean; runs: Run[] }>();

/**
 * The model's links with series (tracked live ones, then deleted ones still in their grace
 * period) as runs, reusing every run whose links and versions are unchanged.
 */
function linkRuns(model: NamespaceModel, openMetrics: boolean, compact = false): Run[] {
  const cached = runCache.get(model);
  const previous = cached?.openMetrics === openMetrics ? cached.runs : [];
  // Looked up by first link only when the runs moved (a run was added, split or merged).
  let byFirst: Map<LinkRecord, Run> | undefined;
  const runs: Run[] = [];
  let members: LinkRecord[] = [];
  let kept = 0;
  const close = (): void => {
    const first = members[0] as LinkRecord;
    let run: Run | undefined = previous[runs.length];
    if (run?.links[0] !== first) run = (byFirst ??= new Map(previous.map((r) => [r.links[0] as LinkRecord, r]))).get(first);
    if (run && unchanged(run, members)) {
      runs.push(run);
      kept += run.bytes;
    } else runs.push(joinRun(model.netns, members, run, openMetrics, compact));
    members = [];
  };
  for (const link of model.links.values()) {
    if (!link.tracked) continue;
    members.push(link);
    if (endsRun(link, members.length)) close();
  }
  for (const link of model.deletedLinks) {
    members.push(link);
    if (endsRun(link, members.length)) close();
  }
  if (members.length > 0) close();
  runCache.set(model, { openMetrics, runs });
  // The runs replaced are garbage now: counted, so that a burst of changes gives its memory back.
  const dropped = (cached?.runs ?? []).reduce((sum, run) => sum + run.bytes, 0) - kept;
  if (dropped > 0) released(dropped);
  return runs;
}

function familyOfLinks(w: ExpositionWriter, def: Family, runs: readonly Run[][], at: number): void {
  w.family(def);
  for (const ofSource of runs) for (const run of ofSource) w.raw(run.text[at] as Buffer);
}

/** A cached sample line with an exemplar appended (OpenMetrics). */
function withExemplar(line: string, exemplar: Exemplar | undefined): string {
  return exemplar ? `${line}${formatExemplar(exemplar)}` : line;
}

/**
 * A family of per-link lines with exemplars (OpenMetrics). `find` gives a link's exemplars
 * (undefined when none), `annotate` its lines with them. Runs without any go out as they are.
 */
function familyWithExemplars<E>(
  w: ExpositionWriter,
  def: Family,
  sources: readonly NamespaceSource[],
  at: number,
  find: (netns: string, link: LinkRecord) => E | undefined,
  annotate: (lines: string, exemplars: E) => string,
): void {
  w.family(def);
  for (const source of sources) {
    const netns = source.model.netns;
    for (const run of linkRuns(source.model, w.openMetrics, source.compact)) {
      const text = run.text[at] as Buffer;
      const found = run.links.map((link) => find(netns, link));
      if (found.every((e) => e === undefined)) {
        w.raw(text);
        continue;
      }
      let offset = 0;
      found.forEach((exemplars, i) => {
        const end = offset + (run.lengths[i * LINK_FAMILIES + at] as number);
        const lines = text.toString('utf8', offset, end);
        w.raw(exemplars === undefined || lines === '' ? lines : annotate(lines, exemplars));
        offset = end;
      });
    }
  }
}

/**
 * A link's lines of a counter family with `exemplars[i]` appended to its i-th sample of `def`
 * (its `_total` lines; the `_created` lines between them carry none).
 */
function annotateSamples(
  def: Family,
  lines: string,
  exemplars: readonly (Exemplar | undefined)[],
  // Which exemplar a sample line takes; by default the i-th. A compact namespace's link lacks
  // the lines of counters still at 0, so there a sample is matched by its labels.
  indexOf: (line: string, i: number) => number = (_line, i) => i,
): string {
  let i = 0;
  const prefix = `${def.name}{`;
  return lines
    .split('\n')
    .map((line) => (line.startsWith(prefix) ? withExemplar(line, exemplars[indexOf(line, i++)]) : line))
    .join('\n');
}

/** netlink_interface_flaps_total, with the exemplar of the outage span that last moved it. */
function flapsWithExemplars(w: ExpositionWriter, sources: readonly NamespaceSource[], lookup: ExemplarLookup): void {
  familyWithExemplars(
    w,
    M.interfaceFlaps,
    sources,
    FLAPS,
    (netns, link) => lookup.flap(netns, link.ifindex),
    (lines, exemplar) => annotateSamples(M.interfaceFlaps, lines, [exemplar]),
  );
}

/** netlink_address_changes_total (four lines a link, in ADDRESS_SERIES order), with exemplars. */
function addressChangesWithExemplars(w: ExpositionWriter, sources: readonly NamespaceSource[], lookup: ExemplarLookup): void {
  familyWithExemplars(
    w,
    M.addressChanges,
    sources,
    ADDRESS_CHANGES,
    (netns, link) => {
      const exemplars = ADDRESS_SERIES.map(([family, action]) => lookup.addressChange(netns, link.ifindex, family, action));
      return exemplars.every((e) => e === undefined) ? undefined : exemplars;
    },
    (lines, exemplars) =>
      annotateSamples(M.addressChanges, lines, exemplars, (line) =>
        ADDRESS_SERIES.findIndex(([family, action]) => line.includes(`,family="${family}",action="${action}"} `)),
      ),
  );
}

function interfaces(w: ExpositionWriter, sources: readonly NamespaceSource[], options: CollectorOptions): void {
  const runs = sources.map((source) => linkRuns(source.model, w.openMetrics, source.compact));
  const exemplars = w.openMetrics ? options.exemplars : undefined;
  PER_LINK.forEach(([def], at) => {
    if (exemplars && at === FLAPS) flapsWithExemplars(w, sources, exemplars);
    else familyOfLinks(w, def, runs, at);
  });
  familyOfLinks(w, M.interfaceInfo, runs, INFO);
  w.family(M.interfaceDeletions);
  for (const source of sources) {
    const deleted = source.model.interfacesDeleted;
    // In a compact namespace (found by --netns.all) the series is born at its first deletion.
    if (source.opened && (!source.compact || deleted !== 0)) w.sample(M.interfaceDeletions, [source.model.netns], deleted, source.model.createdAt);
  }
}

function addresses(w: ExpositionWriter, sources: readonly NamespaceSource[], options: CollectorOptions): void {
  const runs = sources.map((source) => linkRuns(source.model, w.openMetrics, source.compact));
  familyOfLinks(w, M.interfaceAddresses, runs, ADDRESSES);
  if (w.openMetrics && options.exemplars) addressChangesWithExemplars(w, sources, options.exemplars);
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
      w.sample(M.addressInfo, [model.netns, link.name, address.family, address.address, String(address.prefixLength), scopeName(address.scope)], 1);
    }
  }
}

function vips(w: ExpositionWriter, sources: readonly NamespaceSource[]): void {
  const each = (fn: (netns: string, vip: VipState) => void): void => {
    for (const source of sources) for (const vip of source.model.vips.vips) fn(source.model.netns, vip);
  };
  w.family(M.vipPresent);
  each((netns, vip) => w.sample(M.vipPresent, [netns, vip.config.address, vip.config.name], vip.holders.length > 0 ? 1 : 0));
  w.family(M.vipBindings);
  each((netns, vip) => w.sample(M.vipBindings, [netns, vip.config.address, vip.config.name], vip.holders.length));
  w.family(M.vipInterfaceInfo);
  each((netns, vip) => {
    for (const holder of vip.holders) w.sample(M.vipInterfaceInfo, [netns, vip.config.address, vip.config.name, holder], 1);
  });
  w.family(M.vipTransitions);
  each((netns, vip) => {
    w.sample(M.vipTransitions, [netns, vip.config.address, vip.config.name, 'acquired'], vip.acquired, vip.createdAt);
    w.sample(M.vipTransitions, [netns, vip.config.address, vip.config.name, 'released'], vip.released, vip.createdAt);
  });
  w.family(M.vipMacChanges);
  each((netns, vip) => w.sample(M.vipMacChanges, [netns, vip.config.address, vip.config.name], vip.macChanges, vip.createdAt));
}

function neighbours(w: ExpositionWriter, sources: readonly NamespaceSource[]): void {
  familyOfLinks(w, M.neighbourChanges, sources.map((source) => linkRuns(source.model, w.openMetrics, source.compact)), NEIGHBOUR_CHANGES);
  w.family(M.neighbours);
  for (const source of sources) {
    w.sample(M.neighbours, [source.model.netns, 'inet'], source.model.neighbourCounts[0]);
    w.sample(M.neighbours, [source.model.netns, 'inet6'], source.model.neighbourCounts[1]);
  }
  // The neighbour tables and their limits are host-wide: exported once, from the first
  // namespace (our own comes first) whose table dump has answered, not once per namespace.
  for (const [def, values] of [
    [M.neighbourLimit, (m: NamespaceModel) => m.neighbourLimits],
    [M.neighbourTableEntries, (m: NamespaceModel) => m.neighbourTableEntries],
  ] as const) {
    w.family(def);
    const from = sources.find((source) => values(source.model).size > 0);
    if (from) for (const [fam, value] of values(from.model)) w.sample(def, [fam === 0 ? 'inet' : 'inet6'], value);
  }
}

function routes(w: ExpositionWriter, sources: readonly NamespaceSource[]): void {
  w.family(M.routes);
  for (const source of sources) {
    for (const [key, count] of source.model.routeCounts) {
      const g = splitGroupKey(key);
      w.sample(M.routes, [source.model.netns, tableName(g.table), g.family === 2 ? 'inet' : 'inet6', protocolName(g.protocol)], count);
    }
  }
  w.family(M.routeChanges);
  for (const source of sources) {
    for (const [key, counts] of source.model.routeChanges) {
      const g = splitGroupKey(key);
      const labels = [source.model.netns, tableName(g.table), g.family === 2 ? 'inet' : 'inet6', protocolName(g.protocol)] as const;
      const created = source.model.routeGroupCreated.get(key);
      ROUTE_ACTIONS.forEach((action, i) => {
        // In a compact namespace an action's series is born at its first change.
        if (!source.compact || counts[i] !== 0) w.sample(M.routeChanges, [...labels, action], counts[i] as number, created);
      });
    }
  }
  w.family(M.defaultRouteInfo);
  for (const source of sources) {
    const model = source.model;
    for (const route of model.defaultRoutes.values()) {
      const name = route.ifindex === 0 ? '' : (model.links.get(route.ifindex)?.name ?? `if${route.ifindex}`);
      w.sample(M.defaultRouteInfo, [model.netns, tableName(route.table), route.family === 2 ? 'inet' : 'inet6', name, route.gateway, protocolName(route.protocol)], 1);
    }
  }
  w.family(M.defaultRouteChanges);
  for (const source of sources) {
    for (const [key, count] of source.model.defaultRouteChanges) {
      const [table, family] = key.split('|').map(Number) as [number, number];
      w.sample(M.defaultRouteChanges, [source.model.netns, tableName(table), family === 2 ? 'inet' : 'inet6'], count, source.model.defaultRouteChangesCreated.get(key));
    }
  }
  w.family(M.routeGroupsForgotten);
  for (const source of sources) {
    if (source.opened) w.sample(M.routeGroupsForgotten, [source.model.netns], source.model.routeGroupsForgotten, source.model.createdAt);
  }
}

function exporter(w: ExpositionWriter, sources: readonly NamespaceSource[], options: CollectorOptions): void {
  // Compact sources (found by --netns.all) are summed under netns="*", with those gone.
  const sums = options.discovered?.sums(sources);
  for (const [def, counts] of [
    [M.messagesReceived, (s: { counters: { messagesReceived: Float64Array } }) => s.counters.messagesReceived],
    [M.dumpMessages, (s: { counters: { dumpMessages: Float64Array } }) => s.counters.dumpMessages],
  ] as const) {
    w.family(def);
    const each = (netns: string, values: Float64Array, unknownSeen: ArrayLike<number | undefined> | undefined, created: number): void => {
      for (let type = 0; type < values.length; type++) {
        const name = RTM_NAMES[type];
        // Known types always appear (at 0) so rates exist; unknown ones once they are seen.
        if (name !== undefined) w.sample(def, [netns, name], values[type] as number, created);
        else if (values[type]) w.sample(def, [netns, String(type)], values[type] as number, unknownSeen?.[type] ?? created);
      }
    };
    const kind = def === M.messagesReceived ? 0 : 1;
    for (const source of sources) if (!source.compact) each(source.model.netns, counts(source), source.counters.unknownTypeSeen[kind], source.model.createdAt);
    if (sums) each(DISCOVERED_NETNS, counts({ counters: sums }), undefined, options.discovered?.createdAt ?? 0);
  }
  // What an alert needs stays per namespace, compact ones included; the rest of theirs is summed.
  type Sum = (s: NonNullable<typeof sums>) => number;
  const perNamespace: [typeof M.socketOverruns, (s: NamespaceSource) => number, Sum | 'per-namespace' | undefined][] = [
    [M.socketOverruns, (s) => s.overruns, 'per-namespace'],
    [M.foreignRefused, (s) => s.foreignRefused, 'per-namespace'],
    [M.resyncs, (s) => s.resyncs, (t) => t.resyncs],
    [M.lastResync, (s) => s.lastResync, (t) => t.lastResync],
    [M.decodeErrors, (s) => s.counters.decodeErrors, (t) => t.decodeErrors],
    // Every socket asks for the same buffer with the same privileges: our own namespace's grant tells.
    [M.receiveBuffer, (s) => s.receiveBufferBytes, undefined],
    [M.eventQueueDepth, (s) => s.queueDepth, (t) => t.queueDepth],
    [M.seriesLimitDropped, (s) => s.model.seriesLimitDropped, (t) => t.seriesLimitDropped],
    [M.trackedInterfaces, (s) => s.model.trackedCount, (t) => t.trackedInterfaces],
    [M.namespaceReady, (s) => (s.ready ? 1 : 0), 'per-namespace'],
  ];
  for (const [def, read, sum] of perNamespace) {
    w.family(def);
    // Counters are born with the namespace's model (its socket opened): their `_created`.
    for (const source of sources) {
      if (source.compact && sum !== 'per-namespace') continue;
      if (source.opened || def === M.namespaceReady) w.sample(def, [source.model.netns], read(source), source.model.createdAt);
    }
    if (sums && typeof sum === 'function') w.sample(def, [DISCOVERED_NETNS], sum(sums), options.discovered?.createdAt);
  }
  // Announced always (the contract), with samples only when tracing is on.
  const tracing = options.tracing;
  w.family(M.traceSpansDropped);
  // Tracing starts with the process: its counters are born then.
  const processStart = performance.timeOrigin / 1000;
  if (tracing) {
    const dropped = tracing.dropped();
    for (const reason of DROP_REASONS) w.sample(M.traceSpansDropped, [reason], dropped[reason], processStart);
  }
  w.family(M.traceSpansExported);
  if (tracing) w.sample(M.traceSpansExported, [], tracing.exported(), processStart);
}

export const COLLECTORS: readonly [string, Collector][] = [
  ['interfaces', interfaces],
  ['addresses', addresses],
  ['routes', routes],
  ['vips', vips],
  ['neighbours', neighbours],
  ['exporter', exporter],
];

/**
 * Renders every collector, each guarded, then their success and duration, as a list of chunks
 * to write in order: the cached per-interface bytes go out as they are, never joined.
 */
export function renderNetlinkMetrics(
  sources: readonly NamespaceSource[],
  options: CollectorOptions,
  version: string,
  onError: (collector: string, err: Error) => void = () => undefined,
  collectors = COLLECTORS,
): Buffer[] {
  const chunks: Buffer[] = [];
  const results: [string, boolean, number][] = [];
  for (const [name, collect] of collectors) {
    const started = process.hrtime.bigint();
    const w = new ExpositionWriter(options.openMetrics);
    let ok = true;
    try {
      collect(w, sources, options);
      w.drainInto(chunks);
    } catch (err) {
      ok = false;
      onError(name, err as Error);
    }
    results.push([name, ok, Number(process.hrtime.bigint() - started) / 1e9]);
  }
  const w = new ExpositionWriter(options.openMetrics);
  w.family(M.collectorSuccess);
  for (const [name, ok] of results) w.sample(M.collectorSuccess, [name], ok ? 1 : 0);
  w.family(M.collectorDuration);
  for (const [name, , seconds] of results) w.sample(M.collectorDuration, [name], seconds);
  w.family(M.buildInfo);
  w.sample(M.buildInfo, [version, process.versions.node], 1);
  w.drainInto(chunks);
  return chunks;
}
