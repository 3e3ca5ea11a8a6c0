// The exporter's own families: messages, overruns, resyncs, decode errors, the socket, the
// series cap, namespace readiness and tracing's span counters.

import { RTM_NAMES } from '../../netlink/constants';
import { DROP_REASONS, SIGNAL_NAMES } from '../../tracing/stats';
import { METRICS as M } from '../contract';
import { DISCOVERED_NETNS } from '../discovered';
import type { SampleSink } from '../sink';
import type { CollectorOptions } from './options';
import type { NamespaceSource } from '../source';

export function exporter(w: SampleSink, sources: readonly NamespaceSource[], options: CollectorOptions): void {
  // Compact sources (found by --netns.all) are summed under netns="*", with those gone.
  const sums = options.discovered?.sums(sources);
  for (const [def, counts] of [
    [M.messagesReceived, (s: { counters: { messagesReceived: Float64Array } }) => s.counters.messagesReceived],
    [M.dumpMessages, (s: { counters: { dumpMessages: Float64Array } }) => s.counters.dumpMessages],
  ] as const) {
    w.family(def);
    const each = (
      netns: string,
      values: Float64Array,
      unknownSeen: ArrayLike<number | undefined> | undefined,
      created: number,
    ): void => {
      for (let type = 0; type < values.length; type++) {
        const name = RTM_NAMES[type];
        // Known types always appear (at 0) so rates exist; unknown ones once they are seen.
        if (name !== undefined) w.sample(def, [netns, name], values[type] as number, created);
        else if (values[type])
          w.sample(def, [netns, String(type)], values[type] as number, unknownSeen?.[type] ?? created);
      }
    };
    const kind = def === M.messagesReceived ? 0 : 1;
    for (const source of sources)
      if (!source.compact)
        each(source.model.netns, counts(source), source.counters.unknownTypeSeen[kind], source.model.createdAt);
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
      if (source.opened || def === M.namespaceReady)
        w.sample(def, [source.model.netns], read(source), source.model.createdAt);
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
  // The same per signal, for each one that is on.
  const signals = options.signals;
  w.family(M.otelDropped);
  if (signals)
    for (const signal of SIGNAL_NAMES) {
      const stats = signals[signal];
      if (!stats) continue;
      const dropped = stats.dropped();
      for (const reason of DROP_REASONS) w.sample(M.otelDropped, [signal, reason], dropped[reason], processStart);
    }
  w.family(M.otelExported);
  if (signals)
    for (const signal of SIGNAL_NAMES) {
      const stats = signals[signal];
      if (stats) w.sample(M.otelExported, [signal], stats.exported(), processStart);
    }
}
