// The render loop of a scrape: one collector per part of the model, node_exporter style (each in
// its own file under collectors/), rendered in turn: each renders its families into its own
// buffer, so one that throws costs its own series only (netlink_collector_success 0), never the
// scrape.

import { METRICS as M } from './contract';
import { ExpositionWriter } from './writer';
import { addresses } from './collectors/addresses';
import { exporter } from './collectors/exporter';
import { interfaces } from './collectors/interfaces';
import { neighbours } from './collectors/neighbours';
import type { Collector, CollectorOptions } from './collectors/options';
import { routes } from './collectors/routes';
import { rules } from './collectors/rules';
import type { SampleSink } from './sink';
import type { NamespaceSource } from './source';
import { vips } from './collectors/vips';

export { collectorOptionsFrom } from './collectors/options';
export type { Collector, CollectorOptions } from './collectors/options';
export type { NamespaceSource } from './source';
export type { SampleSink } from './sink';

export const COLLECTORS: readonly [string, Collector][] = [
  ['interfaces', interfaces],
  ['addresses', addresses],
  ['routes', routes],
  ['rules', rules],
  ['vips', vips],
  ['neighbours', neighbours],
  ['exporter', exporter],
];

/**
 * Runs every collector into a sink of its own, each guarded, then writes their success and
 * duration and the build info into a last one. `open` makes a sink; `keep` takes a collector's
 * sink once it has run without throwing (a failed collector's samples are dropped whole).
 */
export function collectNetlinkSamples<S extends SampleSink>(
  sources: readonly NamespaceSource[],
  version: string,
  open: () => S,
  keep: (sink: S) => void,
  onError: (collector: string, err: Error) => void,
  options: CollectorOptions,
  collectors = COLLECTORS,
): void {
  const results: [string, boolean, number][] = [];
  for (const [name, collect] of collectors) {
    const started = process.hrtime.bigint();
    const w = open();
    let ok = true;
    try {
      collect(w, sources, options);
      keep(w);
    } catch (err) {
      ok = false;
      onError(name, err as Error);
    }
    results.push([name, ok, Number(process.hrtime.bigint() - started) / 1e9]);
  }
  const w = open();
  w.family(M.collectorSuccess);
  for (const [name, ok] of results) w.sample(M.collectorSuccess, [name], ok ? 1 : 0);
  w.family(M.collectorDuration);
  for (const [name, , seconds] of results) w.sample(M.collectorDuration, [name], seconds);
  w.family(M.buildInfo);
  w.sample(M.buildInfo, [version, process.versions.node], 1);
  keep(w);
}

/**
 * Renders every collector (collectNetlinkSamples) as a list of chunks to write in order: the
 * cached per-interface bytes go out as they are, never joined.
 */
export function renderNetlinkMetrics(
  sources: readonly NamespaceSource[],
  options: CollectorOptions,
  version: string,
  onError: (collector: string, err: Error) => void = () => undefined,
  collectors = COLLECTORS,
): Buffer[] {
  const chunks: Buffer[] = [];
  collectNetlinkSamples(
    sources,
    version,
    () => new ExpositionWriter(options.openMetrics),
    (w) => w.drainInto(chunks),
    onError,
    options,
    collectors,
  );
  return chunks;
}
