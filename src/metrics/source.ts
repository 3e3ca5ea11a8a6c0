// What the metrics read of one watched namespace: a read-only view that main.ts assembles from
// the session (src/session/watcher.ts: its socket's counters and state) and the model it feeds
// (src/state/model.ts). Declared here, by its reader, so that neither the session nor the model
// knows the metrics.

import type { MessageCounts } from '../session/session-counters';
import type { NamespaceModel } from '../state/model';

/** What the metrics read of one watched namespace. */
export interface NamespaceSource {
  readonly model: NamespaceModel;
  /** The session's message counters (by type, notifications apart from dump replies) and decode errors. */
  readonly counters: MessageCounts;
  readonly overruns: number;
  /** Datagrams refused because their sender was not the kernel. */
  readonly foreignRefused: number;
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
  /**
   * Compact series: a namespace found only by --netns.all (pods come and go by the hundred).
   * Its change counters that are still 0 have no series yet (each is born at its first change),
   * and its self-metrics other than ready and overruns are summed under netns="*" (discovered.ts).
   */
  readonly compact?: boolean;
}
