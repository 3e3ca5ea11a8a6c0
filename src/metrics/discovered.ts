// Namespaces found only by --netns.all (a Kubernetes node's pods, containers) come and go by the
// hundred, and most of the exporter's own per-namespace series would read 0 in each of them for
// its whole life. Their self-metrics are therefore summed into one series per family, labelled
// netns="*"; per namespace stay only what an alert needs (netlink_namespace_ready,
// netlink_socket_overruns_total). A namespace that goes adds its counters to the retired sums
// first, so the netns="*" counters never go down.

import type { NamespaceSource } from './source';

/** The `netns` label of the sums of the namespaces found by --netns.all. */
export const DISCOVERED_NETNS = '*';

const TYPES = 256;

/** Counters of one namespace, or a sum of several. */
interface Counters {
  readonly messagesReceived: Float64Array;
  readonly dumpMessages: Float64Array;
  resyncs: number;
  decodeErrors: number;
  seriesLimitDropped: number;
  /** Seconds since the epoch, 0 if none. */
  lastResync: number;
}

function emptyCounters(): Counters {
  return {
    messagesReceived: new Float64Array(TYPES),
    dumpMessages: new Float64Array(TYPES),
    resyncs: 0,
    decodeErrors: 0,
    seriesLimitDropped: 0,
    lastResync: 0,
  };
}

function addSource(to: Counters, source: NamespaceSource): void {
  const { model, counters } = source;
  for (let type = 0; type < TYPES; type++) {
    to.messagesReceived[type] = (to.messagesReceived[type] as number) + (counters.messagesReceived[type] ?? 0);
    to.dumpMessages[type] = (to.dumpMessages[type] as number) + (counters.dumpMessages[type] ?? 0);
  }
  to.resyncs += source.resyncs;
  to.decodeErrors += counters.decodeErrors;
  to.seriesLimitDropped += model.seriesLimitDropped;
  to.lastResync = Math.max(to.lastResync, source.lastResync);
}

/** The netns="*" sums: what every namespace found by --netns.all counted, those gone included. */
export interface DiscoveredSums extends Counters {
  /** Of the namespaces watched now. */
  trackedInterfaces: number;
  queueDepth: number;
}

export class DiscoveredTotals {
  /** Whether --netns.all is on: then the sums are exported, at 0 before the first namespace. */
  enabled = false;
  /** Seconds since the epoch: the sums start at 0 with the process (their `_created`). */
  readonly createdAt = Date.now() / 1000;
  private readonly retired = emptyCounters();
  private readonly counted = new WeakSet<NamespaceSource>();
  private anyRetired = false;

  /** A compact source is no longer watched: its counters join the retired sums (once). */
  retire(source: NamespaceSource): void {
    if (!source.compact || this.counted.has(source)) return;
    this.counted.add(source);
    addSource(this.retired, source);
    this.anyRetired = true;
  }

  /** The sums over the compact sources watched now and those retired; undefined when there is nothing to export. */
  sums(sources: readonly NamespaceSource[]): DiscoveredSums | undefined {
    const live = sources.filter((s) => s.compact);
    if (!this.enabled && !this.anyRetired && live.length === 0) return undefined;
    const sums: DiscoveredSums = { ...emptyCounters(), trackedInterfaces: 0, queueDepth: 0 };
    sums.messagesReceived.set(this.retired.messagesReceived);
    sums.dumpMessages.set(this.retired.dumpMessages);
    sums.resyncs = this.retired.resyncs;
    sums.decodeErrors = this.retired.decodeErrors;
    sums.seriesLimitDropped = this.retired.seriesLimitDropped;
    sums.lastResync = this.retired.lastResync;
    for (const source of live) {
      addSource(sums, source);
      sums.trackedInterfaces += source.model.trackedCount;
      sums.queueDepth += source.queueDepth;
    }
    return sums;
  }
}
