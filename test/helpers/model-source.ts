// Small builders for the unit tests that feed a model by hand and render it: an interface that
// is up with its carrier, a pod's namespace with its two interfaces, and the read-only view the
// metrics take of one namespace.

import type { NamespaceSource } from '../../src/metrics/source';
import { IFF_LOWER_UP, IFF_UP, RTM_NEWLINK, RTM_NEWNETCONF } from '../../src/netlink/constants';
import type { LinkMessage, NetconfMessage } from '../../src/netlink/types';
import { MessageDispatch } from '../../src/session/dispatch';
import { SessionCounters } from '../../src/session/session-counters';
import { NamespaceModel } from '../../src/state/model';

/** An RTM_NEWLINK (or `type`) of an interface that is up, with its carrier and no carrier loss yet. */
/** An RTM_NEWNETCONF (or the `type` given) of one family and ifindex (-1 all, -2 default), carrying `values`. */
export function netconfMessage(
  family: number,
  ifindex: number,
  values: Partial<NetconfMessage> = {},
  type = RTM_NEWNETCONF,
): NetconfMessage {
  return {
    type,
    flags: 0,
    seq: 0,
    pid: 0,
    family,
    ifindex,
    forwarding: undefined,
    rpFilter: undefined,
    mcForwarding: undefined,
    proxyNeigh: undefined,
    ignoreRoutesWithLinkdown: undefined,
    input: undefined,
    bcForwarding: undefined,
    ...values,
  };
}

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

/**
 * A pod's namespace at a fixed clock: its model, fed its two links (lo, eth0) through the
 * session's side (which counts them), and that session to feed it more. Close `model` when done.
 */
export function podNamespace(netns: string): {
  model: NamespaceModel;
  counters: SessionCounters;
  session: MessageDispatch;
} {
  const model = new NamespaceModel({
    netns,
    include: /^.*$/,
    exclude: undefined,
    maxTracked: 100,
    now: () => 1_000_000,
  });
  const session = new MessageDispatch(new SessionCounters(() => 1_000_000), model);
  session.link(upLink(1, 'lo'));
  session.link(upLink(2, 'eth0'));
  return { model, counters: session.counters, session };
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
