// One collector per part of the model, node_exporter style: each renders its families into its
// own buffer, so one that throws costs its own series only (netlink_collector_success 0), never
// the scrape.

import { RTM_NAMES } from '../netlink/constants';
import { isLinkLocal, scopeName } from '../state/addresses';
import { isOperUp, LinkRecord } from '../state/links';
import { NamespaceModel, protocolName, tableName } from '../state/model';
import { ROUTE_ACTIONS, splitGroupKey } from '../state/routes';
import { METRICS as M } from './contract';
import { ExpositionWriter } from './writer';
import { IFF_UP } from '../netlink/constants';

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
}

export interface CollectorOptions {
  addressInfo: boolean;
  addressInfoLinkLocal: boolean;
  /** Seconds a deleted interface's series stay. */
  deletedGracePeriod: number;
}

type Collector = (w: ExpositionWriter, sources: readonly NamespaceSource[], options: CollectorOptions) => void;

const FAMILIES = ['inet', 'inet6'] as const;
const ADDRESS_ACTIONS = ['added', 'removed'] as const;

/** Links with series: tracked live ones, then deleted ones still in their grace period. */
function* seriesLinks(model: NamespaceModel): Generator<LinkRecord> {
  for (const link of model.links.values()) if (link.tracked) yield link;
  yield* model.deletedLinks;
}

function interfaces(w: ExpositionWriter, sources: readonly NamespaceSource[]): void {
  // Label pairs per link are built once and reused by every family.
  const rows: { netns: string; link: LinkRecord }[] = [];
  for (const source of sources) for (const link of seriesLinks(source.model)) rows.push({ netns: source.model.netns, link });

  const perLink: [typeof M.interfaceUp, (l: LinkRecord) => number | undefined][] = [
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
  for (const [def, read] of perLink) {
    w.family(def);
    for (const { netns, link } of rows) {
      const value = read(link);
      if (value !== undefined) w.sample(def, [netns, link.name], value);
    }
  }
  w.family(M.interfaceInfo);
  for (const { netns, link } of rows) {
    const oper = link.deletedAt === undefined ? operName(link) : 'deleted';
    w.sample(M.interfaceInfo, [netns, link.name, String(link.ifindex), link.kind, link.mac, oper], 1);
  }
}

function operName(link: LinkRecord): string {
  return ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'][link.operstate] ?? String(link.operstate);
}

function addresses(w: ExpositionWriter, sources: readonly NamespaceSource[], options: CollectorOptions): void {
  w.family(M.interfaceAddresses);
  for (const source of sources) {
    for (const link of seriesLinks(source.model)) {
      FAMILIES.forEach((family, i) => w.sample(M.interfaceAddresses, [source.model.netns, link.name, family], link.addresses[i as 0 | 1]));
    }
  }
  // Every interface gets all four counters from the start, so rates exist before the first change.
  w.family(M.addressChanges);
  for (const source of sources) {
    for (const link of seriesLinks(source.model)) {
      FAMILIES.forEach((family, i) =>
        ADDRESS_ACTIONS.forEach((action, a) => w.sample(M.addressChanges, [source.model.netns, link.name, family, action], link.addressChanges[i as 0 | 1][a as 0 | 1])),
      );
    }
  }
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

function exporter(w: ExpositionWriter, sources: readonly NamespaceSource[]): void {
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
    for (const source of sources) w.sample(def, [source.model.netns], read(source));
  }
}

export const COLLECTORS: readonly [string, Collector][] = [
  ['interfaces', interfaces],
  ['addresses', addresses],
  ['routes', routes],
  ['exporter', exporter],
];

/** Renders every collector, each guarded, then their success and duration. */
export function renderNetlinkMetrics(
  sources: readonly NamespaceSource[],
  options: CollectorOptions,
  version: string,
  onError: (collector: string, err: Error) => void = () => undefined,
  collectors = COLLECTORS,
): string {
  const parts: string[] = [];
  const results: [string, boolean, number][] = [];
  for (const source of sources) source.model.expireDeleted(options.deletedGracePeriod);
  for (const [name, collect] of collectors) {
    const started = process.hrtime.bigint();
    const w = new ExpositionWriter();
    let ok = true;
    try {
      collect(w, sources, options);
      parts.push(w.text());
    } catch (err) {
      ok = false;
      onError(name, err as Error);
    }
    results.push([name, ok, Number(process.hrtime.bigint() - started) / 1e9]);
  }
  const w = new ExpositionWriter();
  w.family(M.collectorSuccess);
  for (const [name, ok] of results) w.sample(M.collectorSuccess, [name], ok ? 1 : 0);
  w.family(M.collectorDuration);
  for (const [name, , seconds] of results) w.sample(M.collectorDuration, [name], seconds);
  w.family(M.buildInfo);
  w.sample(M.buildInfo, [version, process.versions.node], 1);
  parts.push(w.text());
  return parts.join('');
}
