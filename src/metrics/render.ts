// The render loop of a scrape: one collector per part of the model, node_exporter style (each in
// its own file under collectors/), rendered in turn: each renders its families into its own
// buffer, so one that throws costs its own series only (netlink_collector_success 0), never the
// scrape.

import { METRICS as M } from './contract';
import { ExpositionWriter } from './writer';
import { addresses } from './collectors/addresses';
import { bonds } from './collectors/bonds';
import { bridgePorts } from './collectors/bridge-ports';
import { exporter } from './collectors/exporter';
import { interfaces } from './collectors/interfaces';
import { neighbours } from './collectors/neighbours';
import { netconf } from './collectors/netconf';
import type { Collector, CollectorOptions } from './collectors/options';
import { routes } from './collectors/routes';
import { rules } from './collectors/rules';
import { topology } from './collectors/topology';
import type { NamespaceSource } from './source';
import { vips } from './collectors/vips';

export { collectorOptionsFrom } from './collectors/options';
export type { Collector, CollectorOptions } from './collectors/options';
export type { NamespaceSource } from './source';

export const COLLECTORS: readonly [string, Collector][] = [
  ['interfaces', interfaces],
  ['topology', topology],
  ['addresses', addresses],
  ['routes', routes],
  ['rules', rules],
  ['bridge_ports', bridgePorts],
  ['vips', vips],
  ['neighbours', neighbours],
  ['bonds', bonds],
  ['netconf', netconf],
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
