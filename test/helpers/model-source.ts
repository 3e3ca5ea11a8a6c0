// Small builders for the unit tests that feed a model by hand and render it: an interface that
// is up with its carrier, and the read-only view the metrics take of one namespace.

import type { NamespaceSource } from '../../src/metrics/source';
import { IFF_LOWER_UP, IFF_UP, RTM_NEWLINK } from '../../src/netlink/constants';
import type { LinkMessage } from '../../src/netlink/types';
import { SessionCounters } from '../../src/session/session-counters';
import type { NamespaceModel } from '../../src/state/model';

/** An RTM_NEWLINK (or `type`) of an interface that is up, with its carrier and no carrier loss yet. */
export function upLink(ifindex: number, name: string, type = RTM_NEWLINK): LinkMessage {
  return {
    flags: 0,
    seq: 0,
    pid: 0,
    type,
    family: 0,
    deviceType: 1,
    ifindex,
    ifFlags: IFF_UP | IFF_LOWER_UP,
    change: 0,
    name,
    mtu: 1500,
    operstate: 6,
    carrier: 1,
    carrierChanges: 1,
    carrierUpCount: 1,
    carrierDownCount: 0,
  };
}

/** What the metrics read of a namespace whose socket is open and ready and has lost nothing. */
export function namespaceSource(
  model: NamespaceModel,
  more: Partial<Omit<NamespaceSource, 'model'>> = {},
): NamespaceSource {
  return {
    model,
    counters: new SessionCounters(),
    overruns: 0,
    foreignRefused: 0,
    resyncs: 0,
    lastResync: 0,
    receiveBufferBytes: 1 << 20,
    queueDepth: 0,
    ready: true,
    opened: true,
    ...more,
  };
}
