// One collector per part of the model, node_exporter style: each renders its families into its
// own buffer, so one that throws costs its own series only (netlink_collector_success 0), never
// the scrape.

import { IFF_UP, OPERSTATE_NAMES, RTM_NAMES } from '../netlink/constants';
import { isLinkLocal, scopeName } from '../state/addresses';
import { isOperUp, LinkRecord } from '../state/links';
import { NamespaceModel, protocolName, tableName } from '../state/model';
import { NEIGHBOUR_ACTIONS } from '../state/neighbours';
import { ROUTE_ACTIONS, splitGroupKey } from '../state/routes';
import type { VipState } from '../state/vips';
import type { Exemplar, ExemplarLookup } from '../tracing/exemplars';
import { DROP_REASONS, TraceStats } from '../tracing/stats';
import { Family, METRICS as M } from './contract';
import { formatExemplar } from './openmetrics';
import { escapeLabelValue, ExpositionWriter, formatValue } from './writer';

/** What the metrics read of one watched namespace. */
export interface NamespaceSource {
  readonly model: NamespaceModel;
  readonly overruns: number;
  readonly resyncs: number;
  /** Seconds since the epoch, 0 if none. */
  readonly lastResync: number;
  readonly receiveBufferBytes: number;
  readonly queueDepth: number;
  readonly ready: boolean;
  /**
   * Whether its socket was ever opened. A configured namespace that is absent (not created yet,
   * or deleted) is listed for netlink_namespace_ready 0 alone: zeros for its socket's counters
   * would claim a socket that does not exist.
   */
  readonly opened: boolean;
}

export interface CollectorOptions {
  addressInfo: boolean;
  addressInfoLinkLocal: boolean;
  /** Seconds a deleted interface's series stay. */
  deletedGracePeriod: number;
  /** Write OpenMetrics 1.0 (HELP/TYPE lines, exemplars); the caller appends `# EOF`. */
  openMetrics?: boolean;
  /** Trace ids for exemplars on the flap and address-change counters (OpenMetrics only). */
  exemplars?: ExemplarLookup;
  /** Present when tracing is on: netlink_trace_spans_*_total get samples. */
  tracing?: TraceStats;
}

type Collector = (w: ExpositionWriter, sources: readonly NamespaceSource[], options: CollectorOptions) => void;


/** Links with series: tracked live ones, then deleted ones still in their grace period. */
function* seriesLinks(model: NamespaceModel): Generator<LinkRecord> {
  for (const link of model.links.values()) if (link.tracked) yield link;
  yield* model.deletedLinks;
}

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
/** Where each family's lines sit in a link's cached text. */
const INFO = PER_LINK.length;
const ADDRESSES = INFO + 1;
const ADDRESS_CHANGES = INFO + 2;
const DAD_FAILURES = INFO + 3;
const NEIGHBOUR_CHANGES = INFO + 4;

/**
 * A link's series as exposition text, one string per family, rebuilt only when the link
 * changes (its version moves): a scrape of thousands of interfaces joins ready strings instead
 * of escaping and formatting every series again.
 */
const textCache = new WeakMap<LinkRecord, { version: number; netns: string; lines: Buffer[] }>();

function linkText(netns: string, link: LinkRecord): Buffer[] {
  const cached = textCache.get(link);
  if (cached && cached.version === link.version && cached.netns === netns) return cached.lines;
  const labels = `netns="${escapeLabelValue(netns)}",interface="${escapeLabelValue(link.name)}"`;
  const lines = PER_LINK.map(([def, read]) => {
    const value = read(link);
    return value === undefined ? '' : `${def.name}{${labels}} ${formatValue(value)}\n`;
  });
  const oper = link.deletedAt === undefined ? (OPERSTATE_NAMES[link.operstate] ?? String(link.operstate)) : 'deleted';
  lines[INFO] = `${M.interfaceInfo.name}{${labels},ifindex="${link.ifindex}",kind="${escapeLabelValue(link.kind)}",mac="${escapeLabelValue(link.mac)}",operstate="${oper}"} 1\n`;
  const held = M.interfaceAddresses.name;
  lines[ADDRESSES] = `${held}{${labels},family="inet"} ${link.addresses[0]}\n${held}{${labels},family="inet6"} ${link.addresses[1]}\n`;
  // Every interface gets all four counters from the start, so rates exist before the first change.
  const changes = M.addressChanges.name;
  const [inet, inet6] = link.addressChanges;
  lines[ADDRESS_CHANGES] =
    `${changes}{${labels},family="inet",action="added"} ${inet[0]}\n${changes}{${labels},family="inet",action="removed"} ${inet[1]}\n` +
    `${changes}{${labels},family="inet6",action="added"} ${inet6[0]}\n${changes}{${labels},family="inet6",action="removed"} ${inet6[1]}\n`;
  lines[DAD_FAILURES] = `${M.dadFailures.name}{${labels}} ${link.dadFailures}\n`;
  let neighbourLines = '';
  link.neighbourChanges.forEach((counts, i) => {
    const family = i === 0 ? 'inet' : 'inet6';
    NEIGHBOUR_ACTIONS.forEach((action, a) => {
      neighbourLines += `${M.neighbourChanges.name}{${labels},family="${family}",action="${action}"} ${counts[a]}\n`;
    });
  });
  lines[NEIGHBOUR_CHANGES] = neighbourLines;
  // Kept as bytes: a scrape copies them into its response, with no string join or encoding.
  const bytes = lines.map((line) => Buffer.from(line));
  textCache.set(link, { version: link.version, netns, lines: bytes });
  return bytes;
}

function linkTexts(sources: readonly NamespaceSource[]): Buffer[][] {
  const texts: Buffer[][] = [];
  for (const source of sources) for (const link of seriesLinks(source.model)) texts.push(linkText(source.model.netns, link));
  return texts;
}

function familyOfLinks(w: ExpositionWriter, def: Family, texts: readonly Buffer[][], at: number): void {
  w.family(def);
  for (const lines of texts) w.raw(lines[at] as Buffer);
}

/** A cached sample line with an exemplar appended (OpenMetrics). */
function withExemplar(line: string, exemplar: Exemplar | undefined): string {
  return exemplar ? `${line}${formatExemplar(exemplar)}` : line;
}

/** netlink_interface_flaps_total, with the exemplar of the outage span that last moved it. */
function flapsWithExemplars(w: ExpositionWriter, sources: readonly NamespaceSource[], at: number, lookup: ExemplarLookup): void {
  w.family(M.interfaceFlaps);
  for (const source of sources) {
    const netns = source.model.netns;
    for (const link of seriesLinks(source.model)) {
      const cached = linkText(netns, link)[at] as Buffer;
      const exemplar = lookup.flap(netns, link.ifindex);
      if (!exemplar || cached.length === 0) w.raw(cached);
      else w.raw(`${withExemplar(cached.toString().slice(0, -1), exemplar)}\n`);
    }
  }
}

const ADDRESS_SERIES = [
  ['inet', 'added'],
  ['inet', 'removed'],
  ['inet6', 'added'],
  ['inet6', 'removed'],
] as const;

/** netlink_address_changes_total (four lines a link, in ADDRESS_SERIES order), with exemplars. */
function addressChangesWithExemplars(w: ExpositionWriter, sources: readonly NamespaceSource[], lookup: ExemplarLookup): void {
  w.family(M.addressChanges);
  for (const source of sources) {
    const netns = source.model.netns;
    for (const link of seriesLinks(source.model)) {
      const cached = linkText(netns, link)[ADDRESS_CHANGES] as Buffer;
      const exemplars = ADDRESS_SERIES.map(([family, action]) => lookup.addressChange(netns, link.ifindex, family, action));
      if (exemplars.every((e) => e === undefined)) {
        w.raw(cached);
        continue;
      }
      const series = cached.toString().split('\n');
      w.raw(`${series.slice(0, ADDRESS_SERIES.length).map((line, i) => withExemplar(line, exemplars[i])).join('\n')}\n`);
    }
  }
}

function interfaces(w: ExpositionWriter, sources: readonly NamespaceSource[], options: CollectorOptions): void {
  const texts = linkTexts(sources);
  const exemplars = w.openMetrics ? options.exemplars : undefined;
  PER_LINK.forEach(([def], at) => {
    if (exemplars && def === M.interfaceFlaps) flapsWithExemplars(w, sources, at, exemplars);
    else familyOfLinks(w, def, texts, at);
  });
  familyOfLinks(w, M.interfaceInfo, texts, INFO);
}

function addresses(w: ExpositionWriter, sources: readonly NamespaceSource[], options: CollectorOptions): void {
  const texts = linkTexts(sources);
  familyOfLinks(w, M.interfaceAddresses, texts, ADDRESSES);
  if (w.openMetrics && options.exemplars) addressChangesWithExemplars(w, sources, options.exemplars);
  else familyOfLinks(w, M.addressChanges, texts, ADDRESS_CHANGES);
  familyOfLinks(w, M.dadFailures, texts, DAD_FAILURES);
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
    w.sample(M.vipTransitions, [netns, vip.config.address, vip.config.name, 'acquired'], vip.acquired);
    w.sample(M.vipTransitions, [netns, vip.config.address, vip.config.name, 'released'], vip.released);
  });
  w.family(M.vipMacChanges);
  each((netns, vip) => w.sample(M.vipMacChanges, [netns, vip.config.address, vip.config.name], vip.macChanges));
}

function neighbours(w: ExpositionWriter, sources: readonly NamespaceSource[]): void {
  familyOfLinks(w, M.neighbourChanges, linkTexts(sources), NEIGHBOUR_CHANGES);
  w.family(M.neighbours);
  for (const source of sources) {
    w.sample(M.neighbours, [source.model.netns, 'inet'], source.model.neighbourCounts[0]);
    w.sample(M.neighbours, [source.model.netns, 'inet6'], source.model.neighbourCounts[1]);
  }
  for (const [def, values] of [
    [M.neighbourLimit, (m: NamespaceModel) => m.neighbourLimits],
    [M.neighbourTableEntries, (m: NamespaceModel) => m.neighbourTableEntries],
  ] as const) {
    w.family(def);
    for (const source of sources) {
      for (const [fam, value] of values(source.model)) w.sample(def, [source.model.netns, fam === 0 ? 'inet' : 'inet6'], value);
    }
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
      ROUTE_ACTIONS.forEach((action, i) => w.sample(M.routeChanges, [...labels, action], counts[i] as number));
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
      w.sample(M.defaultRouteChanges, [source.model.netns, tableName(table), family === 2 ? 'inet' : 'inet6'], count);
    }
  }
}

function exporter(w: ExpositionWriter, sources: readonly NamespaceSource[], options: CollectorOptions): void {
  for (const [def, counts] of [
    [M.messagesReceived, (s: NamespaceSource) => s.model.messagesReceived],
    [M.dumpMessages, (s: NamespaceSource) => s.model.dumpMessages],
  ] as const) {
    w.family(def);
    for (const source of sources) {
      const values = counts(source);
      for (let type = 0; type < values.length; type++) {
        const name = RTM_NAMES[type];
        // Known types always appear (at 0) so rates exist; unknown ones once they are seen.
        if (name !== undefined || values[type]) w.sample(def, [source.model.netns, name ?? String(type)], values[type] as number);
      }
    }
  }
  const perNamespace: [typeof M.socketOverruns, (s: NamespaceSource) => number][] = [
    [M.socketOverruns, (s) => s.overruns],
    [M.resyncs, (s) => s.resyncs],
    [M.lastResync, (s) => s.lastResync],
    [M.decodeErrors, (s) => s.model.decodeErrors],
    [M.receiveBuffer, (s) => s.receiveBufferBytes],
    [M.eventQueueDepth, (s) => s.queueDepth],
    [M.seriesLimitDropped, (s) => s.model.seriesLimitDropped],
    [M.trackedInterfaces, (s) => s.model.trackedCount],
    [M.namespaceReady, (s) => (s.ready ? 1 : 0)],
  ];
  for (const [def, read] of perNamespace) {
    w.family(def);
    for (const source of sources) if (source.opened || def === M.namespaceReady) w.sample(def, [source.model.netns], read(source));
  }
  // Announced always (the contract), with samples only when tracing is on.
  const tracing = options.tracing;
  w.family(M.traceSpansDropped);
  if (tracing) {
    const dropped = tracing.dropped();
    for (const reason of DROP_REASONS) w.sample(M.traceSpansDropped, [reason], dropped[reason]);
  }
  w.family(M.traceSpansExported);
  if (tracing) w.sample(M.traceSpansExported, [], tracing.exported());
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
  for (const source of sources) source.model.expireDeleted(options.deletedGracePeriod);
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
